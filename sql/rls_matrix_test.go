package sql_test

// The access matrix: every door of docs/design.md meets the row-level security
// policies of the migrations, tried table by table and operation by
// operation, and the api functions give each caller the same answer.
//
// Each case becomes its caller with `set local session authorization` inside
// a transaction, so session_user is what app.current_user_id() sees. Nothing
// about visibility is asserted while superuser (superusers skip RLS); the
// superuser only checks afterwards what actually changed.

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/pgtest"
)

// outcome is what one operation must do. The zero value is deliberately
// invalid, so a matrix row that forgets a cell fails instead of passing.
type outcome int

const (
	unset        outcome = iota
	yes                  // the row is visible / affected / inserted, checked as superuser
	no                   // no row visible or affected; data unchanged
	denied               // 42501; data unchanged
	notUpdatable         // 55000: aggregate views cannot be written; data unchanged
	conflict             // RCNFL (409): refused by a trigger; data unchanged
	forbidden            // RFRBD (403): refused by a trigger; data unchanged
)

// refusedCodes are the SQLSTATEs of the outcomes that refuse with an error.
var refusedCodes = map[outcome]string{denied: "42501", notUpdatable: "55000", conflict: "RCNFL", forbidden: "RFRBD"}

// party names whose row an insert must create.
type party int

const (
	nobody party = iota
	partyA
	partyB
	partyAdmin
	partyCarol // care fixture: the account linked to A's doctor
	partyDave  // care fixture: the account linked to B's doctor
	partyErin  // care fixture: creator of an unlinked doctor B's patient is mapped to
)

func (p party) id(f *fixture) int64 {
	switch p {
	case partyA:
		return f.userA
	case partyB:
		return f.userB
	case partyAdmin:
		return f.admin
	case partyCarol:
		return f.userC
	case partyDave:
		return f.userD
	case partyErin:
		return f.userE
	}
	return 0
}

// access is one matrix row: what a caller may do to one relation. A and B
// are the fixture rows of user A and user B (for a view there is only A: the
// view itself). insA/insB are the two inserts (for tables whose insert has
// no target only insA is used); insOwner and insOwnerB are the owners the
// new rows must get (for a mapping: its patient's owner).
type access struct {
	selA, selB outcome
	insA, insB outcome
	insOwner   party // owner of the row insA makes
	insOwnerB  party // owner of the row insB makes
	updA, updB outcome
	delA, delB outcome
}

// Shorthands for rows that repeat across callers.
var (
	allDenied = access{selA: denied, selB: denied, insA: denied, insB: denied, updA: denied, updB: denied, delA: denied, delB: denied}
	// reads decided by policy, every write refused by missing grants.
	readOnly = func(selA, selB outcome) access {
		return access{selA: selA, selB: selB, insA: denied, insB: denied, updA: denied, updB: denied, delA: denied, delB: denied}
	}
)

// relation is one table or view with the statements the matrix tries.
type relation struct {
	name string
	view bool
	// noun and insNouns build the case names.
	noun     string
	insNouns [2]string // [1] empty: the insert has no target
	key      func(f *fixture, b bool) any
	sel      string                                   // $1 = key; returns the rows seen
	ins      func(f *fixture, b bool) (string, []any) // returns the new key as text
	insCheck string                                   // superuser, $1 = new key: owner id of the new row
	upd      string                                   // $1 = key
	updCheck string                                   // superuser, $1 = key: true when the update landed
	del      string                                   // $1 = key
	delCheck string                                   // superuser, $1 = key: true when the row is gone
	matrix   map[*caller]access
}

