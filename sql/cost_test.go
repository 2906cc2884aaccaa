package sql_test

// The database's work per request, as counters that do not move with the
// machine: functions called, rows written, scans and rows fetched, and
// whether the request took a transaction id. TestCostBudget runs each
// benchmarked route's SQL, exactly as the server sends it, on a small fixed
// data set and compares the counters with cost_budget.txt, in the spirit of
// Django's assertNumQueries: a change that makes a route do more fails
// here, and `go test ./sql -run TestCostBudget -update` rewrites the file,
// so a reviewer sees a change's cost in its diff. Buffers touched are left
// out: hint bits and page splits move them from run to run.

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/database"
	"healthcare/internal/pgtest"
)

const costBudgetFile = "cost_budget.txt"

// costLogin is the REST server's stand-in: a member of healthcare_api whose
// sessions track every function call (track_functions is for superusers to
// set, so the login carries it), and of pg_read_all_stats, since migrate
// closes the statistics views to other logins.
const costLogin = "sqltest_cost_app"

// costRoute is one route's call: who makes it and with what.
type costRoute struct {
	key     string // the route's key in cmd/bench
	user    string // username of the caller; "" for anonymous
	fn      database.Func
	args    func(f costFixture) []any
	session bool // send the caller's session, as a signed-in request does
}

// costFixture is the fixed data set: alice owns two patients, bob one;
// drrao is linked to doctor 1, to which alice's first patient and bob's
// patient are mapped; root is an admin.
type costFixture struct {
	users    map[string]int64
	sessions map[string]string
	patients []int64 // alice's two, then bob's
	doctors  []int64
}

var costRoutes = []costRoute{
	{key: "list_doctors", fn: database.FnListDoctors, args: func(costFixture) []any { return []any{nil, nil, 50, 0} }},
	{key: "list_doctors_signed_in", user: "alice", session: true, fn: database.FnListDoctors, args: func(costFixture) []any { return []any{nil, nil, 50, 0} }},
	{key: "get_doctor", fn: database.FnGetDoctor, args: func(f costFixture) []any { return []any{f.doctors[0]} }},
	{key: "list_patients", user: "alice", session: true, fn: database.FnListPatients, args: func(costFixture) []any { return []any{50, 0} }},
	{key: "get_patient", user: "alice", session: true, fn: database.FnGetPatient, args: func(f costFixture) []any { return []any{f.patients[0]} }},
	{key: "get_patient_of_another_user", user: "alice", session: true, fn: database.FnGetPatient, args: func(f costFixture) []any { return []any{f.patients[2]} }},
	{key: "get_patient_as_admin", user: "root", session: true, fn: database.FnGetPatient, args: func(f costFixture) []any { return []any{f.patients[2]} }},
	{key: "create_patient", user: "alice", session: true, fn: database.FnCreatePatient, args: func(costFixture) []any { return []any{"Carol Example", 41, "female"} }},
	{key: "update_patient", user: "alice", session: true, fn: database.FnUpdatePatient, args: func(f costFixture) []any { return []any{f.patients[0], nil, 42, nil, 1} }},
	{key: "create_mapping", user: "alice", session: true, fn: database.FnCreateMapping, args: func(f costFixture) []any { return []any{f.patients[1], f.doctors[1]} }},
	{key: "list_mappings", user: "alice", session: true, fn: database.FnListMappings, args: func(costFixture) []any { return []any{50, 0} }},
	{key: "list_care_patients", user: "drrao", session: true, fn: database.FnListCarePatients, args: func(costFixture) []any { return []any{50, 0} }},
	{key: "get_care_patient", user: "drrao", session: true, fn: database.FnGetCarePatient, args: func(f costFixture) []any { return []any{f.patients[2]} }},
	{key: "fhir_read_patient", user: "alice", session: true, fn: database.FhirPatient, args: func(f costFixture) []any { return []any{f.patients[0]} }},
	{key: "fhir_search_patient", user: "alice", session: true, fn: database.FhirPatientSearch,
		args: func(costFixture) []any { return []any{nil, nil, nil, nil, nil, nil, 50, 0, "http://127.0.0.1/fhir"} }},
	{key: "fhir_search_practitioner", fn: database.FhirPractitionerSearch,
		args: func(costFixture) []any { return []any{nil, nil, nil, 50, 0, "http://127.0.0.1/fhir"} }},
	{key: "fhir_search_care_team", user: "drrao", session: true, fn: database.FhirCareTeamSearch,
		args: func(costFixture) []any { return []any{nil, nil, 50, 0, "http://127.0.0.1/fhir"} }},
}

