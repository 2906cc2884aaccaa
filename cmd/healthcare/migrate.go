package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/config"
	"healthcare/internal/database"
	"healthcare/internal/dbadmin"
)

const migrateAbout = `
Apply the migrations embedded in this binary (the files of sql/migrations),
or show where the database stands. The version is recorded in
public.healthcare_schema_version, the same table tern.conf names, so the tern CLI and
this command agree.

  up       apply every migration not yet applied (also what "migrate"
           alone does)
  status   print the applied and the latest version
  to N     migrate up or down to version N (0 removes everything)

Migrations create roles and objects, so they need the privileged
connection: --database-url or MIGRATION_DATABASE_URL (a superuser, or a
CREATEROLE role that is a member of healthcare_owner), or, when neither is
set, the cluster of a "healthcare dev" running from this folder. The
server's own DATABASE_URL is never used here. Flags may come before or
after the action.

--runtime-role NAME (with up) also creates the server's login role, a plain
member of healthcare_api, with the password in DB_PASSWORD.`

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", "[--database-url URL] [--runtime-role NAME] [up | status | to N]", migrateAbout, stderr)
	dbURL := fs.String("database-url", "", "privileged database connection (default MIGRATION_DATABASE_URL)")
	runtimeRole := fs.String("runtime-role", "", "after up: create or update this LOGIN role as a plain member of "+dbadmin.APIGroup+", "+
		"with the password in DB_PASSWORD (for docker-compose and first deployments)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		rest = []string{"up"} // as manage.py migrate does
	}
	var target int32 = -1
	switch rest[0] {
	case "up", "status":
		if len(rest) != 1 {
			return usagef("migrate %s: unexpected argument %q", rest[0], rest[1])
		}
	case "to":
		if len(rest) != 2 {
			return usagef("migrate to: want exactly one version number")
		}
		n, err := strconv.ParseInt(rest[1], 10, 32)
		if err != nil || n < 0 {
			return usagef("migrate to: %q is not a version number", rest[1])
		}
		target = int32(n)
	default:
		return usagef("migrate: unknown action %q (want up, status or to N)", rest[0])
	}
	tools, err := loadTools(ctx, *dbURL, getenv, stderr)
	if err != nil {
		return err
	}
	// The runtime login's password is checked before anything is
	// migrated, as serve checks it: never a login with the example's
	// placeholder.
	if *runtimeRole != "" {
		switch {
		case tools.DBPassword == "":
			return errors.New("migrate --runtime-role: set DB_PASSWORD to the runtime login's password")
		case config.IsPlaceholder(tools.DBPassword):
			return errors.New("migrate --runtime-role: DB_PASSWORD is the example's placeholder; set a real password " +
				"(`openssl rand -hex 32`) in .env or the environment, the one serve will log in with; nothing was migrated")
		}
	}
	conn, err := pgx.Connect(ctx, tools.MigrationDatabaseURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())

	if rest[0] == "status" {
		current, latest, err := database.MigrationStatus(ctx, conn)
		if err != nil {
			return err
		}
		state := "up to date"
		if current < latest {
			state = fmt.Sprintf("%d pending", latest-current)
		} else if current > latest {
			state = "ahead of this binary"
		}
		fmt.Fprintf(stdout, "version %d of %d (%s)\n", current, latest, state)
		return nil
	}
	if err := dbadmin.Migrate(ctx, conn, target); err != nil {
		return err
	}
	if *runtimeRole != "" {
		password := tools.DBPassword
		if _, err := dbadmin.EnsureLogin(ctx, conn, dbadmin.Login{Name: *runtimeRole, Password: password, Groups: []string{dbadmin.APIGroup}}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "runtime login %s is a member of %s\n", *runtimeRole, dbadmin.APIGroup)
	}
	// People's logins made before connection limits get them now, so
	// the servers keep their connections (docs/operations.md).
	if b, err := dbadmin.BoundPeoplesConnections(ctx, conn, dbadmin.HumanLimits(tools)); err != nil {
		fmt.Fprintf(stderr, "warning: %v\n", err)
	} else {
		if len(b.Bounded) > 0 {
			fmt.Fprintf(stdout, "limited %d people's logins to %d connections each\n", len(b.Bounded), tools.HumanConnectionLimit)
		}
		if err := dbadmin.CheckConnectionBudget(b); err != nil {
			fmt.Fprintf(stderr, "warning: %v\n", err)
		}
	}
	current, latest, err := database.MigrationStatus(ctx, conn)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "migrated: version %d of %d\n", current, latest)
	if current == latest {
		if problem, err := dbadmin.RefusalLinkProblem(ctx, conn); err == nil && problem != "" {
			fmt.Fprintf(stderr, "migrate: %s, so refusals at the psql door go to the server log, not the audit trail: "+
				"run the statements of docs/operations.md (\"Refusals at the psql door\") once as a superuser\n", problem)
		}
	}
	return nil
}