func relations() []relation {
	pick := func(b bool, a, bb any) any {
		if b {
			return bb
		}
		return a
	}
	ownRows := func(own party) access {
		a := access{selA: yes, selB: no, insA: yes, insOwner: own, updA: yes, updB: no, delA: yes, delB: no}
		if own == partyB {
			a = access{selA: no, selB: yes, insA: yes, insOwner: own, updA: no, updB: yes, delA: no, delB: yes}
		}
		return a
	}
	rels := []relation{
		{
			name: "app.users", noun: "account of", insNouns: [2]string{"an account"},
			key: func(f *fixture, b bool) any { return pick(b, f.userA, f.userB) },
			sel: `select id from app.users where id = $1`,
			ins: func(*fixture, bool) (string, []any) {
				return `insert into app.users (username, password_hash) values ('mallory', $1) returning id::text`, []any{pgtest.FakeHash}
			},
			// The dangerous update: making oneself an admin.
			upd: `update app.users set is_admin = true where id = $1`,
			del: `delete from app.users where id = $1`,
			matrix: map[*caller]access{
				&apiA: readOnly(yes, no), &apiB: readOnly(no, yes), &anonymous: readOnly(no, no), &admin: readOnly(yes, yes),
				&psqlA: readOnly(yes, no), &psqlASet: readOnly(yes, no), &psqlASetConfig: readOnly(yes, no),
				&psqlASetRole: readOnly(yes, no), &psqlAAll: readOnly(yes, no),
				&unlinked: readOnly(no, no), &reporting: allDenied,
			},
		},
		{
			name: "app.patients", noun: "patient of", insNouns: [2]string{"a patient"},
			key: func(f *fixture, b bool) any { return pick(b, f.patientA, f.patientB) },
			sel: `select id from app.patients where id = $1`,
			ins: func(*fixture, bool) (string, []any) {
				return `insert into app.patients (name, age, gender) values ('Matrix Patient', 33, 'other') returning id::text`, nil
			},
			insCheck: `select owner_id from app.patients where id = $1::bigint`,
			upd:      `update app.patients set name = 'Changed Name' where id = $1`,
			updCheck: `select name = 'Changed Name' from app.patients where id = $1`,
			del:      `delete from app.patients where id = $1`,
			delCheck: `select not exists (select from app.patients where id = $1)`,
			matrix: map[*caller]access{
				&apiA:      ownRows(partyA),
				&apiB:      ownRows(partyB),
				&anonymous: {selA: no, selB: no, insA: denied, updA: no, updB: no, delA: no, delB: no},
				&admin:     {selA: yes, selB: yes, insA: yes, insOwner: partyAdmin, updA: yes, updB: yes, delA: yes, delB: yes},
				&psqlA:     ownRows(partyA), &psqlASet: ownRows(partyA), &psqlASetConfig: ownRows(partyA),
				&psqlASetRole: ownRows(partyA), &psqlAAll: ownRows(partyA),
				&unlinked:  {selA: no, selB: no, insA: denied, updA: no, updB: no, delA: no, delB: no},
				&reporting: allDenied,
			},
		},
		{
			name: "app.doctors", noun: "doctor of", insNouns: [2]string{"a doctor"},
			key: func(f *fixture, b bool) any { return pick(b, f.doctorA, f.doctorB) },
			sel: `select id from app.doctors where id = $1`,
			ins: func(*fixture, bool) (string, []any) {
				return `insert into app.doctors (name, specialization) values ('Dr Matrix', 'Matrixology') returning id::text`, nil
			},
			insCheck: `select created_by from app.doctors where id = $1::bigint`,
			upd:      `update app.doctors set name = 'Dr Changed' where id = $1`,
			updCheck: `select name = 'Dr Changed' from app.doctors where id = $1`,
			del:      `delete from app.doctors where id = $1`,
			delCheck: `select not exists (select from app.doctors where id = $1)`,
			// The directory is public: everyone with the grant sees both.
			matrix: map[*caller]access{
				&apiA:           {selA: yes, selB: yes, insA: yes, insOwner: partyA, updA: yes, updB: no, delA: yes, delB: no},
				&apiB:           {selA: yes, selB: yes, insA: yes, insOwner: partyB, updA: no, updB: yes, delA: no, delB: yes},
				&anonymous:      {selA: yes, selB: yes, insA: denied, updA: no, updB: no, delA: no, delB: no},
				&admin:          {selA: yes, selB: yes, insA: yes, insOwner: partyAdmin, updA: yes, updB: yes, delA: yes, delB: yes},
				&psqlA:          {selA: yes, selB: yes, insA: yes, insOwner: partyA, updA: yes, updB: no, delA: yes, delB: no},
				&psqlASet:       {selA: yes, selB: yes, insA: yes, insOwner: partyA, updA: yes, updB: no, delA: yes, delB: no},
				&psqlASetConfig: {selA: yes, selB: yes, insA: yes, insOwner: partyA, updA: yes, updB: no, delA: yes, delB: no},
				&psqlASetRole:   {selA: yes, selB: yes, insA: yes, insOwner: partyA, updA: yes, updB: no, delA: yes, delB: no},
				&psqlAAll:       {selA: yes, selB: yes, insA: yes, insOwner: partyA, updA: yes, updB: no, delA: yes, delB: no},
				&unlinked:       {selA: yes, selB: yes, insA: denied, updA: no, updB: no, delA: no, delB: no},
				&reporting:      allDenied,
			},
		},
		{
			name: "app.patient_doctors", noun: "mapping of", insNouns: [2]string{"a mapping of A's patient", "a mapping of B's patient"},
			key: func(f *fixture, b bool) any { return pick(b, f.mappingA, f.mappingB) },
			sel: `select id from app.patient_doctors where id = $1`,
			// A new pair each: the patient with the other user's doctor.
			ins: func(f *fixture, b bool) (string, []any) {
				const s = `insert into app.patient_doctors (patient_id, doctor_id) values ($1, $2) returning id::text`
				if b {
					return s, []any{f.patientB, f.doctorA}
				}
				return s, []any{f.patientA, f.doctorB}
			},
			insCheck: `select p.owner_id from app.patient_doctors m join app.patients p on p.id = m.patient_id where m.id = $1::bigint`,
			// No runtime role may re-point a mapping: delete and create.
			upd:      `update app.patient_doctors set created_at = now() - interval '1 year' where id = $1`,
			del:      `delete from app.patient_doctors where id = $1`,
			delCheck: `select not exists (select from app.patient_doctors where id = $1)`,
			matrix: map[*caller]access{
				&apiA:      mappingOwn(partyA),
				&apiB:      mappingOwn(partyB),
				&anonymous: {selA: no, selB: no, insA: denied, insB: denied, updA: denied, updB: denied, delA: no, delB: no},
				// insOwner for a mapping is its patient's owner; admin maps A's patient.
				&admin: {selA: yes, selB: yes, insA: yes, insB: yes, insOwner: partyA, insOwnerB: partyB, updA: denied, updB: denied, delA: yes, delB: yes},
				&psqlA: mappingOwn(partyA), &psqlASet: mappingOwn(partyA), &psqlASetConfig: mappingOwn(partyA),
				&psqlASetRole: mappingOwn(partyA), &psqlAAll: mappingOwn(partyA),
				&unlinked:  {selA: no, selB: no, insA: denied, insB: denied, updA: denied, updB: denied, delA: no, delB: no},
				&reporting: allDenied,
			},
		},
		{
			name: "app.refresh_tokens", noun: "refresh token of", insNouns: [2]string{"a refresh token"},
			key: func(f *fixture, b bool) any { return pick(b, f.tokenA, f.tokenB) },
			sel: `select jti from app.refresh_tokens where jti = $1::uuid`,
			ins: func(f *fixture, _ bool) (string, []any) {
				return `insert into app.refresh_tokens (jti, family, user_id, expires_at)
				        values (gen_random_uuid(), gen_random_uuid(), $1, now() + interval '10 years') returning jti::text`, []any{f.userA}
			},
			// Reviving a revoked token would be the attack.
			upd: `update app.refresh_tokens set revoked_at = null, expires_at = now() + interval '10 years' where jti = $1::uuid`,
			del: `delete from app.refresh_tokens where jti = $1::uuid`,
			// Only the definer functions (healthcare_auth) touch tokens.
			matrix: everyCaller(allDenied),
		},
	}
	for _, v := range reportingViews {
		m := everyCaller(allDenied)
		m[&reporting] = access{selA: yes, insA: notUpdatable, updA: notUpdatable, delA: notUpdatable}
		rels = append(rels, relation{
			name: v, view: true, noun: "view", insNouns: [2]string{"into the view"},
			sel: `select * from ` + v,
			ins: func(*fixture, bool) (string, []any) {
				return `insert into ` + v + ` default values returning 'x'`, nil
			},
			upd:    `update ` + v + ` set suppressed = false`,
			del:    `delete from ` + v,
			matrix: m,
		})
	}
	return rels
}

