package database

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/tern/v2/migrate"

	"healthcare/internal/sqlfile"
	healthcaresql "healthcare/sql"
)

// DefinitionsTable records the hash of every definition block applied, so a
// deploy re-runs only the blocks whose text changed (migration 016).
const DefinitionsTable = "public.healthcare_definitions"

// definition is one block of sql/definitions: a create-or-replace statement
// with the comments, grants and revokes that follow it, or one session
// statement (set local role, reset role) that always runs.
type definition struct {
	// object names what the block defines, as objectsSQL lists existing
	// ones ("function app.x", "policy app.patients.select_own"); empty for
	// a block of grants alone.
	object  string
	text    string
	hash    string
	session bool
}

var (
	sessionRe  = regexp.MustCompile(`^(set|reset)\s`)
	functionRe = regexp.MustCompile(`^create\s+or\s+replace\s+function\s+([\w.]+)\s*\(`)
	viewRe     = regexp.MustCompile(`^create\s+or\s+replace\s+view\s+([\w.]+)`)
	policyRe   = regexp.MustCompile(`^drop\s+policy\s+if\s+exists\s+(\w+)\s+on\s+([\w.]+)\s*;`)
	triggerRe  = regexp.MustCompile(`(?s)^create\s+or\s+replace\s+trigger\s+(\w+)\s.*?\son\s+([\w.]+)`)
	createPRe  = regexp.MustCompile(`^create\s+policy\s`)
	attachedRe = regexp.MustCompile(`^(grant|revoke|comment)\s`)
)

// loadDefinitions renders the code package (install.sql and the files it
// includes) and cuts it into blocks.
func loadDefinitions() ([]definition, error) {
	sub, err := fs.Sub(healthcaresql.Definitions, "definitions")
	if err != nil {
		return nil, err
	}
	pkg, err := migrate.LoadCodePackage(sub)
	if err != nil {
		return nil, fmt.Errorf("load sql/definitions: %w", err)
	}
	script, err := pkg.Eval(nil)
	if err != nil {
		return nil, fmt.Errorf("render sql/definitions: %w", err)
	}
	return parseDefinitions(script)
}

