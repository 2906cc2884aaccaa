package sql_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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
	// The reporting door shows releases: release this data, as the server
	// would once a day.
	var released string
	q(&released, `select app.release_reports(true)::text`)
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