// mappingOwn: a user sees, maps and unmaps only their own patients; nobody
// updates a mapping (no grant).
func mappingOwn(p party) access {
	if p == partyB {
		return access{selA: no, selB: yes, insA: denied, insB: yes, insOwnerB: partyB, updA: denied, updB: denied, delA: no, delB: yes}
	}
	return access{selA: yes, selB: no, insA: yes, insB: denied, insOwner: partyA, updA: denied, updB: denied, delA: yes, delB: no}
}

var allCallers = []*caller{&apiA, &apiB, &anonymous, &admin, &psqlA, &psqlASet, &psqlASetConfig, &psqlASetRole, &psqlAAll, &unlinked, &reporting}

func everyCaller(a access) map[*caller]access {
	m := make(map[*caller]access, len(allCallers))
	for _, c := range allCallers {
		m[c] = a
	}
	return m
}

var reportingViews = []string{"reporting.patients_per_specialization", "reporting.patients_by_age_band", "reporting.mappings_per_doctor"}

// matrixCase is one cell of the matrix, expanded.
type matrixCase struct {
	name  string
	c     *caller
	op    string // select, insert, update, delete
	sql   func(f *fixture) (string, []any)
	want  outcome
	check func(t *testing.T, ctx context.Context, tx pgx.Tx, f *fixture, got string) // allowed: superuser view of the change
}

