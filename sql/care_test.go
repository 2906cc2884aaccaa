package sql_test

// Care teams (migration 015 (care_team), issue 13): the account linked to a doctor
// record reads the patients mapped to it, read-only, at every door, for
// as long as the mapping exists; the directory is no longer a weapon.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/pgtest"
)

// The psql login of carol, the doctor of A's patient.
const loginPsqlCarol = "sqltest_psql_carol"

// newCareFixture is newFixture plus three accounts:
//   - carol, linked to A's doctor (doctorA, which A created), so the
//     doctor of A's patient A (mappingA); she has a psql login too;
//   - dave, linked to B's doctor (doctorB), so the doctor of B's patient;
//   - erin, who created doctorE (unlinked), to which B mapped patient B
//     (mappingE): a creator whose record serves another user's patient.
func newCareFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	f.db.EnsureLogin(t, loginPsqlCarol, "healthcare_user")
	ctx := context.Background()
	q := func(dst any, sql string, args ...any) {
		t.Helper()
		if err := f.db.Pool.QueryRow(ctx, sql, args...).Scan(dst); err != nil {
			t.Fatalf("care fixture %q: %v", sql, err)
		}
	}
	f.userC = pgtest.CreateUser(t, f.db.Pool, "carol", pgtest.DBRole(loginPsqlCarol))
	f.userD = pgtest.CreateUser(t, f.db.Pool, "dave")
	f.userE = pgtest.CreateUser(t, f.db.Pool, "erin")
	q(&f.doctorE, `insert into app.doctors (created_by, name, specialization) values ($1, 'Dr Echo', 'Neurology') returning id`, f.userE)
	q(&f.mappingE, `insert into app.patient_doctors (patient_id, doctor_id) values ($1, $2) returning id`, f.patientB, f.doctorE)
	var n int
	q(&n, `with a as (update app.doctors set account_id = $2 where id = $1 returning 1),
	            b as (update app.doctors set account_id = $4 where id = $3 returning 1)
	       select (select count(*) from a) + (select count(*) from b)`, f.doctorA, f.userC, f.doctorB, f.userD)
	if n != 2 {
		t.Fatalf("linked %d doctors, want 2", n)
	}
	return f
}

var (
	apiCarol  = apiCaller("API doctor of A's patient (carol)", func(f *fixture) string { return id(f.userC) })
	psqlCarol = loginCaller("psql login of the doctor of A's patient (carol)", loginPsqlCarol)
	apiDave   = apiCaller("API doctor of B's patient (dave)", func(f *fixture) string { return id(f.userD) })
	apiErin   = apiCaller("API creator of an unlinked doctor serving B's patient (erin)", func(f *fixture) string { return id(f.userE) })
	// A created doctorA, now linked to carol: A's creator rights on it are gone.
	apiACreator = apiCaller("API user A, creator of a doctor linked to carol", func(f *fixture) string { return id(f.userA) })
)

var careCallers = []*caller{&apiCarol, &psqlCarol, &apiDave, &apiErin, &apiACreator, &admin}

// careMatrix is what the care callers may do to each relation of
// relations(), whose A and B rows are, in the care fixture: patient A
// (mapped to doctorA, carol's) and patient B (mapped to doctorB, dave's);
// doctorA (created by A, linked to carol) and doctorB (created by B,
// linked to dave); mappingA and mappingB.
func careMatrix(r relation) map[*caller]access {
	carol := map[string]access{
		"app.users":    readOnly(no, no),
		"app.patients": {selA: yes, selB: no, insA: yes, insOwner: partyCarol, updA: no, updB: no, delA: no, delB: no},
		// Her own record: she changes it, but deleting it would remove A's
		// patient's mapping.
		"app.doctors":         {selA: yes, selB: yes, insA: yes, insOwner: partyCarol, updA: yes, updB: no, delA: conflict, delB: no},
		"app.patient_doctors": {selA: yes, selB: no, insA: denied, insB: denied, updA: denied, updB: denied, delA: no, delB: no},
	}
	dave := map[string]access{
		"app.users":           readOnly(no, no),
		"app.patients":        {selA: no, selB: yes, insA: yes, insOwner: partyDave, updA: no, updB: no, delA: no, delB: no},
		"app.doctors":         {selA: yes, selB: yes, insA: yes, insOwner: partyDave, updA: no, updB: yes, delA: no, delB: conflict},
		"app.patient_doctors": {selA: no, selB: yes, insA: denied, insB: denied, updA: denied, updB: denied, delA: no, delB: no},
	}
	erin := map[string]access{
		"app.users":           readOnly(no, no),
		"app.patients":        {selA: no, selB: no, insA: yes, insOwner: partyErin, updA: no, updB: no, delA: no, delB: no},
		"app.doctors":         {selA: yes, selB: yes, insA: yes, insOwner: partyErin, updA: no, updB: no, delA: no, delB: no},
		"app.patient_doctors": {selA: no, selB: no, insA: denied, insB: denied, updA: denied, updB: denied, delA: no, delB: no},
	}
	// A keeps its patients and mappings; its doctor is carol's now.
	creator := map[string]access{
		"app.users":           readOnly(yes, no),
		"app.patients":        r.matrix[&apiA],
		"app.doctors":         {selA: yes, selB: yes, insA: yes, insOwner: partyA, updA: no, updB: no, delA: forbidden, delB: no},
		"app.patient_doctors": r.matrix[&apiA],
	}
	pick := func(m map[string]access) access {
		if a, ok := m[r.name]; ok {
			return a
		}
		return allDenied // refresh tokens, reporting views
	}
	return map[*caller]access{
		&apiCarol: pick(carol), &psqlCarol: pick(carol), &apiDave: pick(dave), &apiErin: pick(erin),
		&apiACreator: pick(creator),
		// Admins do everything they did; their delete of a doctor removes
		// its mappings (no trigger refuses them).
		&admin: r.matrix[&admin],
	}
}

