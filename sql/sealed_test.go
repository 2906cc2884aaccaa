package sql_test

// Sealed doors: nothing a login can run (EXPLAIN ANALYZE, planner
// estimates, statistics views, locks) reveals a row it may not read.
// Before migration 009 each of these tests failed: psql logins and the
// REST login held privileges on the app tables themselves.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/pgtest"
)

// appTables lists the tables of schema app.
func appTables(t *testing.T, f *fixture) []string {
	t.Helper()
	var out []string
	for _, r := range queryStrings(t, f.db, `
		select c.oid::regclass::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
		 where n.nspname = 'app' and c.relkind in ('r', 'p') order by 1`) {
		out = append(out, r[0])
	}
	if len(out) < 5 {
		t.Fatalf("found only %v in app", out)
	}
	return out
}

// TestNoLoginReachesAppTables: every door's login is refused every app
// table, for reading, for EXPLAIN and for LOCK, and sees no planner
// statistics of them.
func TestNoLoginReachesAppTables(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, err := f.db.Pool.Exec(context.Background(), "analyze"); err != nil {
		t.Fatal(err)
	}
	tables := appTables(t, f)
	for _, c := range allCallers {
		for _, table := range tables {
			for _, stmt := range []string{
				"select 1 from " + table + " limit 1",
				"explain select 1 from " + table,
				"lock table " + table + " in access share mode",
				"lock table " + table + " in access exclusive mode",
			} {
				t.Run(c.desc+" is refused: "+stmt, func(t *testing.T) {
					withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
						tx := asCaller(t, ctx, conn, f, c)
						defer func() { _ = tx.Rollback(ctx) }()
						_, err := tx.Exec(ctx, stmt)
						if code := pgtest.PgError(err).Code; code != "42501" {
							t.Fatalf("%v, want 42501", err)
						}
					})
				})
			}
		}
		t.Run(c.desc+" sees no statistics of app tables", func(t *testing.T) {
			withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
				tx := asCaller(t, ctx, conn, f, c)
				defer func() { _ = tx.Rollback(ctx) }()
				var n int
				if err := tx.QueryRow(ctx, `select count(*) from pg_stats where schemaname = 'app'`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n != 0 {
					t.Fatalf("pg_stats shows %d column statistics of app tables", n)
				}
			})
		})
	}
}