func (r relation) cases() []matrixCase { return r.casesFor(allCallers, r.matrix) }

// casesFor expands the cells of matrix for callers.
func (r relation) casesFor(callers []*caller, matrix map[*caller]access) []matrixCase {
	var out []matrixCase
	targets := []bool{false, true}
	if r.view {
		targets = []bool{false}
	}
	what := func(b bool) string {
		if r.view {
			return r.name
		}
		who := "A"
		if b {
			who = "B"
		}
		return r.noun + " " + who + " (" + r.name + ")"
	}
	for _, c := range callers {
		a, ok := matrix[c]
		if !ok {
			panic("matrix of " + r.name + " lacks " + c.desc)
		}
		for _, b := range targets {
			b := b
			sel, upd, del := a.selA, a.updA, a.delA
			if b {
				sel, upd, del = a.selB, a.updB, a.delB
			}
			key := func(f *fixture) []any {
				if r.key == nil {
					return nil
				}
				return []any{r.key(f, b)}
			}
			out = append(out,
				matrixCase{
					name: c.desc + " " + phrase("select", sel) + " " + what(b), c: c, op: "select", want: sel,
					sql: func(f *fixture) (string, []any) { return r.sel, key(f) },
				},
				matrixCase{
					name: c.desc + " " + phrase("update", upd) + " " + what(b), c: c, op: "update", want: upd,
					sql: func(f *fixture) (string, []any) { return r.upd, key(f) },
					check: func(t *testing.T, ctx context.Context, tx pgx.Tx, f *fixture, _ string) {
						t.Helper()
						superTrue(t, ctx, tx, r.updCheck, key(f)...)
					},
				},
				matrixCase{
					name: c.desc + " " + phrase("delete", del) + " " + what(b), c: c, op: "delete", want: del,
					sql: func(f *fixture) (string, []any) { return r.del, key(f) },
					check: func(t *testing.T, ctx context.Context, tx pgx.Tx, f *fixture, _ string) {
						t.Helper()
						superTrue(t, ctx, tx, r.delCheck, key(f)...)
					},
				})
		}
		ins := []bool{false}
		if r.insNouns[1] != "" {
			ins = append(ins, true)
		}
		for _, b := range ins {
			b := b
			want, owner, noun := a.insA, a.insOwner, r.insNouns[0]
			if b {
				want, owner, noun = a.insB, a.insOwnerB, r.insNouns[1]
			}
			out = append(out, matrixCase{
				name: c.desc + " " + phrase("insert", want) + " " + noun + " (" + r.name + ")", c: c, op: "insert", want: want,
				sql: func(f *fixture) (string, []any) { return r.ins(f, b) },
				check: func(t *testing.T, ctx context.Context, tx pgx.Tx, f *fixture, newKey string) {
					t.Helper()
					var got *int64
					if err := tx.QueryRow(ctx, r.insCheck, newKey).Scan(&got); err != nil {
						t.Fatalf("as superuser, find the inserted row %s: %v", newKey, err)
					}
					if want := owner.id(f); got == nil || *got != want {
						t.Fatalf("inserted row belongs to %v, want user %d", deref(got), want)
					}
				},
			})
		}
	}
	return out
}

