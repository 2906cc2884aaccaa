package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"healthcare/internal/dbadmin"
)

const throttleAbout = `
Clear the login throttle, so that the right password logs in at once:
after five failed logins for an account from one address (and at the other
LOGIN_* limits) logins answer 429 until LOGIN_FAILURE_WINDOW ends.

  clear --user NAME        the account's counters, from every address
  clear --address IP       the address's counters, for every account
  clear --user NAME --address IP   both

Each clearing is an audit event (door admin, action delete,
detail.object login_throttle, detail.cleared the counters removed). In SQL
over the privileged connection: select app.clear_login_throttle('NAME', null);

Uses the privileged connection (--database-url or MIGRATION_DATABASE_URL,
else the cluster of a "healthcare dev" running from this folder). Flags may
come before or after the action.`

var throttleActions = []string{"clear"}

func runThrottle(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	action, args := takeAction(args, throttleActions)
	if action == "" {
		fs := newFlagSet("throttle", "clear --user NAME | --address IP [flags]", throttleAbout, stderr)
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return usagef("throttle: unknown action %q (want clear)", fs.Arg(0))
		}
		fs.Usage()
		return usagef("throttle: say clear")
	}
	fs := newFlagSet("throttle clear", "--user NAME | --address IP [flags]", throttleAbout, stderr)
	user := fs.String("user", "", "username of the account whose throttle to clear")
	address := fs.String("address", "", "client IP address whose throttle to clear")
	dbURL := fs.String("database-url", "", "privileged database connection (default MIGRATION_DATABASE_URL, else a running dev cluster)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("throttle clear: unexpected argument %q", fs.Arg(0))
	}
	if strings.TrimSpace(*user) == "" && strings.TrimSpace(*address) == "" {
		return usagef("throttle clear: --user NAME or --address IP is required")
	}
	conn, err := connectPrivileged(ctx, *dbURL, getenv, stderr)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	n, err := dbadmin.ClearThrottle(ctx, conn, *user, *address)
	if err != nil {
		return err
	}
	var what []string
	if *user != "" {
		what = append(what, "user "+strings.TrimSpace(*user))
	}
	if *address != "" {
		what = append(what, "address "+strings.TrimSpace(*address))
	}
	fmt.Fprintf(stdout, "login throttle cleared for %s (%d counters removed; recorded in the audit trail)\n", strings.Join(what, " and "), n)
	return nil
}
