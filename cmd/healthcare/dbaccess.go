package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/dbadmin"
)

const dbAccessAbout = `
Give an app user a personal PostgreSQL login (the psql door), or take it
away. The login sees exactly what the user sees over REST: the same
row-level security policies apply, and setting app.user_id changes nothing.

  grant  --user USERNAME --role LOGINROLE [--password-stdin]
         Creates LOGINROLE (LOGIN, member of healthcare_user and nothing
         else) when it does not exist, and links it to USERNAME. The
         password, if given, is sent as a SCRAM verifier, never in clear.
  revoke --user USERNAME [--drop-role]
         Unlinks the user's login; --drop-role also drops the role.

Uses the privileged connection (--database-url or MIGRATION_DATABASE_URL,
else the cluster of a "healthcare dev" running from this folder). Flags may
come before or after the action.`

func runDBAccess(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	// The action may come before or after the flags.
	name := "db-access"
	for _, a := range args {
		if a == "grant" || a == "revoke" {
			name += " " + a
			break
		}
	}
	fs := newFlagSet(name, "grant|revoke [flags]", dbAccessAbout, stderr)
	user := fs.String("user", "", "app username (required)")
	role := fs.String("role", "", "PostgreSQL login role to create or link (grant; required)")
	pwStdin := fs.Bool("password-stdin", false, "grant: read the login's password from the first line of stdin")
	dropRole := fs.Bool("drop-role", false, "revoke: also drop the login role")
	dbURL := fs.String("database-url", "", "privileged database connection (default MIGRATION_DATABASE_URL, else a running dev cluster)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usagef("db-access: say grant or revoke")
	}
	action := fs.Arg(0)
	switch action {
	case "grant", "revoke":
	default:
		return usagef("db-access: unknown action %q (want grant or revoke)", action)
	}
	if fs.NArg() > 1 {
		return usagef("db-access %s: unexpected argument %q", action, fs.Arg(1))
	}
	if *user == "" {
		return usagef("db-access %s: --user is required", action)
	}
	if action == "grant" && *role == "" {
		return usagef("db-access grant: --role is required")
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
			return errors.New("db-access grant: empty password on stdin")
		}
	}
	conn, err := pgx.Connect(ctx, tools.MigrationDatabaseURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	if action == "grant" {
		created, err := dbadmin.GrantAccess(ctx, conn, *user, *role, password)
		if err != nil {
			return err
		}
		verb := "linked existing login"
		if created {
			verb = "created login"
		}
		fmt.Fprintf(stdout, "%s %s for user %s\n", verb, *role, *user)
		return nil
	}
	old, err := dbadmin.RevokeAccess(ctx, conn, *user, *dropRole)
	if err != nil {
		return err
	}
	if *dropRole {
		fmt.Fprintf(stdout, "unlinked and dropped login %s of user %s\n", old, *user)
	} else {
		fmt.Fprintf(stdout, "unlinked login %s from user %s\n", old, *user)
	}
	return nil
}