// TestCareTeamAccessMatrix: every relation of the access matrix, every
// operation, for the doctor of a patient (REST and psql), the doctor of
// another patient, the creator of an unlinked doctor record other users'
// patients are mapped to, the creator of a doctor linked to another
// account, and an admin.
func TestCareTeamAccessMatrix(t *testing.T) {
	t.Parallel()
	f := newCareFixture(t)
	before := fingerprint(t, f)
	n := 0
	for _, r := range relations() {
		for _, mc := range r.casesFor(careCallers, careMatrix(r)) {
			n++
			t.Run(mc.name, func(t *testing.T) {
				if mc.want == unset {
					t.Fatal("matrix cell not filled in")
				}
				runMatrixCase(t, f, r, mc)
				if got := fingerprint(t, f); got != before {
					t.Fatalf("data changed after the transaction ended: a refused operation wrote, or an allowed one was not rolled back")
				}
			})
		}
	}
	// 5 tables x 6 callers x 7 ops + 6 second mapping inserts + 3 views x 6 x 4.
	if want := 5*6*7 + 6 + 3*6*4; n != want {
		t.Fatalf("care matrix has %d cases, want %d", n, want)
	}
}

func hasNoKey(key string) func(t *testing.T, f *fixture, body map[string]any) {
	return func(t *testing.T, f *fixture, body map[string]any) {
		t.Helper()
		if v, ok := body[key]; ok {
			t.Fatalf("%q = %v shown; want no such member (body %v)", key, v, body)
		}
	}
}

func all(checks ...func(t *testing.T, f *fixture, body map[string]any)) func(t *testing.T, f *fixture, body map[string]any) {
	return func(t *testing.T, f *fixture, body map[string]any) {
		t.Helper()
		for _, c := range checks {
			c(t, f, body)
		}
	}
}

var (
	dE  = func(f *fixture) any { return f.doctorE }
	mB  = func(f *fixture) any { return f.mappingB }
	pA2 = func(f *fixture) any { return f.patientA2 }
	uC  = func(f *fixture) any { return f.userC }
	uE  = func(f *fixture) any { return f.userE }
)

