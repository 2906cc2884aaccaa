package sql_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/pgtest"
)

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
