package sql_test

// The schema in its final form: sql/schema.sql is what PostgreSQL reports
// after every migration, so a reviewer reads one file and a diff of it shows
// what a migration really changed. And the rules that keep the migrations
// readable: every object commented, each object created by one migration.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"healthcare/internal/database"
	"healthcare/internal/pgtest"
	healthcaresql "healthcare/sql"
)

var update = flag.Bool("update", false, "rewrite sql/schema.sql from a freshly migrated database")

const schemaFile = "schema.sql"

// dumpSchema runs pg_dump --schema-only on db for every schema but public
// (which holds only the migration version table) and strips the lines that
// name the pg_dump version or carry a per-run random key.
func dumpSchema(t *testing.T, db *pgtest.DB) []byte {
	t.Helper()
	pgDump := filepath.Join(db.Cluster().BinDir(), "pg_dump")
	// The monthly partitions of audit.events (and audit.current_until) are
	// the months around the day the database was migrated: leave them out,
	// or the snapshot would change every month.
	cmd := exec.Command(pgDump, "--schema-only", "--exclude-schema=public", "--exclude-table=audit.events_2*",
		"--exclude-table=audit.events_current", "--dbname="+db.SuperURL)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, stderr.String())
	}
	return normaliseDump(out)
}

var unstableDumpLine = regexp.MustCompile(`^(-- Dumped (from|by) .*|\\(un)?restrict .*)$`)

// currentUntil is audit.current_until()'s body, the end of the month the
// database was migrated in; the snapshot shows it as a placeholder.
var currentUntil = regexp.MustCompile(`AS \$\$select '[^']*'::timestamptz\$\$;`)