// TestCareTeamAPIFunctions: what each api function answers the care
// callers, at the REST door and the psql door.
func TestCareTeamAPIFunctions(t *testing.T) {
	t.Parallel()
	f := newCareFixture(t)
	onlyPA := wantIDs(func(f *fixture) []int64 { return []int64{f.patientA} })
	careList := call("select api.list_care_patients(50, 0)")
	cases := []apiCase{
		{name: "anonymous API caller listing the care view gets RUNAU", c: &anonymous, sql: careList, code: "RUNAU"},
		{name: "unlinked psql login listing the care view gets RUNAU", c: &unlinked, sql: careList, code: "RUNAU"},
		{name: "reporting login cannot call api.list_care_patients", c: &reporting, sql: careList, code: "42501"},
		{name: "API user A, linked to no doctor, has an empty care view", c: &apiA, sql: careList, check: wantIDs(func(*fixture) []int64 { return []int64{} })},
		{name: "creator erin, linked to no doctor, has an empty care view", c: &apiErin, sql: careList, check: wantIDs(func(*fixture) []int64 { return []int64{} })},
		{name: "dave's care view holds B's patient only", c: &apiDave, sql: careList, check: wantIDs(func(f *fixture) []int64 { return []int64{f.patientB} })},
		{name: "dave getting A's patient in care gets RNTFD", c: &apiDave, sql: call("select api.get_care_patient($1)", pA), code: "RNTFD"},
		{name: "dave deleting his doctor, which B's patient is mapped to, gets RCNFL", c: &apiDave, sql: call("select api.delete_doctor($1)", dB), code: "RCNFL"},
		{name: "dave updates his own doctor record", c: &apiDave, sql: call("select api.update_doctor($1, 'Dr Dave', null)", dB),
			check: wantField("name", func(*fixture) any { return "Dr Dave" })},

		{name: "erin, creator of an unlinked doctor serving B's patient, updating it gets RFRBD", c: &apiErin, sql: call("select api.update_doctor($1, 'Dr Hijack', null)", dE), code: "RFRBD"},
		{name: "erin deleting that doctor gets RCNFL", c: &apiErin, sql: call("select api.delete_doctor($1)", dE), code: "RCNFL"},
		{name: "erin's own doctor shows no account to her", c: &apiErin, sql: call("select api.get_doctor($1)", dE), check: hasNoKey("account")},
		{name: "API user A updating A's doctor, now linked to carol, gets RFRBD", c: &apiACreator, sql: call("select api.update_doctor($1, 'Dr Hijack', null)", dA), code: "RFRBD"},
		{name: "API user A deleting A's doctor, now linked to carol, gets RFRBD", c: &apiACreator, sql: call("select api.delete_doctor($1)", dA), code: "RFRBD"},
		{name: "API user A sees no account on A's doctor", c: &apiA, sql: call("select api.get_doctor($1)", dA), check: hasNoKey("account")},
		{name: "API user A still lists only A's patients", c: &apiA, sql: call("select api.list_patients(50, 0)"),
			check: wantIDs(func(f *fixture) []int64 { return []int64{f.patientA, f.patientA2} })},
		{name: "API user A reads A's patient's access log", c: &apiA, sql: call("select api.patient_access_log($1, 50, 0)", pA)},
		{name: "anonymous API caller sees no account on A's doctor", c: &anonymous, sql: call("select api.get_doctor($1)", dA), check: hasNoKey("account")},

		{name: "admin links erin to her doctor", c: &admin, sql: call("select api.link_doctor_account($1, $2)", dE, uE), check: wantField("account", uE)},
		{name: "admin linking carol, who has a doctor record, to another gets RCNFL on user", c: &admin, sql: call("select api.link_doctor_account($1, $2)", dE, uC), code: "RCNFL", column: "user"},
		{name: "admin linking a missing user gets RNTFD on user", c: &admin, sql: call("select api.link_doctor_account($1, 987654)", dE), code: "RNTFD", column: "user"},
		{name: "admin linking a missing doctor gets RNTFD", c: &admin, sql: call("select api.link_doctor_account(-1, $1)", uE), code: "RNTFD"},
		{name: "admin unlinks carol's doctor", c: &admin, sql: call("select api.unlink_doctor_account($1)", dA), check: wantField("account", func(*fixture) any { return nil })},
		{name: "admin sees carol on A's doctor", c: &admin, sql: call("select api.get_doctor($1)", dA), check: wantField("account", uC)},
		{name: "admin sees account null on an unlinked doctor", c: &admin, sql: call("select api.get_doctor($1)", dE), check: wantField("account", func(*fixture) any { return nil })},
		{name: "admin updates carol's doctor", c: &admin, sql: call("select api.update_doctor($1, null, 'Oncology')", dA), check: wantField("specialization", func(*fixture) any { return "Oncology" })},
		{name: "admin deletes erin's doctor, which B's patient is mapped to", c: &admin, sql: call("select api.delete_doctor($1)", dE), check: wantField("id", dE)},
		{name: "admin's care view is empty: admins read patients, not care", c: &admin, sql: careList, check: wantIDs(func(*fixture) []int64 { return []int64{} })},
	}
	for _, c := range []*caller{&apiCarol, &psqlCarol} {
		cases = append(cases,
			apiCase{name: c.desc + " lists A's patient in care", c: c, sql: careList, check: func(t *testing.T, f *fixture, b map[string]any) {
				onlyPA(t, f, b)
				r := b["results"].([]any)[0].(map[string]any)
				if r["mapping"] != float64(f.mappingA) || r["mapped_at"] == nil || r["name"] != "Ann Alpha" || r["user"] != float64(f.userA) {
					t.Fatalf("care entry %v, want A's patient with mapping %d and its date", r, f.mappingA)
				}
			}},
			apiCase{name: c.desc + " gets A's patient in care", c: c, sql: call("select api.get_care_patient($1)", pA),
				check: all(wantField("id", pA), wantField("mapping", mA))},
			apiCase{name: c.desc + " getting A's other patient in care gets RNTFD", c: c, sql: call("select api.get_care_patient($1)", pA2), code: "RNTFD"},
			apiCase{name: c.desc + " getting B's patient in care gets RNTFD", c: c, sql: call("select api.get_care_patient($1)", pB), code: "RNTFD"},
			apiCase{name: c.desc + " reads A's patient through the policies", c: c, sql: call("select api.get_patient($1)", pA), check: wantField("id", pA)},
			apiCase{name: c.desc + " getting A's other patient gets RNTFD", c: c, sql: call("select api.get_patient($1)", pA2), code: "RNTFD"},
			apiCase{name: c.desc + " lists none of A's patients among its own", c: c, sql: call("select api.list_patients(50, 0)"),
				check: wantIDs(func(*fixture) []int64 { return []int64{} })},
			apiCase{name: c.desc + " updating A's patient gets RFRBD", c: c, sql: call("select api.update_patient($1, 'Changed', null, null)", pA), code: "RFRBD"},
			apiCase{name: c.desc + " deleting A's patient gets RFRBD", c: c, sql: call("select api.delete_patient($1)", pA), code: "RFRBD"},
			apiCase{name: c.desc + " updating A's other patient gets RNTFD", c: c, sql: call("select api.update_patient($1, 'Changed', null, null)", pA2), code: "RNTFD"},
			apiCase{name: c.desc + " deleting B's patient gets RNTFD", c: c, sql: call("select api.delete_patient($1)", pB), code: "RNTFD"},
			apiCase{name: c.desc + " mapping A's patient gets RFRBD on patient", c: c, sql: call("select api.create_mapping($1, $2)", pA, dB), code: "RFRBD", column: "patient"},
			apiCase{name: c.desc + " mapping B's patient gets RNTFD on patient", c: c, sql: call("select api.create_mapping($1, $2)", pB, dA), code: "RNTFD", column: "patient"},
			apiCase{name: c.desc + " reads its own mapping", c: c, sql: call("select api.get_mapping($1)", mA), check: wantField("doctor", dA)},
			apiCase{name: c.desc + " deleting its own mapping gets RFRBD", c: c, sql: call("select api.delete_mapping($1)", mA), code: "RFRBD"},
			apiCase{name: c.desc + " deleting B's mapping gets RNTFD", c: c, sql: call("select api.delete_mapping($1)", mB), code: "RNTFD"},
			apiCase{name: c.desc + " sees only itself among A's patient's doctors", c: c, sql: call("select api.list_patient_doctors($1, 50, 0)", pA),
				check: wantIDs(func(f *fixture) []int64 { return []int64{f.doctorA} })},
			apiCase{name: c.desc + " reading A's patient's access log gets RFRBD", c: c, sql: call("select api.patient_access_log($1, 50, 0)", pA), code: "RFRBD"},
			apiCase{name: c.desc + " updates its own doctor record", c: c, sql: call("select api.update_doctor($1, 'Dr Carol', null)", dA),
				check: wantField("name", func(*fixture) any { return "Dr Carol" })},
			apiCase{name: c.desc + " updating B's doctor gets RFRBD", c: c, sql: call("select api.update_doctor($1, 'Dr Carol', null)", dB), code: "RFRBD"},
			apiCase{name: c.desc + " deleting its own doctor, which A's patient is mapped to, gets RCNFL", c: c, sql: call("select api.delete_doctor($1)", dA), code: "RCNFL"},
			apiCase{name: c.desc + " sees its account on its own doctor", c: c, sql: call("select api.get_doctor($1)", dA), check: wantField("account", uC)},
			apiCase{name: c.desc + " sees no account on B's doctor", c: c, sql: call("select api.get_doctor($1)", dB), check: hasNoKey("account")},
			apiCase{name: c.desc + " linking an account gets RFRBD", c: c, sql: call("select api.link_doctor_account($1, $2)", dE, uC), code: "RFRBD"},
			apiCase{name: c.desc + " unlinking its own doctor gets RFRBD", c: c, sql: call("select api.unlink_doctor_account($1)", dA), code: "RFRBD"},
		)
	}
	for _, c := range []*caller{&apiA, &apiB} {
		cases = append(cases,
			apiCase{name: c.desc + " linking an account gets RFRBD", c: c, sql: call("select api.link_doctor_account($1, $2)", dE, uE), code: "RFRBD"},
			apiCase{name: c.desc + " unlinking carol's doctor gets RFRBD", c: c, sql: call("select api.unlink_doctor_account($1)", dA), code: "RFRBD"},
		)
	}
	runAPICases(t, f, cases)

	t.Run("the doctor list shows the account to the linked user only", func(t *testing.T) {
		accounts := func(c *caller) map[int64]any {
			t.Helper()
			out := map[int64]any{}
			withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
				tx := asCaller(t, ctx, conn, f, c)
				defer func() { _ = tx.Rollback(ctx) }()
				var page struct{ Results []map[string]any }
				var body []byte
				if err := tx.QueryRow(ctx, "select api.list_doctors(null, null, 50, 0)").Scan(&body); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(body, &page); err != nil {
					t.Fatal(err)
				}
				for _, d := range page.Results {
					if a, ok := d["account"]; ok {
						out[int64(d["id"].(float64))] = a
					}
				}
			})
			return out
		}
		if got := accounts(&apiCarol); len(got) != 1 || got[f.doctorA] != float64(f.userC) {
			t.Errorf("carol sees accounts %v, want only her own on doctor %d", got, f.doctorA)
		}
		if got := accounts(&apiA); len(got) != 0 {
			t.Errorf("A sees accounts %v, want none", got)
		}
		if got := accounts(&admin); len(got) != 3 || got[f.doctorB] != float64(f.userD) || got[f.doctorE] != nil {
			t.Errorf("admin sees accounts %v, want all three doctors', erin's null", got)
		}
	})
}