func phrase(op string, o outcome) string {
	switch o {
	case yes:
		return map[string]string{"select": "sees", "insert": "inserts", "update": "updates", "delete": "deletes"}[op]
	case no:
		return map[string]string{"select": "does not see", "update": "changes nothing when updating", "delete": "removes nothing when deleting"}[op]
	case denied:
		return "is refused (42501) to " + op
	case notUpdatable:
		return "cannot (55000) " + op
	case conflict:
		return "is refused (RCNFL) to " + op
	case forbidden:
		return "is refused (RFRBD) to " + op
	}
	return "has no expectation for " + op
}

// superTrue runs a boolean check as the superuser inside tx, so it sees the
// transaction's own uncommitted change.
func superTrue(t *testing.T, ctx context.Context, tx pgx.Tx, sql string, args ...any) {
	t.Helper()
	if sql == "" {
		t.Fatal("no superuser check for an operation the matrix allows")
	}
	var ok bool
	if err := tx.QueryRow(ctx, sql, args...).Scan(&ok); err != nil {
		t.Fatalf("superuser check %q: %v", sql, err)
	}
	if !ok {
		t.Fatalf("superuser check %q is false: the allowed change did not land", sql)
	}
}

// backToSuperuser ends the caller's identity inside tx.
func backToSuperuser(t *testing.T, ctx context.Context, tx pgx.Tx) {
	t.Helper()
	for _, s := range []string{"reset role", "reset session authorization"} {
		if _, err := tx.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestAccessMatrix(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	before := fingerprint(t, f)
	n := 0
	for _, r := range relations() {
		for _, mc := range r.cases() {
			n++
			t.Run(mc.name, func(t *testing.T) {
				if mc.want == unset {
					t.Fatal("matrix cell not filled in")
				}
				runMatrixCase(t, f, r, mc)
				if got := fingerprint(t, f); got != before {
					t.Fatalf("data changed after the transaction ended (fingerprint %s, was %s): a denied operation wrote, or an allowed one was not rolled back", got, before)
				}
			})
		}
	}
	// 5 tables x 11 callers x 7 ops + 8 mapping inserts + 3 views x 11 x 4.
	if want := 5*11*7 + 11 + 3*11*4; n != want {
		t.Fatalf("matrix has %d cases, want %d: a table, view, caller or operation went missing", n, want)
	}
}

// TestTablesOutsideTheMatrixAreClosed: a table the matrix does not list
// (added by a later migration, e.g. internal counters only definer functions
// touch) must give no runtime role any privilege. A table that opens to a
// runtime door needs its own row in the matrix first.
func TestTablesOutsideTheMatrixAreClosed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var listed []string
	for _, r := range relations() {
		listed = append(listed, r.name)
	}
	rows, err := f.db.Pool.Query(context.Background(), `
		select c.oid::regclass::text
		  from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
		 where n.nspname in ('app', 'reporting') and c.relkind in ('r', 'p', 'v', 'm')
		   and c.oid::regclass::text <> all ($1)`, listed)
	if err != nil {
		t.Fatal(err)
	}
	others, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range others {
		for _, role := range []string{"healthcare_api", "healthcare_user", "healthcare_reporting"} {
			t.Run(role+" has no privilege on "+table, func(t *testing.T) {
				var privs []string
				err := f.db.Pool.QueryRow(context.Background(), `
					select coalesce(array_agg(p), '{}') from unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p
					 where case when p in ('SELECT', 'INSERT', 'UPDATE')
					            then pg_catalog.has_any_column_privilege($1, $2, p)
					            else pg_catalog.has_table_privilege($1, $2, p) end`,
					role, table).Scan(&privs)
				if err != nil {
					t.Fatal(err)
				}
				if len(privs) > 0 {
					t.Fatalf("%s has %v on %s, a table the access matrix does not cover: add it to relations()", role, privs, table)
				}
			})
		}
		for _, c := range allCallers {
			t.Run(c.desc+" is refused (42501) to select "+table, func(t *testing.T) {
				withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
					tx := asCaller(t, ctx, conn, f, c)
					defer func() { _ = tx.Rollback(ctx) }()
					_, err := tx.Exec(ctx, "select * from "+table)
					if code := pgtest.PgError(err).Code; code != "42501" {
						t.Fatalf("%v, want 42501", err)
					}
				})
			})
		}
	}
}

