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
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"healthcare/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Login roles are cluster-wide and shared by every test database (pgtest
// creates them idempotently and never drops them). Each test database links
// the psql login to its own user A through app.users.db_role, so parallel
// tests do not interfere.
const (
	loginPsqlA     = "sqltest_psql_alice"
	loginUnlinked  = "sqltest_psql_unlinked"
	loginReporting = "sqltest_reporting"
	loginAuditor   = "sqltest_auditor"
)

// fixture is one test database with two users and an admin, each user owning
// a patient, a doctor, a mapping and a refresh token.
type fixture struct {
	db                   *pgtest.DB
	userA, userB, admin  int64
	patientA, patientA2  int64
	patientB             int64
	doctorA, doctorB     int64
	mappingA, mappingB   int64
	tokenA, tokenB       string
	familyA              string
	usernameA, usernameB string
	// The care fixture's (newCareFixture) accounts and rows; zero otherwise.
	userC, userD, userE int64
	doctorE, mappingE   int64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db := pgtest.New(t)
	db.EnsureLogin(t, loginPsqlA, "healthcare_user")
	db.EnsureLogin(t, loginUnlinked, "healthcare_user")
	db.EnsureLogin(t, loginReporting, "healthcare_reporting")
	f := &fixture{db: db, usernameA: "alice", usernameB: "bob"}
	installDoorExec(t, db)
	q := func(dst any, sql string, args ...any) {
		t.Helper()
		if err := db.Pool.QueryRow(ctx, sql, args...).Scan(dst); err != nil {
			t.Fatalf("fixture %q: %v", sql, err)
		}
	}
	f.userA = pgtest.CreateUser(t, db.Pool, "alice", pgtest.Email("alice@example.com"), pgtest.DBRole(loginPsqlA))
	f.userB = pgtest.CreateUser(t, db.Pool, "bob", pgtest.Email("bob@example.com"))
	f.admin = pgtest.CreateUser(t, db.Pool, "root", pgtest.Admin())
	q(&f.patientA, `insert into app.patients (owner_id, name, age, gender) values ($1, 'Ann Alpha', 34, 'female') returning id`, f.userA)
	q(&f.patientB, `insert into app.patients (owner_id, name, age, gender) values ($1, 'Ben Beta', 51, 'male') returning id`, f.userB)
	q(&f.patientA2, `insert into app.patients (owner_id, name, age, gender) values ($1, 'Al Alpha', 8, 'male') returning id`, f.userA)
	q(&f.doctorA, `insert into app.doctors (created_by, name, specialization) values ($1, 'Dr Alpha', 'Cardiology') returning id`, f.userA)
	q(&f.doctorB, `insert into app.doctors (created_by, name, specialization) values ($1, 'Dr Beta', 'Dermatology') returning id`, f.userB)
	q(&f.mappingA, `insert into app.patient_doctors (patient_id, doctor_id) values ($1, $2) returning id`, f.patientA, f.doctorA)
	q(&f.mappingB, `insert into app.patient_doctors (patient_id, doctor_id) values ($1, $2) returning id`, f.patientB, f.doctorB)
	q(&f.tokenA, `insert into app.refresh_tokens (jti, family, user_id, expires_at) values (gen_random_uuid(), gen_random_uuid(), $1, now() + interval '1 day') returning jti::text`, f.userA)
	q(&f.familyA, `select family::text from app.refresh_tokens where jti = $1::uuid`, f.tokenA)
	q(&f.tokenB, `insert into app.refresh_tokens (jti, family, user_id, expires_at) values (gen_random_uuid(), gen_random_uuid(), $1, now() + interval '1 day') returning jti::text`, f.userB)
	return f
}

// caller is one door into the database.
type caller struct {
	desc  string
	steps func(f *fixture) []string // run inside the transaction, first one becomes the login
	// direct callers meet the app tables themselves; the others (the REST
	// server and psql logins) reach them only inside the api definers, which
	// the matrix reproduces with door_exec.
	direct bool
}

func apiCaller(desc string, user func(f *fixture) string) caller {
	return caller{desc: desc, steps: func(f *fixture) []string {
		return []string{
			"set local session authorization " + pgtest.AppRole,
			// What database.Call sends: transaction-local, '' when anonymous.
			"select set_config('app.user_id', '" + user(f) + "', true)",
		}
	}}
}