// TestCarePatientIsThePatientAndItsMapping: a care entry is the patient
// exactly as GET /api/patients/<id>/ shows it (app.patient_json), then the
// mapping's id and date; app.care_patient_json repeats the members of
// app.patient_json, and this keeps them in step.
func TestCarePatientIsThePatientAndItsMapping(t *testing.T) {
	t.Parallel()
	f := newCareFixture(t)
	var patient, care []byte
	withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
		tx := asCaller(t, ctx, conn, f, &apiCarol)
		defer func() { _ = tx.Rollback(ctx) }()
		if err := tx.QueryRow(ctx, "select api.get_patient($1)::text, api.get_care_patient($1)::text", f.patientA).Scan(&patient, &care); err != nil {
			t.Fatal(err)
		}
	})
	var p, c map[string]any
	if err := json.Unmarshal(patient, &p); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(care, &c); err != nil {
		t.Fatal(err)
	}
	for k, v := range p {
		if fmt.Sprint(c[k]) != fmt.Sprint(v) {
			t.Errorf("care entry's %s = %v, the patient's %v", k, c[k], v)
		}
	}
	if len(c) != len(p)+2 || c["mapping"] != float64(f.mappingA) || c["mapped_at"] == nil {
		t.Errorf("care entry %s, want the patient %s and mapping, mapped_at", care, patient)
	}
	// The same order of members, too.
	if prefix := strings.TrimSuffix(string(patient), "}"); !strings.HasPrefix(string(care), prefix+", ") {
		t.Errorf("care entry %s does not start with the patient's members %s", care, prefix)
	}
}