// parseDefinitions cuts script into blocks. Only replaceable definitions
// belong there: anything else (a table, an index, a plain create) belongs
// in a migration, and is refused here.
func parseDefinitions(script string) ([]definition, error) {
	var defs []definition
	var cur *definition
	for _, stmt := range sqlfile.Split(script) {
		body := strings.ToLower(sqlfile.StripComments(stmt))
		if body == "" {
			continue
		}
		object := ""
		switch {
		case sessionRe.MatchString(body):
			defs = append(defs, definition{text: stmt, session: true})
			cur = nil
			continue
		case attachedRe.MatchString(body):
			if cur == nil {
				defs = append(defs, definition{})
				cur = &defs[len(defs)-1]
			}
			cur.text += stmt
			continue
		case createPRe.MatchString(body):
			// A policy cannot be replaced: its block starts with the drop.
			if cur == nil || !strings.HasPrefix(cur.object, "policy ") || strings.Contains(cur.text, "create policy") {
				return nil, fmt.Errorf("sql/definitions: write `drop policy if exists NAME on TABLE;` right before %s", firstLine(body))
			}
			cur.text += stmt
			continue
		}
		if m := functionRe.FindStringSubmatch(body); m != nil {
			object = "function " + m[1]
		} else if m := viewRe.FindStringSubmatch(body); m != nil {
			object = "view " + m[1]
		} else if m := policyRe.FindStringSubmatch(body); m != nil {
			object = "policy " + m[2] + "." + m[1]
		} else if m := triggerRe.FindStringSubmatch(body); m != nil {
			object = "trigger " + m[2] + "." + m[1]
		} else {
			return nil, fmt.Errorf("sql/definitions holds functions, views, triggers, policies, grants and comments, "+
				"each replaceable (create or replace); this belongs in a migration: %s", firstLine(body))
		}
		defs = append(defs, definition{object: object, text: stmt})
		cur = &defs[len(defs)-1]
	}
	for i := range defs {
		sum := sha256.Sum256([]byte(strings.TrimSpace(defs[i].text)))
		defs[i].hash = hex.EncodeToString(sum[:])
	}
	return defs, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// objectsSQL lists the definitions that exist, named as definition.object
// names them.
const objectsSQL = `
select 'function ' || n.nspname || '.' || p.proname
  from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
union all
select 'view ' || c.oid::regclass::text from pg_catalog.pg_class c where c.relkind = 'v'
union all
select 'policy ' || p.polrelid::regclass::text || '.' || p.polname from pg_catalog.pg_policy p
union all
select 'trigger ' || t.tgrelid::regclass::text || '.' || t.tgname
  from pg_catalog.pg_trigger t where not t.tgisinternal`

// applyDefinitions runs, in tx, every block of sql/definitions whose text
// is not recorded as applied or whose object is missing (a migration
// dropped it), or every block when all is set. After a migration (migrated)
// it also re-runs the blocks of grants alone: a migration that drops and
// adds a column loses the column's grants, and nothing else would notice.
// It records the applied hashes and returns how many blocks it ran. With
// nothing to do it writes nothing and takes no lock beyond reading its own
// table.
func applyDefinitions(ctx context.Context, tx pgx.Tx, all, migrated bool) (int, error) {
	defs, err := loadDefinitions()
	if err != nil {
		return 0, err
	}
	exists := map[string]bool{}
	rows, err := tx.Query(ctx, objectsSQL)
	if err != nil {
		return 0, fmt.Errorf("list definitions: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("list definitions: %w", err)
	}
	for _, n := range names {
		exists[n] = true
	}
	rows, err = tx.Query(ctx, "select hash from "+DefinitionsTable)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", DefinitionsTable, err)
	}
	hashes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", DefinitionsTable, err)
	}
	applied := map[string]bool{}
	for _, h := range hashes {
		applied[h] = true
	}
	ran, current := 0, make([]string, 0, len(defs))
	var pending []string // session statements run only before a block that runs
	for _, d := range defs {
		if d.session {
			pending = append(pending, d.text)
			continue
		}
		current = append(current, d.hash)
		if !all && applied[d.hash] && (d.object == "" && !migrated || exists[d.object]) {
			continue
		}
		for _, s := range pending {
			if _, err := tx.Exec(ctx, s); err != nil {
				return ran, fmt.Errorf("sql/definitions: %s: %w", strings.TrimSpace(s), err)
			}
		}
		pending = pending[:0]
		if _, err := tx.Exec(ctx, d.text); err != nil {
			return ran, fmt.Errorf("sql/definitions, %s: %w", d.describe(), err)
		}
		ran++
	}
	if _, err := tx.Exec(ctx, "reset role"); err != nil {
		return ran, err
	}
	if ran == 0 && len(hashes) == len(current) {
		return 0, nil
	}
	if _, err := tx.Exec(ctx, `
		with cur as (select unnest($1::text[]) as hash),
		     gone as (delete from `+DefinitionsTable+` d where not exists (select from cur where cur.hash = d.hash))
		insert into `+DefinitionsTable+` (hash) select hash from cur on conflict do nothing`, current); err != nil {
		return ran, fmt.Errorf("record definitions: %w", err)
	}
	return ran, nil
}

func (d definition) describe() string {
	if d.object != "" {
		return d.object
	}
	return firstLine(strings.TrimSpace(sqlfile.StripComments(d.text)))
}

// ReapplyDefinitions runs every block of sql/definitions in tx, whatever
// is recorded as applied: the repair after `tern code install` or a hand
// edit, and how tests compare the database with the files.
func ReapplyDefinitions(ctx context.Context, tx pgx.Tx) (int, error) {
	return applyDefinitions(ctx, tx, true, true)
}
