package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/dbadmin"
)

const dbAccessAbout = `
Give an app user a personal PostgreSQL login (the psql door), or take it
away; make or drop reporting logins (the reporting door). A personal login
sees exactly what the user sees over REST: the same row-level security
policies apply, and setting app.user_id changes nothing.

  grant  --user USERNAME --role LOGINROLE [--password-stdin] [--replace]
         Creates LOGINROLE (LOGIN, member of healthcare_user and nothing
         else) when it does not exist, and links it to USERNAME. An
         existing role is linked only when it is exactly that: no
         superuser, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS, no
         membership in any other role (pg_* roles included), no members,
         nothing owned and no privilege granted to it by name. A user who
         already has another login is refused unless --replace is given,
         which drops the old login. The password, if given, is sent as a
         SCRAM verifier, never in clear.
  revoke --user USERNAME [--drop-role]
         Unlinks the user's login and takes healthcare_user from it;
         --drop-role drops the role instead. Earlier logins of the user
         whose link was replaced are treated the same way.
  grant-reporting  --role LOGINROLE [--password-stdin]
         Creates LOGINROLE as a member of healthcare_reporting and nothing
         else (an existing role: checked as above), for BI tools.
  revoke-reporting --role LOGINROLE
         Drops that reporting login.
  grant-auditor  --role LOGINROLE [--password-stdin]
         Creates LOGINROLE as a member of healthcare_auditor and nothing
         else: it reads the whole audit trail (schema audit) and no record.
  revoke-auditor --role LOGINROLE
         Drops that audit login.

Every login made here gets statement_timeout, lock_timeout and
idle_in_transaction_session_timeout from HUMAN_STATEMENT_TIMEOUT,
HUMAN_LOCK_TIMEOUT and HUMAN_IDLE_IN_TRANSACTION_TIMEOUT (30s, 2s, 60s).

Uses the privileged connection (--database-url or MIGRATION_DATABASE_URL,
else the cluster of a "healthcare dev" running from this folder). Flags may
come before or after the action.`

var dbAccessActions = []string{"grant", "revoke", "grant-reporting", "revoke-reporting", "grant-auditor", "revoke-auditor"}

func runDBAccess(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	want := strings.Join(dbAccessActions, ", ")
	// The action may come before or after the flags.
	action, args := takeAction(args, dbAccessActions)
	if action == "" {
		fs := newFlagSet("db-access", strings.Join(dbAccessActions, "|")+" [flags]", dbAccessAbout, stderr)
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return usagef("db-access: unknown action %q (want %s)", fs.Arg(0), want)
		}
		fs.Usage()
		return usagef("db-access: say grant or revoke (or %s)", strings.Join(dbAccessActions[2:], ", "))
	}
	personal := action == "grant" || action == "revoke"
	granting := strings.HasPrefix(action, "grant")
	fs := newFlagSet("db-access "+action, "[flags]", dbAccessAbout, stderr)
	// Each action declares only the flags it reads.
	user, role := new(string), new(string)
	pwStdin, replace, dropRole := new(bool), new(bool), new(bool)
	if personal {
		user = fs.String("user", "", "app username (required)")
	}
	if action != "revoke" {
		role = fs.String("role", "", "PostgreSQL login role (required)")
	}
	if granting {
		pwStdin = fs.Bool("password-stdin", false, "read the login's password from the first line of stdin")
	}
	switch action {
	case "grant":
		replace = fs.Bool("replace", false, "link the role even though the user has another login, and drop that one")
	case "revoke":
		dropRole = fs.Bool("drop-role", false, "drop the login role instead of only taking healthcare_user from it")
	}
	dbURL := fs.String("database-url", "", "privileged database connection (default MIGRATION_DATABASE_URL, else a running dev cluster)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("db-access %s: unexpected argument %q", action, fs.Arg(0))
	}
	if personal && *user == "" {
		return usagef("db-access %s: --user is required", action)
	}
	if action != "revoke" && *role == "" {
		return usagef("db-access %s: --role is required", action)
	}
	tools, err := loadTools(ctx, *dbURL, getenv, stderr)
	if err != nil {
		return err
	}
	password := ""
	if *pwStdin {
		if password, err = readLine(bufio.NewReader(stdin)); err != nil {
			return fmt.Errorf("read password from stdin: %w", err)
		}
		if password == "" {
			return fmt.Errorf("db-access %s: empty password on stdin", action)
		}
	}
	conn, err := pgx.Connect(ctx, tools.MigrationDatabaseURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	limits := dbadmin.HumanLimits(tools)

	switch action {
	case "grant":
		g, err := dbadmin.GrantAccess(ctx, conn, dbadmin.Grant{User: *user, Role: *role, Password: password, Replace: *replace, Limits: limits})
		if errors.Is(err, dbadmin.ErrAlreadyLinked) {
			return fmt.Errorf("%w (db-access grant --replace does that)", err)
		}
		if err != nil {
			return err
		}
		verb := "linked existing login"
		if g.Created {
			verb = "created login"
		}
		fmt.Fprintf(stdout, "%s %s for user %s\n", verb, *role, *user)
		if g.Replaced != "" {
			fmt.Fprintf(stdout, "dropped the replaced login %s\n", g.Replaced)
		}
	case "revoke":
		r, err := dbadmin.RevokeAccess(ctx, conn, *user, *dropRole)
		if err != nil {
			return err
		}
		done := "unlinked login %s from user %s; it is no longer in " + dbadmin.UserGroup + "\n"
		if *dropRole {
			done = "unlinked and dropped login %s of user %s\n"
		}
		if r.Login != "" {
			fmt.Fprintf(stdout, done, r.Login, *user)
		}
		for _, old := range r.Earlier {
			fmt.Fprintf(stdout, "earlier login: "+done, old, *user)
		}
	case "grant-reporting":
		created, err := dbadmin.GrantReporting(ctx, conn, *role, password, limits)
		if err != nil {
			return err
		}
		verb := "updated reporting login"
		if created {
			verb = "created reporting login"
		}
		fmt.Fprintf(stdout, "%s %s\n", verb, *role)
	case "revoke-reporting":
		if err := dbadmin.RevokeReporting(ctx, conn, *role); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "dropped reporting login %s\n", *role)
	case "grant-auditor":
		created, err := dbadmin.GrantAuditor(ctx, conn, *role, password, limits)
		if err != nil {
			return err
		}
		verb := "updated audit login"
		if created {
			verb = "created audit login"
		}
		fmt.Fprintf(stdout, "%s %s\n", verb, *role)
	case "revoke-auditor":
		if err := dbadmin.RevokeAuditor(ctx, conn, *role); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "dropped audit login %s\n", *role)
	}
	return nil
}