// TestCareAccessEndsWithTheMapping: the judgement. The doctor
// reads the patient at both doors; the owner removes the mapping; the
// doctor's next request is refused at both doors. Unlinking the account
// ends the access the same way.
func TestCareAccessEndsWithTheMapping(t *testing.T) {
	t.Parallel()
	f := newCareFixture(t)
	f.db.EnsureLogin(t, "sqltest_app", "healthcare_api")
	carol := restCaller("carol", func(f *fixture) string { return id(f.userC) })
	alice := restCaller("alice", func(f *fixture) string { return id(f.userA) })
	root := restCaller("root", func(f *fixture) string { return id(f.admin) })
	dave := restCaller("dave", func(f *fixture) string { return id(f.userD) })
	reads := func(c *caller, psql bool, patient int64) map[string]bool {
		t.Helper()
		got := map[string]bool{}
		// A refusal is a returned error object over REST, and raised
		// (RNTFD) at the psql door.
		refused := func(sql string) bool {
			t.Helper()
			out, err := tryAs(t, f, c, sql)
			if code := pgtest.PgError(err).Code; err != nil && (!psql || code != "RNTFD") {
				t.Fatalf("%s: %v", sql, err)
			}
			return err != nil || strings.Contains(out, `"error"`)
		}
		got["get_care_patient"] = !refused(fmt.Sprintf("select api.get_care_patient(%d)::text", patient))
		got["get_patient"] = !refused(fmt.Sprintf("select api.get_patient(%d)::text", patient))
		got["list_care_patients"] = strings.Contains(commitAs(t, f, c, "select api.list_care_patients(50, 0)::text"), fmt.Sprintf(`"id" : %d,`, patient))
		if psql {
			got["records.care_patients"] = commitAs(t, f, c, fmt.Sprintf("select count(*) from records.care_patients where id = %d", patient)) == "1"
			got["records.patients"] = commitAs(t, f, c, fmt.Sprintf("select count(*) from records.patients where id = %d", patient)) == "1"
		}
		return got
	}
	check := func(what string, got map[string]bool, want bool) {
		t.Helper()
		for door, ok := range got {
			if ok != want {
				t.Errorf("%s: %s reads the patient = %v, want %v", what, door, ok, want)
			}
		}
	}
	check("carol over REST before", reads(&carol, false, f.patientA), true)
	check("carol over psql before", reads(&psqlCarol, true, f.patientA), true)
	// The owner removes the mapping (REST), and the next request is refused.
	if out := commitAs(t, f, &alice, fmt.Sprintf("select api.delete_mapping(%d)::text", f.mappingA)); strings.Contains(out, "error") {
		t.Fatalf("alice's delete of her mapping: %s", out)
	}
	check("carol over REST after the mapping went", reads(&carol, false, f.patientA), false)
	check("carol over psql after the mapping went", reads(&psqlCarol, true, f.patientA), false)
	if out := commitAs(t, f, &carol, fmt.Sprintf("select api.get_care_patient(%d)::text", f.patientA)); !strings.Contains(out, "RNTFD") {
		t.Fatalf("carol's read after the mapping went: %s, want RNTFD", out)
	}

	// Unlinking ends dave's access to B's patient the same way.
	check("dave before", reads(&dave, false, f.patientB), true)
	commitAs(t, f, &root, fmt.Sprintf("select api.unlink_doctor_account(%d)::text", f.doctorB))
	check("dave after his account was unlinked", reads(&dave, false, f.patientB), false)
}

