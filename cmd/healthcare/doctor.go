package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"healthcare/internal/dbadmin"
)

const doctorAbout = `
Link a doctor record of the directory to a user account, or unlink it.
The linked account reads, read-only, the patients mapped to that doctor
record (GET /api/care/patients/, records.care_patients over psql) for as
long as each mapping exists. One doctor record per account.

  link   --doctor ID --user USERNAME
  unlink --doctor ID

Admins do the same over REST: PUT and DELETE /api/doctors/<id>/account/.

Uses the privileged connection (--database-url or MIGRATION_DATABASE_URL,
else the cluster of a "healthcare dev" running from this folder). Flags may
come before or after the action.`

var doctorActions = []string{"link", "unlink"}

func runDoctor(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	action, args := takeAction(args, doctorActions)
	if action == "" {
		fs := newFlagSet("doctor", strings.Join(doctorActions, "|")+" [flags]", doctorAbout, stderr)
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return usagef("doctor: unknown action %q (want link or unlink)", fs.Arg(0))
		}
		fs.Usage()
		return usagef("doctor: say link or unlink")
	}
	fs := newFlagSet("doctor "+action, "[flags]", doctorAbout, stderr)
	doctor := fs.Int64("doctor", 0, "doctor record id (required)")
	user := new(string)
	if action == "link" {
		user = fs.String("user", "", "username of the account to link (required)")
	}
	dbURL := fs.String("database-url", "", "privileged database connection (default MIGRATION_DATABASE_URL, else a running dev cluster)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("doctor %s: unexpected argument %q", action, fs.Arg(0))
	}
	if *doctor <= 0 {
		return usagef("doctor %s: --doctor ID is required (a positive record id)", action)
	}
	if action == "link" && *user == "" {
		return usagef("doctor link: --user is required")
	}
	conn, err := connectPrivileged(ctx, *dbURL, getenv, stderr)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if action == "link" {
		l, err := dbadmin.LinkDoctor(ctx, conn, *doctor, *user)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "linked doctor %d (%s) to user %s (id %d)\n", l.Doctor, l.Name, l.User, l.UserID)
		return nil
	}
	l, err := dbadmin.UnlinkDoctor(ctx, conn, *doctor)
	if err != nil {
		return err
	}
	if l.UserID == 0 {
		fmt.Fprintf(stdout, "doctor %d (%s) was linked to no account\n", l.Doctor, l.Name)
		return nil
	}
	fmt.Fprintf(stdout, "unlinked doctor %d (%s) from user %s\n", l.Doctor, l.Name, l.User)
	return nil
}