func loginCaller(desc, login string, spoof ...string) caller {
	return caller{desc: desc, steps: func(f *fixture) []string {
		steps := []string{"set local session authorization " + login}
		for _, s := range spoof {
			steps = append(steps, strings.ReplaceAll(s, "{B}", strconv.FormatInt(f.userB, 10)))
		}
		return steps
	}}
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

// installDoorExec adds public.door_exec(sql) to one test database: a
// security definer owned by healthcare_access, as every api function and
// records view function is, that runs any statement. Inside it session_user
// is still the caller's login and current_user is healthcare_access, so a
// statement meets exactly the grants and policies the api functions meet.
// It returns the rows returned or affected and the first column of the
// first row. Test databases only: no migration creates anything like it.
func installDoorExec(t *testing.T, db *pgtest.DB) {
	t.Helper()
	ctx := context.Background()
	for _, s := range []string{`
		create function public.door_exec(p_sql text, out n bigint, out val text)
		language plpgsql volatile security definer
		set search_path = pg_catalog, pg_temp
		as $$
		begin
		  if p_sql ~* '^\s*select' then
		    execute format('select count(*), (array_agg(x.v::text))[1] from (%s) x(v)', p_sql) into n, val;
		  elsif p_sql ~* '\mreturning\M' then
		    execute p_sql into val;
		    get diagnostics n = row_count;
		  else
		    execute p_sql;
		    get diagnostics n = row_count;
		  end if;
		end
		$$`,
		`alter function public.door_exec(text) owner to healthcare_access`,
		`grant execute on function public.door_exec(text) to public`,
	} {
		if _, err := db.Pool.Exec(ctx, s); err != nil {
			t.Fatalf("install door_exec: %v", err)
		}
	}
}

// inline replaces $1, $2, ... in sql with the literals of args, so a
// statement can be handed to door_exec as text.
func inline(sql string, args []any) string {
	for i := len(args); i >= 1; i-- {
		var lit string
		switch v := args[i-1].(type) {
		case int64:
			lit = strconv.FormatInt(v, 10)
		case string:
			lit = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		default:
			panic(fmt.Sprintf("inline: unsupported %T", v))
		}
		sql = strings.ReplaceAll(sql, "$"+strconv.Itoa(i), lit)
	}
	return sql
}

// execAs runs sql as c: directly for direct callers, through door_exec for
// the others. It returns the rows returned or affected and the first
// column of the first row.
func execAs(ctx context.Context, tx pgx.Tx, c *caller, sql string, args ...any) (rows int64, first *string, err error) {
	if !c.direct {
		err = tx.QueryRow(ctx, "select n, val from public.door_exec($1)", inline(sql, args)).Scan(&rows, &first)
		return rows, first, err
	}
	rs, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return 0, nil, err
	}
	defer rs.Close()
	for rs.Next() {
		if rows == 0 && len(rs.FieldDescriptions()) > 0 {
			vals, err := rs.Values()
			if err != nil {
				return 0, nil, err
			}
			if vals[0] != nil {
				s := fmt.Sprint(vals[0])
				first = &s
			}
		}
		rows++
	}
	rs.Close()
	if rs.Err() != nil {
		return 0, nil, rs.Err()
	}
	if tag := rs.CommandTag(); !tag.Select() && !strings.Contains(strings.ToLower(sql), "returning") {
		rows = tag.RowsAffected()
	}
	return rows, first, nil
}