// TestRecordsViewsShowOnlyWhatPoliciesAllow: the psql door's plain SQL.
func TestRecordsViewsShowOnlyWhatPoliciesAllow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ids := func(t *testing.T, tx pgx.Tx, sql string) string {
		t.Helper()
		var got string
		if err := tx.QueryRow(context.Background(), "select coalesce(string_agg(id::text, ',' order by id), '') from ("+sql+") s").Scan(&got); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return got
	}
	psqlDoors := []*caller{&psqlA, &psqlASet, &psqlASetConfig, &psqlASetRole, &psqlAAll}
	for _, c := range psqlDoors {
		t.Run(c.desc+" reads only A's rows with plain SQL", func(t *testing.T) {
			withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
				tx := asCaller(t, ctx, conn, f, c)
				defer func() { _ = tx.Rollback(ctx) }()
				for sql, want := range map[string]string{
					"select id from records.patients":                                  fmt.Sprintf("%d,%d", f.patientA, f.patientA2),
					"select id from records.patients where age > 30":                   id(f.patientA),
					"select id from records.mappings":                                  id(f.mappingA),
					"select id from records.doctors":                                   fmt.Sprintf("%d,%d", f.doctorA, f.doctorB),
					"select id from records.patients where owner_id <> " + id(f.userA): "",
					// A join between its patients, mappings and the directory.
					`select p.id from records.patients p join records.mappings m on m.patient_id = p.id
					   join records.doctors d on d.id = m.doctor_id where d.specialization = 'Cardiology'`: id(f.patientA),
				} {
					if got := ids(t, tx, sql); got != want {
						t.Errorf("%s: ids %q, want %q", sql, got, want)
					}
				}
			})
		})
	}
	t.Run("an unlinked psql login sees the directory and no patient", func(t *testing.T) {
		withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
			tx := asCaller(t, ctx, conn, f, &unlinked)
			defer func() { _ = tx.Rollback(ctx) }()
			if got := ids(t, tx, "select id from records.patients"); got != "" {
				t.Errorf("patients %q", got)
			}
			if got := ids(t, tx, "select id from records.mappings"); got != "" {
				t.Errorf("mappings %q", got)
			}
			if got, want := ids(t, tx, "select id from records.doctors"), fmt.Sprintf("%d,%d", f.doctorA, f.doctorB); got != want {
				t.Errorf("doctors %q, want %q", got, want)
			}
		})
	})
	for _, c := range []*caller{&apiA, &anonymous, &reporting} {
		t.Run(c.desc+" has no records schema", func(t *testing.T) {
			withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
				tx := asCaller(t, ctx, conn, f, c)
				defer func() { _ = tx.Rollback(ctx) }()
				_, err := tx.Exec(ctx, "select * from records.patients")
				if code := pgtest.PgError(err).Code; code != "42501" {
					t.Fatalf("%v, want 42501", err)
				}
			})
		})
	}
	before := fingerprint(t, f)
	for _, stmt := range []string{
		"insert into records.patients (name, age, gender) values ('Planted', 40, 'other')",
		"update records.patients set name = 'Changed'",
		"delete from records.patients",
		"delete from records.mappings",
		"update records.doctors set name = 'Dr Changed'",
		"select * from records.patients for update",
	} {
		t.Run("psql login of A is refused: "+stmt, func(t *testing.T) {
			withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
				tx := asCaller(t, ctx, conn, f, &psqlA)
				defer func() { _ = tx.Rollback(ctx) }()
				_, err := tx.Exec(ctx, stmt)
				if code := pgtest.PgError(err).Code; code != "42501" && code != "55000" {
					t.Fatalf("%v, want 42501 or 55000 (writes go through the api functions)", err)
				}
			})
		})
	}
	if fingerprint(t, f) != before {
		t.Fatal("a refused write changed data")
	}
}

