package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/djangoimport"
)

const importAbout = `
Copy the Django system's users, patients, doctors and mappings into this
database, keeping their ids (patient 17 stays patient 17), so clients'
references stay valid and users log in with their old passwords (Django's
pbkdf2_sha256 and argon2 hashes; the first login upgrades them to argon2id).

  healthcare import django --from postgres://.../django_db [--app core] [--dry-run]

--from is the Django database (read only, in one snapshot). The target is
the privileged connection (--database-url or MIGRATION_DATABASE_URL, else
the cluster of a "healthcare dev" running from this folder), and must be
freshly migrated and empty: Django's superusers and staff become admins, so
no createsuperuser is needed first. A target holding anything, or an import
already, is refused and nothing is written.

Without --app the one Django app with patient, doctor and patientdoctor
tables is found through django_content_type, else by the tables' shape.
--dry-run checks and counts everything and writes nothing. Rows the target
would refuse are listed one by one with how to resolve each, and stop the
import; passwords in other formats are imported unusable and listed (set
them with "healthcare user set-password"). docs/django-import.md has the
details.`

func runImport(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	action, args := takeAction(args, []string{"django"})
	fs := newFlagSet("import django", "--from URL [--app LABEL] [--dry-run] [--database-url URL]", importAbout, stderr)
	from := fs.String("from", "", "the Django system's database (postgres://...; required)")
	app := fs.String("app", "", "the Django app label (default: the one app whose tables match)")
	dryRun := fs.Bool("dry-run", false, "check and count everything, write nothing")
	dbURL := fs.String("database-url", "", "privileged database connection (default MIGRATION_DATABASE_URL, else a running dev cluster)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if action == "" {
		fs.Usage()
		if fs.NArg() > 0 {
			return usagef("import: unknown source %q (the one source is django)", fs.Arg(0))
		}
		return usagef("import: say what to import from: healthcare import django --from URL")
	}
	if fs.NArg() > 0 {
		return usagef("import django: unexpected argument %q", fs.Arg(0))
	}
	if *from == "" {
		return usagef("import django: --from URL is required (the Django system's database)")
	}
	tools, err := loadTools(ctx, *dbURL, getenv, stderr)
	if err != nil {
		return err
	}
	src, err := pgx.Connect(ctx, *from)
	if err != nil {
		return fmt.Errorf("connect to the Django database (--from): %w", err)
	}
	defer src.Close(context.Background())
	dst, err := pgx.Connect(ctx, tools.MigrationDatabaseURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer dst.Close(context.Background())

	rep, err := djangoimport.Import(ctx, dst, src, djangoimport.Options{App: *app, DryRun: *dryRun, Progress: stderr, ProgressEvery: 50000})
	var notEmpty *djangoimport.NotEmptyError
	var choice *djangoimport.AppChoiceError
	switch {
	case errors.As(err, &notEmpty), errors.As(err, &choice):
		return err
	case err != nil && !errors.Is(err, djangoimport.ErrProblems):
		return fmt.Errorf("import django: %w (nothing was written)", err)
	}
	printReport(stdout, rep)
	if err != nil {
		if *dryRun {
			return fmt.Errorf("dry run: %w", err)
		}
		return err
	}
	return nil
}

func printReport(w io.Writer, rep djangoimport.Report) {
	verb := "imported"
	if rep.DryRun {
		verb = "would import"
	}
	fmt.Fprintf(w, "Django app %q (found by %s)\n", rep.App, rep.FoundBy)
	for _, t := range rep.Tables {
		extra := ""
		if t.Name == "app.users" {
			extra = fmt.Sprintf(", %d admins, %d inactive", rep.Admins, rep.Inactive)
		}
		fmt.Fprintf(w, "  %-20s %s %d rows from %s (ids %s%s)\n", t.Name, verb, t.Count, t.Source, t.IDs(), extra)
	}
	if len(rep.Unusable) > 0 {
		fmt.Fprintf(w, "Passwords that cannot be carried over (%d): these users get an unusable password; set one with\n"+
			"healthcare user set-password --user NAME --password-stdin\n", len(rep.Unusable))
		for _, u := range rep.Unusable {
			fmt.Fprintf(w, "  auth_user id %d %s: %s\n", u.ID, u.Username, u.Reason)
		}
	}
	if len(rep.Problems) > 0 {
		fmt.Fprintf(w, "Rows the target refuses (%d); nothing was written:\n", len(rep.Problems))
		for _, p := range rep.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
		return
	}
	if rep.DryRun {
		fmt.Fprintf(w, "Dry run: no problems found; nothing was written (%.1f s).\n", rep.Elapsed.Seconds())
		return
	}
	fmt.Fprintf(w, "Done in %.1f s, in one transaction; sequences continue after the imported ids.\n", rep.Elapsed.Seconds())
}