func runMatrixCase(t *testing.T, f *fixture, r relation, mc matrixCase) {
	t.Helper()
	withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
		tx := asCaller(t, ctx, conn, f, mc.c)
		defer func() { _ = tx.Rollback(ctx) }()
		sql, args := mc.sql(f)
		var (
			rows   int64
			newKey string
			err    error
		)
		// The reporting views are met directly by every caller.
		c := *mc.c
		c.direct = c.direct || r.view
		var first *string
		rows, first, err = execAs(ctx, tx, &c, sql, args...)
		if first != nil {
			newKey = *first
		}
		code := pgtest.PgError(err).Code
		switch mc.want {
		case denied, notUpdatable, conflict, forbidden:
			want := refusedCodes[mc.want]
			if code != want {
				t.Fatalf("%s: got rows=%d err=%v, want SQLSTATE %s", sql, rows, err, want)
			}
			return // the transaction is aborted; the caller compares fingerprints
		case no:
			if err != nil || rows != 0 {
				t.Fatalf("%s: got rows=%d err=%v, want no row and no error", sql, rows, err)
			}
			// Commit the attempt: if the policy failed open, the write is
			// now permanent and the fingerprint check catches it.
			if err := tx.Commit(ctx); err != nil {
				t.Fatalf("commit: %v", err)
			}
			return
		case yes:
			if err != nil {
				t.Fatalf("%s: %v, want it allowed", sql, err)
			}
			if mc.op == "select" && r.view {
				if rows == 0 {
					t.Fatalf("%s: no rows, want the view's rows", sql)
				}
				return
			}
			if rows != 1 {
				t.Fatalf("%s: %d rows, want exactly 1", sql, rows)
			}
			if mc.op != "select" {
				backToSuperuser(t, ctx, tx)
				mc.check(t, ctx, tx, f, newKey)
			}
			// Rolled back by the deferred call: later cases see the fixture.
		}
	})
}

// TestPasswordHashIsUnreadable: no runtime door reads the hash column, even
// for the caller's own account.
func TestPasswordHashIsUnreadable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, c := range allCallers {
		t.Run(c.desc+" cannot read password_hash", func(t *testing.T) {
			withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
				tx := asCaller(t, ctx, conn, f, c)
				defer func() { _ = tx.Rollback(ctx) }()
				var h string
				err := tx.QueryRow(ctx, "select password_hash from app.users where id = $1", f.userA).Scan(&h)
				if code := pgtest.PgError(err).Code; code != "42501" {
					t.Fatalf("got %q, %v; want 42501", h, err)
				}
			})
		})
	}
}

// TestOwnerColumnsCannotBeWritten: nobody moves a row to another owner or
// claims to be another doctor's creator (column grants), not even an admin.
func TestOwnerColumnsCannotBeWritten(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	stmts := []struct{ name, sql string }{
		{"moving A's patient to B", "update app.patients set owner_id = {B} where id = {pA}"},
		{"inserting a patient owned by B", "insert into app.patients (owner_id, name, age) values ({B}, 'Planted', 40)"},
		{"inserting a doctor created by B", "insert into app.doctors (created_by, name, specialization) values ({B}, 'Dr Planted', 'X')"},
		{"re-crediting A's doctor to B", "update app.doctors set created_by = {B} where id = {dA}"},
	}
	before := fingerprint(t, f)
	for _, c := range []*caller{&apiA, &admin, &psqlA, &psqlAAll} {
		for _, s := range stmts {
			t.Run(c.desc+" is refused "+s.name, func(t *testing.T) {
				sql := strings.NewReplacer("{B}", id(f.userB), "{pA}", id(f.patientA), "{dA}", id(f.doctorA)).Replace(s.sql)
				withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
					tx := asCaller(t, ctx, conn, f, c)
					defer func() { _ = tx.Rollback(ctx) }()
					_, err := tx.Exec(ctx, sql)
					if code := pgtest.PgError(err).Code; code != "42501" {
						t.Fatalf("%s: %v, want 42501", sql, err)
					}
				})
				if fingerprint(t, f) != before {
					t.Fatal("data changed")
				}
			})
		}
	}
}