// explainAs returns the plan of stmt run as c inside one transaction in
// which setup (as the superuser) ran first and is then rolled back.
func explainAs(t *testing.T, f *fixture, c *caller, setup, stmt string, settings ...string) string {
	t.Helper()
	var plan string
	withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		if setup != "" {
			if _, err := tx.Exec(ctx, setup); err != nil {
				t.Fatalf("%s: %v", setup, err)
			}
		}
		for _, s := range c.steps(f) {
			if _, err := tx.Exec(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		for _, s := range settings {
			if _, err := tx.Exec(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		if err := tx.QueryRow(ctx, stmt).Scan(&plan); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	})
	return plan
}

// TestExplainAnalyzeIsNoOracle: the plan a login gets for a query naming
// someone else's row is the same whether that row exists or not, with
// index and with sequential scans, for a linked and an unlinked login.
func TestExplainAnalyzeIsNoOracle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const explain = "explain (analyze, costs off, timing off, summary off, format json) "
	queries := map[string]string{
		"B's patient":         fmt.Sprintf("select 1 from records.patients where owner_id = %d and id = %d", f.userB, f.patientB),
		"the mapping of B's":  fmt.Sprintf("select 1 from records.mappings where patient_id = %d and doctor_id = %d", f.patientB, f.doctorB),
		"B's patients by age": "select 1 from records.patients where age = 51",
	}
	gone := fmt.Sprintf("delete from app.patients where id = %d", f.patientB)
	variants := map[string][]string{
		"index scans":      {"set local enable_seqscan = off"},
		"sequential scans": {"set local enable_indexscan = off", "set local enable_bitmapscan = off"},
	}
	for _, c := range []*caller{&psqlA, &unlinked} {
		for qname, q := range queries {
			for vname, settings := range variants {
				t.Run(c.desc+", "+qname+", "+vname, func(t *testing.T) {
					exists := explainAs(t, f, c, "", explain+q, settings...)
					absent := explainAs(t, f, c, gone, explain+q, settings...)
					if exists != absent {
						t.Fatalf("the plan tells whether B's row exists:\nwith it:    %s\nwithout it: %s", exists, absent)
					}
					if strings.Contains(exists, `"Relation Name"`) {
						t.Fatalf("the plan scans a table the login may not read: %s", exists)
					}
				})
			}
		}
	}
}

// TestPlannerEstimatesIgnoreHiddenRows: 400 hidden patients of one age do
// not move the estimates a login gets for that age.
func TestPlannerEstimatesIgnoreHiddenRows(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.db.Pool.Exec(ctx, fmt.Sprintf(`
		insert into app.patients (owner_id, name, age, gender)
		select %d, 'Hidden ' || g, 77, 'male' from generate_series(1, 400) g;
		analyze app.patients`, f.userB)); err != nil {
		t.Fatal(err)
	}
	estimate := func(c *caller, age int) float64 {
		plan := explainAs(t, f, c, "", fmt.Sprintf("explain (format json) select 1 from records.patients where age = %d", age))
		var p []struct {
			Plan struct {
				Rows float64 `json:"Plan Rows"`
			}
		}
		if err := json.Unmarshal([]byte(plan), &p); err != nil || len(p) != 1 {
			t.Fatalf("plan %s: %v", plan, err)
		}
		return p[0].Plan.Rows
	}
	for _, c := range []*caller{&psqlA, &unlinked} {
		t.Run(c.desc, func(t *testing.T) {
			if hot, cold := estimate(c, 77), estimate(c, 12); hot != cold {
				t.Fatalf("estimate for age 77 (400 hidden rows) is %v, for age 12 (none) %v", hot, cold)
			}
		})
	}
}

// TestHumanLoginsCannotBlockTheServer: whatever a psql login holds open, a
// REST write on another user's patient goes through at once.
func TestHumanLoginsCannotBlockTheServer(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	holds := map[string][]string{
		"a read of every records view": {"select count(*) from records.patients", "select count(*) from records.mappings", "select count(*) from records.doctors"},
		"a write of its own patient":   {fmt.Sprintf("select api.update_patient(%d, 'Held', null, null)", f.patientA)},
		"a mapping of its own patient": {fmt.Sprintf("select api.create_mapping(%d, %d)", f.patientA2, f.doctorB)},
	}
	for name, stmts := range holds {
		t.Run("holding "+name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			holder, err := f.db.Pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer holder.Release()
			tx := asCaller(t, ctx, holder.Conn(), f, &psqlA)
			defer func() {
				_ = tx.Rollback(context.Background())
				_, _ = holder.Exec(context.Background(), "reset role; reset session authorization; reset all")
			}()
			for _, s := range stmts {
				if _, err := tx.Exec(ctx, s); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}
			// The REST server, as B, changes B's patient and maps it.
			withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
				rest := asCaller(t, ctx, conn, f, &apiB)
				defer func() { _ = rest.Rollback(ctx) }()
				if _, err := rest.Exec(ctx, "set local lock_timeout = '500ms'"); err != nil {
					t.Fatal(err)
				}
				for _, s := range []string{
					fmt.Sprintf("select api.update_patient(%d, 'Moved on', null, null)", f.patientB),
					fmt.Sprintf("select api.create_mapping(%d, %d)", f.patientB, f.doctorA),
					"select api.list_patients(50, 0)",
				} {
					if _, err := rest.Exec(ctx, s); err != nil {
						t.Fatalf("%s while the psql login holds its transaction: %v", s, err)
					}
				}
			})
		})
	}
}
