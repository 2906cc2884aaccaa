package main

import (
	"context"
	"fmt"
	"io"

	"healthcare/internal/reporting"
)

const reportAbout = `
Release the reporting door's tables now (docs/design.md, "The reporting
door"). The server makes a release when the latest is older than
app.reporting_settings.release_interval (a day by default); this makes one
at once, for a first release or after changing min_cell.

Over the privileged connection: --database-url, else MIGRATION_DATABASE_URL,
else the database of a "healthcare dev" running from this folder.`

func runReport(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", "release", reportAbout, stderr)
	dbURL := fs.String("database-url", "", "database connection (default MIGRATION_DATABASE_URL)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || fs.Arg(0) != "release" {
		fs.Usage()
		return usagef("report: say release")
	}
	conn, err := connectPrivileged(ctx, *dbURL, getenv, stderr)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	r, err := reporting.Release(ctx, conn, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "release %d made\n", r.Release)
	return nil
}