// TestIdentityCannotBeSpoofed looks at app.current_user_id() itself from
// every door, and at the roles a login must not be able to become.
func TestIdentityCannotBeSpoofed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	who := []struct {
		c    *caller
		want func(f *fixture) *int64
	}{
		{&apiA, func(f *fixture) *int64 { return &f.userA }},
		{&apiB, func(f *fixture) *int64 { return &f.userB }},
		{&anonymous, func(*fixture) *int64 { return nil }},
		{&admin, func(f *fixture) *int64 { return &f.admin }},
		{&psqlA, func(f *fixture) *int64 { return &f.userA }},
		{&psqlASet, func(f *fixture) *int64 { return &f.userA }},
		{&psqlASetConfig, func(f *fixture) *int64 { return &f.userA }},
		{&psqlASetRole, func(f *fixture) *int64 { return &f.userA }},
		{&psqlAAll, func(f *fixture) *int64 { return &f.userA }},
		{&unlinked, func(*fixture) *int64 { return nil }},
		// For a psql login the setting is never read, so junk must not
		// even raise an error.
		{&psqlAJunk, func(f *fixture) *int64 { return &f.userA }},
	}
	for _, w := range who {
		t.Run(w.c.desc+" is identified correctly", func(t *testing.T) {
			withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
				tx := asCaller(t, ctx, conn, f, w.c)
				defer func() { _ = tx.Rollback(ctx) }()
				// Asked where it counts: inside the definers every door runs.
				_, got, err := execAs(ctx, tx, w.c, "select app.current_user_id()")
				if err != nil {
					t.Fatal(err)
				}
				want := "NULL"
				if w := w.want(f); w != nil {
					want = id(*w)
				}
				if g := derefString(got); g != want {
					t.Fatalf("app.current_user_id() = %v, want %v", g, want)
				}
			})
		})
	}
	t.Run("a deactivated account has no identity at any door", func(t *testing.T) {
		ctx := context.Background()
		if _, err := f.db.Pool.Exec(ctx, "update app.users set is_active = false where id = $1", f.userA); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if _, err := f.db.Pool.Exec(ctx, "update app.users set is_active = true where id = $1", f.userA); err != nil {
				t.Fatal(err)
			}
		}()
		for _, c := range []*caller{&apiA, &psqlA} {
			withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
				tx := asCaller(t, ctx, conn, f, c)
				defer func() { _ = tx.Rollback(ctx) }()
				n, _, err := execAs(ctx, tx, c, "select id from app.patients")
				if err != nil {
					t.Fatal(err)
				}
				if n != 0 {
					t.Fatalf("%s of a deactivated account sees %d patients", c.desc, n)
				}
			})
		}
	})
	// Becoming a more trusted role is refused outright.
	for _, s := range []struct {
		c    *caller
		role string
	}{
		{&psqlA, "healthcare_api"}, {&psqlA, "healthcare_owner"}, {&psqlA, "healthcare_auth"},
		{&psqlA, "healthcare_reporter"}, {&apiA, "healthcare_owner"}, {&apiA, "healthcare_auth"},
		{&apiA, "healthcare_reporter"}, {&reporting, "healthcare_reporter"}, {&reporting, "healthcare_owner"},
		{&unlinked, "healthcare_api"},
	} {
		t.Run(s.c.desc+" cannot set role "+s.role, func(t *testing.T) {
			withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
				tx := asCaller(t, ctx, conn, f, s.c)
				defer func() { _ = tx.Rollback(ctx) }()
				_, err := tx.Exec(ctx, "set role "+s.role)
				if code := pgtest.PgError(err).Code; code != "42501" {
					t.Fatalf("set role %s: %v, want 42501", s.role, err)
				}
			})
		})
	}
}
