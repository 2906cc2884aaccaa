package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/audit"
	"healthcare/internal/config"
)

const auditAbout = `
Work the audit trail (schema audit; docs/design.md, "The audit trail").

  seal                     seal the events of every finished transaction into
                           the hash chain now (the server does it every
                           AUDIT_SEAL_INTERVAL); prints the new head hash
  verify                   recheck every seal against the events it covers;
                           exits 1 naming the first range that does not match
  show --patient N         print the events of one patient (or --user N),
       [--since TIME]      oldest first; TIME is RFC 3339 or an age (7d, 12h)
       [--limit N]
  prune [--older-than AGE] drop whole months older than AGE (default
                           AUDIT_RETENTION, 6y); recorded as an event. It
                           never queues in front of the trail's readers: a
                           session holding the trail open makes it fail
                           within 3 seconds naming that session (pid,
                           login); run it again once that one ends

Over the privileged connection: --database-url, else MIGRATION_DATABASE_URL,
else, with neither, the database of a "healthcare dev" running from this
folder, which audit finds by itself (as migrate and createsuperuser do).
verify and show also work as a member of healthcare_auditor.`

func runAudit(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit", "seal | verify | show --patient N [--since TIME] | prune [--older-than AGE]", auditAbout, stderr)
	dbURL := fs.String("database-url", "", "database connection (default MIGRATION_DATABASE_URL)")
	patient := fs.Int64("patient", 0, "show: the patient's events")
	user := fs.Int64("user", 0, "show: the app user's events")
	since := fs.String("since", "", "show: events from this time (RFC 3339) or this long ago (7d, 12h)")
	limit := fs.Int("limit", 1000, "show: at most this many events, the newest")
	olderThan := fs.String("older-than", "", "prune: drop the months older than this (default AUDIT_RETENTION)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usagef("audit: say seal, verify, show or prune")
	}
	tools, err := loadTools(ctx, *dbURL, getenv, stderr)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, tools.MigrationDatabaseURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())

	switch verb := fs.Arg(0); verb {
	case "seal":
		r, err := audit.Seal(ctx, conn)
		if err != nil {
			return err
		}
		if !r.Sealed {
			fmt.Fprintf(stdout, "nothing sealed: %s\n", r.Reason)
			return nil
		}
		fmt.Fprintf(stdout, "sealed %d events; head %s\n", r.Events, r.Hash)
	case "verify":
		rep, err := audit.Verify(ctx, conn)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "ok: %d seals cover %d events; head %s\n", rep.Seals, rep.Events, rep.LastHash)
	case "show":
		if *patient == 0 && *user == 0 {
			return usagef("audit show: say --patient N or --user N")
		}
		f := audit.Filter{Patient: *patient, User: *user, Limit: *limit}
		if *since != "" {
			if f.Since, err = parseSince(*since, time.Now()); err != nil {
				return usagef("audit show --since: %v", err)
			}
		}
		events, err := audit.Events(ctx, conn, f)
		if err != nil {
			return err
		}
		fmt.Fprint(stdout, audit.FormatTable(events))
	case "prune":
		// Say the age as it was given (6y), not as a Go duration.
		age, ageText := tools.AuditRetention, config.FormatAge(tools.AuditRetention)
		if *olderThan != "" {
			ageText = *olderThan
			if age, err = config.ParseAge(*olderThan); err != nil {
				return usagef("audit prune --older-than: %v", err)
			}
		}
		dropped, err := audit.Prune(ctx, conn, age, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "dropped %d monthly partitions older than %s: %v\n", len(dropped), ageText, dropped)
	default:
		return usagef("audit: unknown action %q (want seal, verify, show or prune)", verb)
	}
	return nil
}

// parseSince reads an RFC 3339 time or an age before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Time{}, errors.New("give a time (2026-01-31T00:00:00Z) or an age with its unit (7d)")
	}
	age, err := config.ParseAge(s)
	if err != nil {
		return time.Time{}, err
	}
	return now.Add(-age), nil
}
