package fhirapi_test

import (
	"context"
	"strings"
	"testing"

	"healthcare/internal/pgtest"
)

// TestFHIRQueriesUseIndexes: the plans of the statements the fhir reads
// and searches run (auto_explain with nested statements, sent to this
// session as notices), as the REST server's role, use indexes: their cost
// does not grow with the number of patients, mappings or users. The
// searches run on generic plans from their first call, so these are the
// plans every later call uses.
func TestFHIRQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	ctx := context.Background()
	pgtest.CreateUsers(t, tdb.Pool, "u", 2000)
	for _, s := range []string{
		`insert into app.patients (owner_id, name, age)
		   select u.id, 'p' || i, i % 100 from generate_series(1, 20000) i join app.users u on u.username = 'u' || (1 + i % 2000)`,
		`insert into app.doctors (name, specialization, created_by) select 'd' || g, 's' || (g % 20), 1 from generate_series(1, 500) g`,
		`insert into app.patient_doctors (patient_id, doctor_id) select p.id, 1 + p.id % 500 from app.patients p`,
		`analyze app.users`, `analyze app.patients`, `analyze app.doctors`, `analyze app.patient_doctors`,
	} {
		if _, err := tdb.Pool.Exec(ctx, s); err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
	var uid, pid int64
	if err := tdb.Pool.QueryRow(ctx, `select p.owner_id, p.id from app.patients p order by p.id desc limit 1`).Scan(&uid, &pid); err != nil {
		t.Fatal(err)
	}
	plans := tdb.NewPlans(t)
	const base = "http://127.0.0.1/fhir"
	calls := []struct {
		name, sql string
		args      []any
	}{
		{"patient search", `select fhir.patient_search(p_count => 50, p_base => $1)::text`, []any{base}},
		{"patient search by name", `select fhir.patient_search(p_name => 'p1', p_base => $1)::text`, []any{base}},
		{"patient read", `select fhir.patient($1::bigint)::text`, []any{pid}},
		{"patient search by id", `select fhir.patient_search(p_id => $1, p_base => $2)::text`, []any{pid, base}},
		{"care team search", `select fhir.care_team_search(p_base => $1)::text`, []any{base}},
		{"care team search by subject", `select fhir.care_team_search(p_patient => $1, p_base => $2)::text`, []any{pid, base}},
		{"care team search by participant", `select fhir.care_team_search(p_participant => 7, p_base => $1)::text`, []any{base}},
		{"audit event search", `select fhir.audit_event_search(p_patient => $1, p_base => $2)::text`, []any{pid, base}},
	}
	for _, c := range calls {
		got := plans.Of(t, uid, c.sql, c.args...)
		for _, p := range got {
			for _, table := range []string{"patients", "users", "patient_doctors", "doctors"} {
				if strings.Contains(p, "Seq Scan on "+table+" ") {
					t.Errorf("%s: a statement scans the whole of %s:\n%s", c.name, table, p)
				}
			}
		}
		if testing.Verbose() {
			t.Logf("%s plans:\n%s", c.name, strings.Join(got, "\n---\n"))
		}
	}
}