// TestCareReadsAreAudited: every care-team read is an event, and the
// owner's access log shows the doctor opened the record; an admin's
// delete of a doctor records the removal of other users' mappings.
func TestCareReadsAreAudited(t *testing.T) {
	t.Parallel()
	f := newCareFixture(t)
	f.db.EnsureLogin(t, "sqltest_app", "healthcare_api")
	carol := restCaller("carol", func(f *fixture) string { return id(f.userC) })
	alice := restCaller("alice", func(f *fixture) string { return id(f.userA) })
	root := restCaller("root", func(f *fixture) string { return id(f.admin) })

	before := lastEventID(t, f)
	commitAs(t, f, &carol, fmt.Sprintf("select api.get_care_patient(%d)::text", f.patientA))
	commitAs(t, f, &carol, "select api.list_care_patients(50, 0)::text")
	commitAs(t, f, &psqlCarol, "select id from records.care_patients")
	commitAs(t, f, &carol, fmt.Sprintf("select api.get_care_patient(%d)::text", f.patientA2))
	commitAs(t, f, &carol, fmt.Sprintf("select api.update_patient(%d, 'Changed', null, null)::text", f.patientA))
	var got []string
	for _, e := range eventsSince(t, f, before) {
		if deref(e.user) != f.userC {
			t.Fatalf("event of another user: %v", e)
		}
		got = append(got, fmt.Sprintf("%s/%s/%s/%v/%v", e.door, e.action, e.outcome, deref(e.patient), e.patients))
	}
	want := []string{
		fmt.Sprintf("rest/read/ok/%d/[]", f.patientA),
		fmt.Sprintf("rest/list/ok/NULL/[%d]", f.patientA),
		fmt.Sprintf("psql/list/ok/NULL/[%d]", f.patientA),
		fmt.Sprintf("rest/read/forbidden/%d/[]", f.patientA2),
		fmt.Sprintf("rest/update/forbidden/%d/[]", f.patientA),
	}
	if !slices.Equal(got, want) {
		t.Fatalf("carol's events:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	var log struct {
		Results []struct {
			User    *int64
			Door    string
			Action  string
			Outcome string
			Detail  map[string]any
		}
	}
	if err := json.Unmarshal([]byte(commitAs(t, f, &alice, fmt.Sprintf("select api.patient_access_log(%d, 50, 0)::text", f.patientA))), &log); err != nil {
		t.Fatal(err)
	}
	var carolsReads []string
	for _, r := range log.Results {
		if r.User != nil && *r.User == f.userC {
			carolsReads = append(carolsReads, r.Door+"/"+r.Action+"/"+r.Outcome+"/"+fmt.Sprint(r.Detail["via"]))
		}
	}
	if want := []string{"psql/list/ok/records.care_patients", "rest/list/ok/care_team", "rest/read/ok/care_team"}; !slices.Equal(carolsReads, want) {
		t.Fatalf("alice's access log shows carol's accesses %v, want %v (newest first; her refused attempts are for admins)", carolsReads, want)
	}

	// An admin removes erin's doctor: the mapping of B's patient goes with
	// it, recorded under the admin.
	before = lastEventID(t, f)
	if out := commitAs(t, f, &root, fmt.Sprintf("select api.delete_doctor(%d)::text", f.doctorE)); strings.Contains(out, "error") {
		t.Fatalf("admin's delete: %s", out)
	}
	// Two events: the mapping's delete (with B's patient) and the doctor's
	// own (migration 014 records doctor changes too, with no patient).
	var mappings []event
	for _, e := range eventsSince(t, f, before) {
		if e.patient != nil {
			mappings = append(mappings, e)
		}
	}
	if len(mappings) != 1 || deref(mappings[0].user) != f.admin || mappings[0].action != "delete" || deref(mappings[0].patient) != f.patientB {
		t.Fatalf("patient events of the admin's delete: %v, want one mapping delete of B's patient", mappings)
	}
}

// TestCareRecordsViewIsSealed: records.care_patients shows a psql login
// the patients in its care and nothing of how: no table in the plan, and
// the same plan whether a hidden patient exists or not.
func TestCareRecordsViewIsSealed(t *testing.T) {
	t.Parallel()
	f := newCareFixture(t)
	const explain = "explain (analyze, costs off, timing off, summary off, format json) "
	q := fmt.Sprintf("select 1 from records.care_patients where id = %d", f.patientB)
	for _, c := range []*caller{&psqlCarol, &psqlA, &unlinked} {
		t.Run(c.desc, func(t *testing.T) {
			exists := explainAs(t, f, c, "", explain+q)
			absent := explainAs(t, f, c, fmt.Sprintf("delete from app.patients where id = %d", f.patientB), explain+q)
			if exists != absent {
				t.Fatalf("the plan tells whether B's patient exists:\nwith it:    %s\nwithout it: %s", exists, absent)
			}
			if strings.Contains(exists, `"Relation Name"`) {
				t.Fatalf("the plan scans a table: %s", exists)
			}
		})
	}
	for _, c := range []*caller{&apiCarol, &reporting} {
		t.Run(c.desc+" has no records.care_patients", func(t *testing.T) {
			withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
				tx := asCaller(t, ctx, conn, f, c)
				defer func() { _ = tx.Rollback(ctx) }()
				_, err := tx.Exec(ctx, "select * from records.care_patients")
				if code := pgtest.PgError(err).Code; code != "42501" {
					t.Fatalf("%v, want 42501", err)
				}
			})
		})
	}
	t.Run("the view holds carol's patients only and refuses writes", func(t *testing.T) {
		withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
			tx := asCaller(t, ctx, conn, f, &psqlCarol)
			defer func() { _ = tx.Rollback(ctx) }()
			var ids string
			if err := tx.QueryRow(ctx, "select coalesce(string_agg(id::text || '/' || mapping_id::text, ','), '') from records.care_patients").Scan(&ids); err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("%d/%d", f.patientA, f.mappingA); ids != want {
				t.Fatalf("records.care_patients = %q, want %q", ids, want)
			}
			_, err := tx.Exec(ctx, "delete from records.care_patients")
			if code := pgtest.PgError(err).Code; code != "42501" && code != "55000" {
				t.Fatalf("delete from the view: %v, want 42501 or 55000", err)
			}
		})
	})
}

