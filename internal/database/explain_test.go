package database_test

import (
	"context"
	"strings"
	"testing"

	"healthcare/internal/pgtest"
)

// TestPolicyFilteredQueriesUseIndexes guards issue 5 item 3: the plans of
// the statements that api.list_patients and api.get_patient run (the
// identity lookup inside the policies included) use indexes, so their cost
// does not grow with the number of patients or users.
//
// The plans are the real ones (pgtest.Plans): auto_explain with
// log_nested_statements reports every statement run inside the functions
// to this session as notices. The caller is the REST server's role with
// app.user_id set, as database.Call does it.
func TestPolicyFilteredQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	ctx := context.Background()
	const users, patients = 2000, 20000
	pgtest.CreateUsers(t, tdb.Pool, "u", users)
	seed := []string{
		`insert into app.patients (owner_id, name, age)
		   select u.id, 'p' || i, i % 100
		     from generate_series(1, 20000) i join app.users u on u.username = 'u' || (1 + i % 2000)`,
		`analyze app.users`, `analyze app.patients`,
	}
	for _, s := range seed {
		if _, err := tdb.Pool.Exec(ctx, s); err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
	var uid, pid int64
	if err := tdb.Pool.QueryRow(ctx, `select p.owner_id, p.id from app.patients p order by p.id desc limit 1`).Scan(&uid, &pid); err != nil {
		t.Fatal(err)
	}
	_ = patients

	plans := tdb.NewPlans(t)

	calls := []struct {
		name, sql string
		args      []any
	}{
		{"list", `select api.list_patients($1::int, $2::int)::text`, []any{50, 0}},
		{"get", `select api.get_patient($1::bigint)::text`, []any{pid}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			got := plans.Of(t, uid, c.sql, c.args...)
			sawPatients := false
			for _, p := range got {
				if strings.Contains(p, "Seq Scan on patients") || strings.Contains(p, "Seq Scan on users") {
					t.Errorf("%s: a policy-filtered statement scans a whole table:\n%s", c.name, p)
				}
				if strings.Contains(p, " on patients") {
					sawPatients = true
				}
			}
			if !sawPatients {
				t.Errorf("%s: no plan touched patients; plans:\n%s", c.name, strings.Join(got, "\n---\n"))
			}
			if testing.Verbose() {
				t.Logf("%s plans:\n%s", c.name, strings.Join(got, "\n---\n"))
			}
		})
	}
}