func normaliseDump(dump []byte) []byte {
	var b bytes.Buffer
	b.WriteString("-- The schema after every migration, as pg_dump reports it. Generated:\n" +
		"-- go test ./sql -run TestSchemaSnapshot -update\n" +
		"-- Do not edit by hand; change a migration (append-only) and regenerate.\n")
	blank := false
	for _, line := range strings.Split(string(dump), "\n") {
		if unstableDumpLine.MatchString(line) {
			continue
		}
		line = currentUntil.ReplaceAllString(line, "AS $$$$select '<the end of the current month>'::timestamptz$$$$;")
		// Collapse the runs of blank lines the removed lines leave.
		if strings.TrimSpace(line) == "" {
			if blank {
				continue
			}
			blank = true
		} else {
			blank = false
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

func TestSchemaSnapshot(t *testing.T) {
	t.Parallel()
	got := append(dumpSchema(t, pgtest.New(t)), '\n')
	if *update {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", schemaFile, len(got))
		return
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v: generate it with `go test ./sql -run TestSchemaSnapshot -update`", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	gotLines, wantLines := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(gotLines) || i < len(wantLines); i++ {
		var g, w string
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if g != w {
			t.Fatalf("sql/schema.sql differs from a freshly migrated database, first at line %d:\n  committed: %s\n  migrated:  %s\n"+
				"Regenerate it with `go test ./sql -run TestSchemaSnapshot -update` and commit it with the migration.", i+1, w, g)
		}
	}
}

// TestEveryObjectIsCommented: every schema, table, view, policy and function
// of ours, and every column of an app table (ids and timestamps aside), says
// what it is for, in the catalog where psql's \d+ and reporting tools show it.
func TestEveryObjectIsCommented(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	rows := queryStrings(t, db, `
		select 'schema ' || n.nspname
		  from pg_namespace n
		 where n.nspname = any($1) and obj_description(n.oid, 'pg_namespace') is null
		union all
		select 'relation ' || c.oid::regclass::text
		  from pg_class c join pg_namespace n on n.oid = c.relnamespace
		 where n.nspname = any($1) and c.relkind in ('r', 'p', 'v', 'm')
		   and obj_description(c.oid, 'pg_class') is null
		union all
		select 'column ' || c.oid::regclass::text || '.' || a.attname
		  from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
		 where n.nspname = 'app' and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
		   and a.attname not in ('id', 'created_at', 'updated_at')
		   and col_description(c.oid, a.attnum) is null
		union all
		select 'function ' || p.oid::regprocedure::text
		  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
		 where n.nspname = any($1) and obj_description(p.oid, 'pg_proc') is null
		union all
		select 'policy ' || p.polname || ' on ' || p.polrelid::regclass::text
		  from pg_policy p
		 where obj_description(p.oid, 'pg_policy') is null
		order by 1`, ourSchemas)
	for _, r := range rows {
		t.Errorf("%s has no comment (add `comment on ...` next to it in its migration)", r[0])
	}
}

// TestMigrationsCreateEachObjectOnce: the folded migrations (001-008)
// create each object once, in its final form, without `create or replace`.
// Later migrations are append-only changes: one that creates an object an
// earlier migration made must say so by dropping it first (or use `create
// or replace` for a function), so no object is defined twice by accident.
func TestMigrationsCreateEachObjectOnce(t *testing.T) {
	t.Parallel()
	const lastFolded = "008"
	created := map[string]string{}
	createRe := regexp.MustCompile(`(?im)^\s*create\s+(or\s+replace\s+)?(function|view|table|policy|trigger|index|unique index|type)\s+([a-z0-9_."]+)(?:\s+(?:before|after|instead\s+of)\s+[a-z ,]+?\s+on\s+([a-z0-9_."]+)|\s+on\s+([a-z0-9_."]+))?`)
	err := fs.WalkDir(healthcaresql.Migrations, "migrations", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(healthcaresql.Migrations, path)
		if err != nil {
			return err
		}
		folded := filepath.Base(path)[:3] <= lastFolded
		up, _, _ := strings.Cut(string(b), "---- create above / drop below ----")
		for _, m := range createRe.FindAllStringSubmatch(up, -1) {
			kind, name := strings.ToLower(m[2]), strings.ToLower(m[3])
			if m[1] != "" && folded {
				t.Errorf("%s: create or replace %s %s: the folded migrations create each object once in its final form", path, kind, name)
			}
			key := kind + " " + name + " " + strings.ToLower(m[4]+m[5]) // the table of a trigger, policy or index
			if prev, ok := created[key]; ok {
				dropped := regexp.MustCompile(`(?is)\bdrop\s+` + regexp.QuoteMeta(kind) + `\s+(if\s+exists\s+)?[^;]*\b` + regexp.QuoteMeta(name) + `\b`).MatchString(up)
				if folded || (!dropped && m[1] == "") {
					t.Errorf("%s creates %s again (first in %s) without dropping it first", path, strings.TrimSpace(key), prev)
				}
			}
			created[key] = path
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(created) < 20 {
		t.Fatalf("found only %d created objects; the pattern no longer matches the migrations", len(created))
	}
}

// TestDatabaseFromBeforeTheFoldIsRefused: a database migrated by the old
// history records its version in another table, and is refused with
// ErrPredatesMigrations before anything is applied to it.
func TestDatabaseFromBeforeTheFoldIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	conn := connect(t, db, "")
	before := schemaSnapshot(t, conn)
	// What an old dev database looks like: the old version table, not ours.
	if _, err := conn.Exec(ctx, "drop table "+database.VersionTable+"; create table public.schema_version (version integer not null); insert into public.schema_version values (11)"); err != nil {
		t.Fatal(err)
	}
	err := database.Migrate(ctx, conn)
	if !errors.Is(err, database.ErrPredatesMigrations) {
		t.Fatalf("migrate of a pre-fold database: %v, want ErrPredatesMigrations", err)
	}
	var ours bool
	if err := conn.QueryRow(ctx, "select to_regclass($1) is not null", database.VersionTable).Scan(&ours); err != nil || ours {
		t.Fatalf("the refused migration created %s (%v)", database.VersionTable, err)
	}
	diffLines(t, "after the refused migration", schemaSnapshot(t, conn), before)
}