var (
	apiA      = apiCaller("API user A", func(f *fixture) string { return id(f.userA) })
	apiB      = apiCaller("API user B", func(f *fixture) string { return id(f.userB) })
	anonymous = apiCaller("anonymous API caller", func(*fixture) string { return "" })
	admin     = apiCaller("admin via the API", func(f *fixture) string { return id(f.admin) })
	psqlA     = loginCaller("psql login of A", loginPsqlA)
	// The three spoofing attempts of issue 2 (session-level on purpose:
	// that is what a psql user would type), and all of them at once.
	psqlASet       = loginCaller("psql login of A after `set app.user_id = B`", loginPsqlA, "set app.user_id = '{B}'")
	psqlASetConfig = loginCaller("psql login of A after set_config(app.user_id, B, false)", loginPsqlA, "select set_config('app.user_id', '{B}', false)")
	psqlASetRole   = loginCaller("psql login of A after `set role healthcare_user`", loginPsqlA, "set role healthcare_user")
	psqlAAll       = loginCaller("psql login of A after set role and set app.user_id = B", loginPsqlA,
		"set role healthcare_user", "set app.user_id = '{B}'", "select set_config('app.user_id', '{B}', false)")
	psqlAJunk = loginCaller("psql login of A after `set app.user_id = 'junk'`", loginPsqlA, "set app.user_id = 'junk'")
	unlinked  = loginCaller("unlinked psql login", loginUnlinked)
	reporting = caller{desc: "reporting login", direct: true, steps: loginCaller("", loginReporting).steps}
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

func derefString(p *string) string {
	if p == nil {
		return "NULL"
	}
	return *p
}

func deref(p *int64) any {
	if p == nil {
		return "NULL"
	}
	return *p
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

// fingerprint digests every row of every app table as the superuser: equal
// fingerprints mean no data changed (updated_at included).
func fingerprint(t *testing.T, f *fixture) string {
	t.Helper()
	var fp string
	err := f.db.Pool.QueryRow(context.Background(), `
		select md5(coalesce(string_agg(r, E'\n' order by r), '')) from (
		  select 'u' || u::text as r from app.users u union all
		  select 'p' || p::text from app.patients p union all
		  select 'd' || d::text from app.doctors d union all
		  select 'm' || m::text from app.patient_doctors m union all
		  select 't' || t::text from app.refresh_tokens t) s`).Scan(&fp)
	if err != nil {
		t.Fatalf("fingerprint: %v", err)
	}
	return fp
}

// asCaller begins a transaction on conn and becomes c.
func asCaller(t *testing.T, ctx context.Context, conn *pgx.Conn, f *fixture, c *caller) pgx.Tx {
	t.Helper()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range c.steps(f) {
		if _, err := tx.Exec(ctx, s); err != nil {
			_ = tx.Rollback(ctx)
			t.Fatalf("become %s: %s: %v", c.desc, s, err)
		}
	}
	return tx
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

// withConn hands a pooled superuser connection to fn and clears whatever
// session-level setting a spoofing case left on it (`set app.user_id`,
// `set role` survive COMMIT).
func withConn(t *testing.T, f *fixture, fn func(ctx context.Context, conn *pgx.Conn)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pc, err := f.db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Release()
	defer func() {
		// RESET ALL skips role and session authorization: reset them by name.
		if _, err := pc.Exec(context.Background(), "reset role; reset session authorization; reset all"); err != nil {
			pc.Conn().Close(context.Background()) // never hand a tainted session back
		}
	}()
	fn(ctx, pc.Conn())
}

// refusal returns the code and field of an api function's refusal object
// ({"error": {...}}, returned instead of raising so that the refused
// attempt's audit event commits), or empty strings for any other answer.
func refusal(t *testing.T, body []byte) (code, field string) {
	t.Helper()
	var r struct {
		Error *struct {
			Code  string  `json:"code"`
			Field *string `json:"field"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &r) != nil || r.Error == nil {
		return "", ""
	}
	if r.Error.Field != nil {
		field = *r.Error.Field
	}
	return r.Error.Code, field
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

// apiCase is one call of an api function by one caller.
type apiCase struct {
	name   string
	c      *caller
	sql    func(f *fixture) (string, []any)
	code   string // expected SQLSTATE; "" = success
	column string // expected COLUMN of the error
	check  func(t *testing.T, f *fixture, body map[string]any)
}

func call(sql string, args ...func(f *fixture) any) func(f *fixture) (string, []any) {
	return func(f *fixture) (string, []any) {
		vals := make([]any, len(args))
		for i, a := range args {
			vals[i] = a(f)
		}
		return sql, vals
	}
}

var (
	pA   = func(f *fixture) any { return f.patientA }
	pB   = func(f *fixture) any { return f.patientB }
	dA   = func(f *fixture) any { return f.doctorA }
	dB   = func(f *fixture) any { return f.doctorB }
	mA   = func(f *fixture) any { return f.mappingA }
	tokA = func(f *fixture) any { return f.tokenA }
)

// resultIDs returns the ids of a page's results, in order.
func resultIDs(t *testing.T, body map[string]any) []int64 {
	t.Helper()
	res, ok := body["results"].([]any)
	if !ok {
		t.Fatalf("no results array in %v", body)
	}
	ids := make([]int64, 0, len(res))
	for _, r := range res {
		ids = append(ids, int64(r.(map[string]any)["id"].(float64)))
	}
	return ids
}

func wantIDs(want func(f *fixture) []int64) func(t *testing.T, f *fixture, body map[string]any) {
	return func(t *testing.T, f *fixture, body map[string]any) {
		t.Helper()
		got, w := resultIDs(t, body), want(f)
		if !slices.Equal(got, w) {
			t.Fatalf("ids %v, want %v", got, w)
		}
		if c := int64(body["count"].(float64)); c != int64(len(w)) {
			t.Fatalf("count %d, want %d", c, len(w))
		}
	}
}

func wantField(key string, want func(f *fixture) any) func(t *testing.T, f *fixture, body map[string]any) {
	return func(t *testing.T, f *fixture, body map[string]any) {
		t.Helper()
		if got, w := fmt.Sprint(body[key]), fmt.Sprint(want(f)); got != w {
			t.Fatalf("%s = %s, want %s (body %v)", key, got, w, body)
		}
	}
}

func TestAPIFunctionsPerCaller(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	onlyA := wantIDs(func(f *fixture) []int64 { return []int64{f.patientA, f.patientA2} })
	list := call("select api.list_patients(50, 0)")
	psqlDoors := []*caller{&psqlA, &psqlASet, &psqlASetConfig, &psqlASetRole, &psqlAAll}
	cases := []apiCase{
		{name: "API user A lists only A's patients", c: &apiA, sql: list, check: onlyA},
		{name: "API user B lists only B's patients", c: &apiB, sql: list, check: wantIDs(func(f *fixture) []int64 { return []int64{f.patientB} })},
		{name: "admin's own list holds only the admin's patients", c: &admin, sql: list, check: wantIDs(func(*fixture) []int64 { return []int64{} })},
		{name: "anonymous API caller listing patients gets RUNAU", c: &anonymous, sql: list, code: "RUNAU"},
		{name: "unlinked psql login listing patients gets RUNAU", c: &unlinked, sql: list, code: "RUNAU"},
		{name: "reporting login cannot call api.list_patients", c: &reporting, sql: list, code: "42501"},

		{name: "API user A gets A's patient", c: &apiA, sql: call("select api.get_patient($1)", pA), check: wantField("id", pA)},
		{name: "API user B getting A's patient gets RNTFD", c: &apiB, sql: call("select api.get_patient($1)", pA), code: "RNTFD"},
		{name: "admin gets A's patient", c: &admin, sql: call("select api.get_patient($1)", pA), check: wantField("user", func(f *fixture) any { return f.userA })},
		{name: "anonymous API caller getting A's patient gets RUNAU", c: &anonymous, sql: call("select api.get_patient($1)", pA), code: "RUNAU"},
		{name: "API user B updating A's patient gets RNTFD", c: &apiB, sql: call("select api.update_patient($1, 'Stolen', null, null)", pA), code: "RNTFD"},
		{name: "API user B deleting A's patient gets RNTFD", c: &apiB, sql: call("select api.delete_patient($1)", pA), code: "RNTFD"},
		{name: "API user A updates A's patient", c: &apiA, sql: call("select api.update_patient($1, 'Renamed', null, 'F')", pA),
			check: func(t *testing.T, f *fixture, b map[string]any) {
				wantField("name", func(*fixture) any { return "Renamed" })(t, f, b)
				wantField("gender", func(*fixture) any { return "F" })(t, f, b)
				wantField("gender_fhir", func(*fixture) any { return "female" })(t, f, b)
				wantField("age", func(*fixture) any { return 34 })(t, f, b)
			}},
		{name: "admin deletes B's patient", c: &admin, sql: call("select api.delete_patient($1)", pB), check: wantField("id", pB)},
		{name: "anonymous API caller creating a patient gets RUNAU", c: &anonymous, sql: call("select api.create_patient('Anon', 30, 'm')"), code: "RUNAU"},
		{name: "unlinked psql login creating a patient gets RUNAU", c: &unlinked, sql: call("select api.create_patient('Nobody', 30, 'm')"), code: "RUNAU"},
		{name: "API user A creates a patient owned by A", c: &apiA, sql: call("select api.create_patient('New', 30, 'm')"),
			check: wantField("user", func(f *fixture) any { return f.userA })},

		{name: "anonymous API caller lists the doctor directory", c: &anonymous, sql: call("select api.list_doctors(null, null, 50, 0)"),
			check: wantIDs(func(f *fixture) []int64 { return []int64{f.doctorA, f.doctorB} })},
		{name: "anonymous API caller gets a doctor", c: &anonymous, sql: call("select api.get_doctor($1)", dA), check: wantField("id", dA)},
		{name: "API user B updating A's doctor gets RFRBD", c: &apiB, sql: call("select api.update_doctor($1, 'Dr Stolen', null)", dA), code: "RFRBD"},
		{name: "API user B deleting A's doctor gets RFRBD", c: &apiB, sql: call("select api.delete_doctor($1)", dA), code: "RFRBD"},
		{name: "API user B updating a doctor that does not exist gets RNTFD", c: &apiB, sql: call("select api.update_doctor(-1, 'X', null)"), code: "RNTFD"},
		{name: "admin updates A's doctor", c: &admin, sql: call("select api.update_doctor($1, null, 'Oncology')", dA),
			check: wantField("specialization", func(*fixture) any { return "Oncology" })},
		{name: "psql login of A (spoofing B) updating B's doctor gets RFRBD", c: &psqlAAll, sql: call("select api.update_doctor($1, 'Dr Stolen', null)", dB), code: "RFRBD"},
		{name: "anonymous API caller creating a doctor gets RUNAU", c: &anonymous, sql: call("select api.create_doctor('Dr Anon', 'X')"), code: "RUNAU"},

		{name: "API user B getting A's mapping gets RNTFD", c: &apiB, sql: call("select api.get_mapping($1)", mA), code: "RNTFD"},
		{name: "API user B deleting A's mapping gets RNTFD", c: &apiB, sql: call("select api.delete_mapping($1)", mA), code: "RNTFD"},
		{name: "API user B mapping A's patient gets RNTFD on patient", c: &apiB, sql: call("select api.create_mapping($1, $2)", pA, dB), code: "RNTFD", column: "patient"},
		{name: "API user B listing A's patient's doctors gets RNTFD", c: &apiB, sql: call("select api.list_patient_doctors($1, 50, 0)", pA), code: "RNTFD"},
		{name: "API user A lists only A's mappings", c: &apiA, sql: call("select api.list_mappings(50, 0)"),
			check: wantIDs(func(f *fixture) []int64 { return []int64{f.mappingA} })},
		{name: "API user A maps A's patient to B's doctor", c: &apiA, sql: call("select api.create_mapping($1, $2)", pA, dB),
			check: wantField("doctor", dB)},
		{name: "API user A sees the caller's own account in me()", c: &apiA, sql: call("select api.me()"),
			check: wantField("username", func(f *fixture) any { return f.usernameA })},
		{name: "anonymous API caller calling me() gets RUNAU", c: &anonymous, sql: call("select api.me()"), code: "RUNAU"},

		// Accounts and tokens: the REST server alone.
		{name: "API login reads credentials", c: &anonymous, sql: call("select api.login_attempt($1, '192.0.2.1', 5, 50, 20, 900) -> 'credentials'", func(f *fixture) any { return f.usernameA }),
			check: wantField("password_hash", func(*fixture) any { return pgtest.FakeHash })},
		{name: "API login revokes a refresh token", c: &anonymous, sql: call("select api.revoke_refresh_token($1::uuid)", tokA),
			check: wantField("revoked", func(*fixture) any { return true })},
	}
	for _, c := range psqlDoors {
		cases = append(cases,
			apiCase{name: c.desc + " lists only A's patients via api.list_patients", c: c, sql: list, check: onlyA},
			apiCase{name: c.desc + " getting B's patient gets RNTFD", c: c, sql: call("select api.get_patient($1)", pB), code: "RNTFD"},
			apiCase{name: c.desc + " sees A in me()", c: c, sql: call("select api.me()"), check: wantField("username", func(f *fixture) any { return f.usernameA })},
		)
	}
	authFns := []struct{ desc, sql string }{
		{"api.login_attempt", "select api.login_attempt('alice', '192.0.2.1', 5, 50, 20, 900)"},
		{"api.register", "select api.register('eve', '', '" + pgtest.FakeHash + "')"},
		{"api.complete_login", "select api.complete_login('alice', '192.0.2.1', 1, gen_random_uuid(), gen_random_uuid(), now())"},
		{"api.rotate_refresh_token", "select api.rotate_refresh_token(gen_random_uuid(), gen_random_uuid(), now())"},
		{"api.revoke_refresh_token", "select api.revoke_refresh_token(gen_random_uuid())"},
		{"app.user_credentials directly", "select app.user_credentials('alice')"},
		{"app.register_user directly", "select app.register_user('eve', '', '" + pgtest.FakeHash + "')"},
		{"app.issue_refresh_token directly", "select app.issue_refresh_token(1, gen_random_uuid(), gen_random_uuid(), now())"},
	}
	for _, c := range []*caller{&psqlA, &psqlAAll, &unlinked, &reporting} {
		for _, fn := range authFns {
			cases = append(cases, apiCase{name: c.desc + " cannot execute " + fn.desc, c: c, sql: call(fn.sql), code: "42501"})
		}
	}

	runAPICases(t, f, cases)
}

// runAPICases runs each case in its own rolled-back transaction and checks
// that no data changed.
func runAPICases(t *testing.T, f *fixture, cases []apiCase) {
	t.Helper()
	before := fingerprint(t, f)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
				tx := asCaller(t, ctx, conn, f, tc.c)
				defer func() { _ = tx.Rollback(ctx) }()
				sql, args := tc.sql(f)
				var body []byte
				err := tx.QueryRow(ctx, sql, args...).Scan(&body)
				pgErr := pgtest.PgError(err)
				code, column := pgErr.Code, pgErr.ColumnName
				if err == nil {
					code, column = refusal(t, body)
				}
				if tc.code != "" {
					if code != tc.code || column != tc.column {
						t.Fatalf("%s: got %s (column %q), %v; want %s (column %q)", sql, code, column, err, tc.code, tc.column)
					}
					return
				}
				if err != nil {
					t.Fatalf("%s: %v", sql, err)
				}
				var m map[string]any
				if err := json.Unmarshal(body, &m); err != nil {
					t.Fatalf("%s returned %s: %v", sql, body, err)
				}
				if tc.check != nil {
					tc.check(t, f, m)
				}
			})
			// Every call was rolled back; denied ones must not have written.
			if fingerprint(t, f) != before {
				t.Fatal("data changed after the call's transaction was rolled back")
			}
		})
	}
}

// TestRefreshTokenReuseRevokesFamily: rotate, then present the rotated token
// again: the family is revoked and the reuse is committed, not raised.
func TestRefreshTokenReuseRevokesFamily(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	status := func(sql string, args ...any) map[string]any {
		t.Helper()
		var m map[string]any
		withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
			tx := asCaller(t, ctx, conn, f, &anonymous)
			var body []byte
			if err := tx.QueryRow(ctx, sql, args...).Scan(&body); err != nil {
				_ = tx.Rollback(ctx)
				t.Fatalf("%s: %v", sql, err)
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatal(err)
			}
		})
		return m
	}
	next := "9a0b5e8e-6a43-4f3a-9c1e-6b1d0c9e7a11"
	if s := status("select api.rotate_refresh_token($1::uuid, $2::uuid, now() + interval '1 day')", f.tokenA, next); s["status"] != "ok" || s["family"] != f.familyA {
		t.Fatalf("first rotation: %v", s)
	}
	if s := status("select api.rotate_refresh_token($1::uuid, gen_random_uuid(), now() + interval '1 day')", f.tokenA); s["status"] != "reused" {
		t.Fatalf("reuse of a rotated token: %v, want status reused", s)
	}
	var live int
	if err := f.db.Pool.QueryRow(ctx, "select count(*) from app.refresh_tokens where family = $1::uuid and revoked_at is null", f.familyA).Scan(&live); err != nil {
		t.Fatal(err)
	}
	if live != 0 {
		t.Fatalf("%d tokens of the reused family still live", live)
	}
	if s := status("select api.rotate_refresh_token($1::uuid, gen_random_uuid(), now() + interval '1 day')", next); s["status"] != "invalid" {
		t.Fatalf("rotating the revoked successor: %v, want invalid", s)
	}
}

// TestPatientQueriesUseIndexes runs api.list_patients and api.get_patient as
// API user A over 20,000 patients of 2,000 owners and captures, through
// auto_explain, the plans of the statements inside them: each must reach
// app.patients through patients_owner_id_id_idx or the primary key, never a
// sequential scan. The policies (`owner_id = (select app.current_user_id())`)
// and the functions' explicit owner filter are what make this possible.
func TestPatientQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	db := pgtest.New(t)
	installDoorExec(t, db)
	pgtest.CreateUsers(t, db.Pool, "owner", 2000)
	if _, err := db.Pool.Exec(ctx, `
		insert into app.patients (owner_id, name, age, gender)
		select u.id, 'Patient ' || u.id || '-' || g, (u.id + g) % 100, (array['male', 'female', 'other', 'unknown'])[1 + g % 4]
		  from app.users u, generate_series(1, 10) g;
		analyze app.users;
		analyze app.patients;`); err != nil {
		t.Fatal(err)
	}
	var userA, patientA int64
	if err := db.Pool.QueryRow(ctx, `select owner_id, min(id) from app.patients where owner_id = (select id from app.users where username = 'owner1000') group by owner_id`).Scan(&userA, &patientA); err != nil {
		t.Fatal(err)
	}

	conn, plans := autoExplainConn(t, ctx, db)
	a := apiCaller("API user A", func(*fixture) string { return id(userA) })
	for _, q := range []struct {
		call, stmt, index string
	}{
		{"select api.list_patients(50, 0)", "from app.patients p where p.owner_id = v_uid", "patients_owner_id_id_idx"},
		{fmt.Sprintf("select api.get_patient(%d)", patientA), "from app.patients p where p.id = p_id", "patients_pkey"},
	} {
		t.Run(q.call+" reaches app.patients by index", func(t *testing.T) {
			*plans = nil
			tx := asCaller(t, ctx, conn, nil, &a)
			defer func() { _ = tx.Rollback(ctx) }()
			var body []byte
			if err := tx.QueryRow(ctx, q.call).Scan(&body); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(body), fmt.Sprintf(`"id" : %d`, patientA)) {
				t.Fatalf("%s did not return A's patient %d: %s", q.call, patientA, body)
			}
			var found int
			for _, p := range *plans {
				if !strings.Contains(p, q.stmt) {
					continue
				}
				found++
				if strings.Contains(p, "Seq Scan on patients") {
					t.Errorf("sequential scan of app.patients:\n%s", p)
				}
				if !strings.Contains(p, "Index") || !strings.Contains(p, q.index) {
					t.Errorf("plan does not use %s:\n%s", q.index, p)
				}
			}
			if found == 0 {
				t.Fatalf("auto_explain reported no statement containing %q; plans seen:\n%s", q.stmt, strings.Join(*plans, "\n---\n"))
			}
		})
	}
	// Every policy and api function asks app.current_user_id() (and
	// app.current_user_is_admin()) first: that lookup must be an index probe
	// too, or every request scans all accounts.
	t.Run("the identity lookup reaches app.users by index", func(t *testing.T) {
		*plans = nil
		tx := asCaller(t, ctx, conn, nil, &a)
		defer func() { _ = tx.Rollback(ctx) }()
		_, got, err := execAs(ctx, tx, &a, "select app.current_user_id() from app.current_user_is_admin()")
		if err != nil || derefString(got) != id(userA) {
			t.Fatalf("app.current_user_id() = %s, %v; want %d", derefString(got), err, userA)
		}
		found := 0
		for _, p := range *plans {
			if !strings.Contains(p, "from app.users u") {
				continue
			}
			found++
			if strings.Contains(p, "Seq Scan on users") {
				t.Errorf("sequential scan of app.users (%d accounts) to identify the caller:\n%s", 2000, p)
			}
		}
		if found == 0 {
			t.Fatalf("auto_explain reported no lookup in app.users; plans seen:\n%s", strings.Join(*plans, "\n---\n"))
		}
	})
}

// autoExplainConn is a superuser connection to db on which auto_explain
// reports, with actual row counts and loops, the plan of every statement
// (nested ones included) into *plans. Loading the module and its settings
// need the superuser; the calls then run as a caller (asCaller), under the
// policies.
func autoExplainConn(t *testing.T, ctx context.Context, db *pgtest.DB) (*pgx.Conn, *[]string) {
	t.Helper()
	cfg, err := pgx.ParseConfig(db.SuperURL)
	if err != nil {
		t.Fatal(err)
	}
	plans := new([]string)
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		if strings.Contains(n.Message, "Query Text:") {
			*plans = append(*plans, n.Message)
		}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	for _, s := range []string{
		"load 'auto_explain'",
		"set auto_explain.log_min_duration = 0",
		"set auto_explain.log_nested_statements = on",
		"set auto_explain.log_analyze = on",
		"set auto_explain.log_timing = off",
		"set auto_explain.log_level = notice",
	} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return conn, plans
}