// TestCarePolicyPlans runs the care functions as a doctor over 20,000
// patients, 40,000 mappings and 400 linked doctors, and captures through
// auto_explain the plans of the statements inside them: the care policy
// is one indexed scan of the doctor's mappings per statement (loops=1),
// the mappings are walked by (doctor_id, patient_id), the patients by
// primary key, the doctor record by its account, and nothing is scanned
// sequentially.
func TestCarePolicyPlans(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	db := pgtest.New(t)
	pgtest.CreateUsers(t, db.Pool, "owner", 2000)
	if _, err := db.Pool.Exec(ctx, `
		insert into app.patients (owner_id, name, age, gender)
		select u.id, 'Patient ' || u.id || '-' || g, (u.id + g) % 100, 'other'
		  from app.users u, generate_series(1, 10) g;
		insert into app.doctors (name, specialization, created_by, account_id)
		select 'Doctor ' || g, 'Cardiology', g, g from generate_series(1, 400) g;
		insert into app.patient_doctors (patient_id, doctor_id)
		select p.id, 1 + (p.id + k) % 400 from app.patients p, generate_series(0, 1) k;
		analyze app.users; analyze app.patients; analyze app.doctors; analyze app.patient_doctors;`); err != nil {
		t.Fatal(err)
	}
	var doctorUser, doctorID, carePatient int64
	if err := db.Pool.QueryRow(ctx, `select d.account_id, d.id, min(m.patient_id) from app.doctors d join app.patient_doctors m on m.doctor_id = d.id
	     where d.id = 200 group by 1, 2`).Scan(&doctorUser, &doctorID, &carePatient); err != nil {
		t.Fatal(err)
	}
	conn, plans := autoExplainConn(t, ctx, db)
	doc := apiCaller("the doctor", func(*fixture) string { return id(doctorUser) })
	for _, q := range []struct {
		call    string
		stmt    []string // every one is in the statement's text
		indexes []string
	}{
		{"select api.list_care_patients(50, 0)", []string{"where m.doctor_id = v_doc\n           order by"}, []string{"patient_doctors_doctor_id_patient_id_idx", "patients_pkey"}},
		{"select api.list_care_patients(50, 0)", []string{"select count(*)", "from app.patient_doctors m where m.doctor_id = v_doc"}, []string{"patient_doctors_doctor_id_patient_id_idx"}},
		{fmt.Sprintf("select api.get_care_patient(%d)", carePatient), []string{"where m.doctor_id = v_doc and m.patient_id = p_id"}, []string{"patients_pkey"}},
		{fmt.Sprintf("select api.get_patient(%d)", carePatient), []string{"from app.patients p where p.id = p_id"}, []string{"patients_pkey"}},
	} {
		t.Run(q.call+": "+q.stmt[0], func(t *testing.T) {
			*plans = nil
			tx := asCaller(t, ctx, conn, nil, &doc)
			defer func() { _ = tx.Rollback(ctx) }()
			var body string
			if err := tx.QueryRow(ctx, q.call+"::text").Scan(&body); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(body, fmt.Sprintf(`"id" : %d,`, carePatient)) {
				t.Fatalf("%s did not return the doctor's patient %d: %.300s", q.call, carePatient, body)
			}
			found := 0
			for _, p := range *plans {
				if !containsAll(p, q.stmt) {
					continue
				}
				found++
				if strings.Contains(p, "Seq Scan") {
					t.Errorf("sequential scan:\n%s", p)
				}
				for _, idx := range q.indexes {
					if !strings.Contains(p, idx) {
						t.Errorf("plan does not use %s:\n%s", idx, p)
					}
				}
				// The care policy: the function runs once, not per row.
				for _, line := range strings.Split(p, "\n") {
					if strings.Contains(line, "care_patient_ids") && !strings.Contains(line, "loops=1)") && !strings.Contains(line, "never executed") {
						t.Errorf("the care policy's function runs more than once per statement: %s\n%s", line, p)
					}
				}
			}
			if found == 0 {
				t.Fatalf("auto_explain reported no statement containing %q; plans seen:\n%s", q.stmt, strings.Join(*plans, "\n---\n"))
			}
			if q.stmt[0] == "from app.patients p where p.id = p_id" && !strings.Contains(strings.Join(*plans, "\n"), "Function Scan on care_patient_ids") {
				t.Errorf("the doctor's read of a patient in care did not go through the care policy's function:\n%s", strings.Join(*plans, "\n---\n"))
			}
		})
	}
	// The helpers the policies call: the doctor record by its account,
	// the doctor's mappings by (doctor_id, patient_id).
	t.Run("the care helpers reach their tables by index", func(t *testing.T) {
		*plans = nil
		tx := asCaller(t, ctx, conn, nil, &doc)
		defer func() { _ = tx.Rollback(ctx) }()
		var body string
		if err := tx.QueryRow(ctx, "select api.list_care_patients(50, 0)::text").Scan(&body); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"from app.doctors d where d.account_id":                       "doctors_account_id_key",
			"select m.patient_id from app.patient_doctors m where m.doct": "patient_doctors_doctor_id_patient_id_idx",
		}
		for stmt, idx := range want {
			found := 0
			for _, p := range *plans {
				if !strings.Contains(p, stmt) {
					continue
				}
				found++
				if strings.Contains(p, "Seq Scan") || !strings.Contains(p, idx) {
					t.Errorf("plan of %q does not use %s:\n%s", stmt, idx, p)
				}
			}
			if found == 0 {
				t.Errorf("auto_explain reported no statement containing %q; plans seen:\n%s", stmt, strings.Join(*plans, "\n---\n"))
			}
		}
	})
	_ = doctorID
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