func seedCostFixture(t *testing.T, db *pgtest.DB) costFixture {
	t.Helper()
	ctx := context.Background()
	f := costFixture{users: map[string]int64{}, sessions: map[string]string{}}
	for _, name := range []string{"alice", "bob", "drrao"} {
		f.users[name] = pgtest.CreateUser(t, db.Pool, name)
	}
	f.users["root"] = pgtest.CreateUser(t, db.Pool, "root", pgtest.Admin())
	for _, name := range []string{"alice", "bob", "drrao", "root"} {
		var family string
		if err := db.Pool.QueryRow(ctx, `insert into app.refresh_tokens (jti, family, user_id, expires_at)
			values (gen_random_uuid(), gen_random_uuid(), $1, now() + interval '1 day') returning family::text`, f.users[name]).Scan(&family); err != nil {
			t.Fatal(err)
		}
		f.sessions[name] = family
	}
	for _, p := range []struct {
		owner, name string
	}{{"alice", "Ann Example"}, {"alice", "Ada Example"}, {"bob", "Ben Example"}} {
		var id int64
		if err := db.Pool.QueryRow(ctx, `insert into app.patients (owner_id, name, age, gender) values ($1, $2, 40, 'female') returning id`,
			f.users[p.owner], p.name).Scan(&id); err != nil {
			t.Fatal(err)
		}
		f.patients = append(f.patients, id)
	}
	for _, d := range []string{"Dr Rao", "Dr Two", "Dr Three"} {
		var id int64
		if err := db.Pool.QueryRow(ctx, `insert into app.doctors (created_by, name, specialization) values ($1, $2, 'Cardiology') returning id`,
			f.users["root"], d).Scan(&id); err != nil {
			t.Fatal(err)
		}
		f.doctors = append(f.doctors, id)
	}
	if _, err := db.Pool.Exec(ctx, `update app.doctors set account_id = $1 where id = $2`, f.users["drrao"], f.doctors[0]); err != nil {
		t.Fatal(err)
	}
	for _, p := range []int64{f.patients[0], f.patients[2]} {
		if _, err := db.Pool.Exec(ctx, `insert into app.patient_doctors (patient_id, doctor_id) values ($1, $2)`, p, f.doctors[0]); err != nil {
			t.Fatal(err)
		}
	}
	// Statistics as of this data, so every run plans alike.
	if _, err := db.Pool.Exec(ctx, `analyze`); err != nil {
		t.Fatal(err)
	}
	return f
}

// costCounters runs r in a transaction that is rolled back and returns its
// counters as "kind object" -> value.
func costCounters(t *testing.T, conn *pgx.Conn, f costFixture, r costRoute) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	user, session := "", any(nil)
	if r.user != "" {
		user = strconv.FormatInt(f.users[r.user], 10)
		if r.session {
			session = f.sessions[r.user]
		}
	}
	if _, err := tx.Exec(ctx, database.IdentitySQL, user, "cost-"+r.key, "5s", session, "127.0.0.1", "off", "1s", ""); err != nil {
		t.Fatalf("%s: identity: %v", r.key, err)
	}
	var out string
	if err := tx.QueryRow(ctx, r.fn.SQL(), r.args(f)...).Scan(&out); err != nil {
		t.Fatalf("%s: %v", r.key, err)
	}
	if strings.Contains(out, `"error"`) && !strings.Contains(r.key, "another") {
		t.Fatalf("%s answered %s", r.key, out)
	}
	rows, err := tx.Query(ctx, `
		select 'calls ' || schemaname || '.' || funcname, calls from pg_stat_xact_user_functions
		union all select 'xid assigned', (pg_current_xact_id_if_assigned() is not null)::int
		union all select k || ' ' || schemaname || '.' || relname, v
		  from pg_stat_xact_user_tables,
		       lateral (values ('inserted', n_tup_ins), ('updated', n_tup_upd), ('deleted', n_tup_del),
		                       ('seq_scans', seq_scan), ('seq_rows_read', seq_tup_read),
		                       ('index_scans', coalesce(idx_scan, 0)), ('index_rows_fetched', coalesce(idx_tup_fetch, 0))) c(k, v)
		 where v > 0`)
	if err != nil {
		t.Fatal(err)
	}
	counters := map[string]int64{}
	for rows.Next() {
		var k string
		var v int64
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		if v > 0 {
			counters[k] = v
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return counters
}

func TestCostBudget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	f := seedCostFixture(t, db)
	url := db.EnsureLogin(t, costLogin, "healthcare_api", "pg_read_all_stats")
	if _, err := db.Pool.Exec(ctx, "alter role "+costLogin+" set track_functions = 'all'"); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range costRoutes {
		// A connection per route: each starts with the same empty caches.
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range costCounters(t, conn, f, r) {
			got[r.key+" "+k] = v
		}
		_ = conn.Close(ctx)
	}
	lines := make([]string, 0, len(got))
	for k, v := range got {
		lines = append(lines, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(lines)
	text := "# Code generated by `go test ./sql -run TestCostBudget -update`. DO NOT EDIT.\n" +
		"# The database's work per route on TestCostBudget's data set: route, counter, object, count.\n" +
		strings.Join(lines, "\n") + "\n"
	if *update {
		if err := os.WriteFile(costBudgetFile, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	raw, err := os.ReadFile(costBudgetFile)
	if err != nil {
		t.Fatalf("%v: generate it with `go test ./sql -run TestCostBudget -update`", err)
	}
	budget := map[string]int64{}
	for _, line := range strings.Split(string(raw), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseInt(line[i+1:], 10, 64)
		if err != nil {
			t.Fatalf("%s: %q: %v", costBudgetFile, line, err)
		}
		budget[line[:i]] = v
	}
	var under []string
	for _, k := range sortedKeys(got) {
		switch b := budget[k]; {
		case got[k] > b:
			t.Errorf("over budget: %s is %d, budget %d", k, got[k], b)
		case got[k] < b:
			under = append(under, fmt.Sprintf("%s is %d, budget %d", k, got[k], b))
		}
	}
	for _, k := range sortedKeys(budget) {
		if _, ok := got[k]; !ok {
			under = append(under, fmt.Sprintf("%s is 0, budget %d", k, budget[k]))
		}
	}
	if t.Failed() {
		t.Log("if the extra work is meant, say why in the change and run `go test ./sql -run TestCostBudget -update`")
	}
	for _, u := range under {
		t.Logf("under budget (tighten it with -update): %s", u)
	}
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
