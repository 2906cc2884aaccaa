package sql_test

// The audit trail (migration 013): every access to patient data is an
// event in the same transaction, at every door; refused attempts are
// recorded without telling the attacker more than a 404; nobody can change
// an event.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/pgtest"
)

// event is the part of an audit event the tests compare.
type event struct {
	user                   *int64
	door, action, outcome  string
	patient                *int64
	patients               []int64
	requestID, clientAddr  *string
	detailBefore, detailAt *string
}

func (e event) String() string {
	return fmt.Sprintf("%v %s %s %s patient=%v patients=%v req=%v addr=%v", deref(e.user), e.door, e.action, e.outcome,
		deref(e.patient), e.patients, derefString(e.requestID), derefString(e.clientAddr))
}

// eventsSince reads, as the superuser, the events written after id.
func eventsSince(t *testing.T, f *fixture, after int64) []event {
	t.Helper()
	rows, err := f.db.Pool.Query(context.Background(), `
		select user_id, door, action, outcome, patient_id, coalesce(patients, '{}'), request_id, host(client_addr),
		       detail #>> '{before,name}', detail #>> '{after,name}'
		  from audit.events where id > $1 order by id`, after)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (event, error) {
		var e event
		err := r.Scan(&e.user, &e.door, &e.action, &e.outcome, &e.patient, &e.patients, &e.requestID, &e.clientAddr, &e.detailBefore, &e.detailAt)
		return e, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func lastEventID(t *testing.T, f *fixture) int64 {
	t.Helper()
	var id int64
	if err := f.db.Pool.QueryRow(context.Background(), `select coalesce(max(id), 0) from audit.events`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// restCaller is the REST server's identity statement for user, with a
// request id and a client address, as database.Call sends it.
func restCaller(desc string, user func(f *fixture) string) caller {
	return caller{desc: desc, steps: func(f *fixture) []string {
		return []string{
			"set local session authorization sqltest_app",
			"select set_config('app.user_id', '" + user(f) + "', true), set_config('app.request_id', 'req-" + strings.ReplaceAll(desc, " ", "-") + "', true), " +
				"set_config('app.client_addr', '203.0.113.9', true)",
		}
	}}
}

// commitAs runs sql as c and commits, returning its text result.
func commitAs(t *testing.T, f *fixture, c *caller, sql string) string {
	t.Helper()
	out, err := tryAs(t, f, c, sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// tryAs runs sql as c and commits, returning its text result, or the
// statement's error (the transaction rolled back): a refusal at the psql
// door is an error.
func tryAs(t *testing.T, f *fixture, c *caller, sql string) (string, error) {
	t.Helper()
	var out string
	var stmtErr error
	withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
		tx := asCaller(t, ctx, conn, f, c)
		defer func() { _ = tx.Rollback(ctx) }()
		rows, err := tx.Query(ctx, sql)
		if err != nil {
			stmtErr = err
			return
		}
		var parts []string
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, fmt.Sprint(vals...))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			stmtErr = err
			return
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		out = strings.Join(parts, "\n")
	})
	return out, stmtErr
}

func TestEveryAccessIsAnEvent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if got := f.db.LoginURL("sqltest_app"); got == "" {
		t.Fatal("no app login")
	}
	f.db.EnsureLogin(t, "sqltest_app", "healthcare_api")
	a := restCaller("rest A", func(f *fixture) string { return id(f.userA) })
	b := restCaller("rest B", func(f *fixture) string { return id(f.userB) })
	adm := restCaller("rest admin", func(f *fixture) string { return id(f.admin) })
	one := func(t *testing.T, events []event) event {
		t.Helper()
		if len(events) != 1 {
			t.Fatalf("events %v, want exactly one", events)
		}
		return events[0]
	}
	ptr := func(n int64) *int64 { return &n }

	cases := []struct {
		name  string
		c     *caller
		sql   func(f *fixture) string
		check func(t *testing.T, f *fixture, out string, events []event)
	}{
		{"REST read of one's own patient", &a, func(f *fixture) string { return fmt.Sprintf("select api.get_patient(%d)", f.patientA) },
			func(t *testing.T, f *fixture, _ string, ev []event) {
				e := one(t, ev)
				if deref(e.user) != f.userA || e.door != "rest" || e.action != "read" || e.outcome != "ok" || deref(e.patient) != f.patientA ||
					derefString(e.requestID) != "req-rest-A" || derefString(e.clientAddr) != "203.0.113.9" {
					t.Fatalf("event %v", e)
				}
			}},
		{"REST list", &a, func(*fixture) string { return "select api.list_patients(50, 0)" },
			func(t *testing.T, f *fixture, _ string, ev []event) {
				e := one(t, ev)
				if e.action != "list" || e.outcome != "ok" || !slices.Equal(e.patients, []int64{f.patientA, f.patientA2}) {
					t.Fatalf("event %v", e)
				}
			}},
		{"REST read of someone else's patient is a refused attempt", &b, func(f *fixture) string { return fmt.Sprintf("select api.get_patient(%d)", f.patientA) },
			func(t *testing.T, f *fixture, out string, ev []event) {
				e := one(t, ev)
				if deref(e.user) != f.userB || e.action != "read" || e.outcome != "forbidden" || deref(e.patient) != f.patientA {
					t.Fatalf("event %v", e)
				}
				if !strings.Contains(out, "RNTFD") || strings.Contains(out, "Ann") {
					t.Fatalf("answer %s", out)
				}
			}},
		{"a psql login spoofing B is still A", &psqlAAll, func(f *fixture) string { return fmt.Sprintf("select api.get_patient(%d)", f.patientB) },
			func(t *testing.T, f *fixture, _ string, ev []event) {
				if e := one(t, ev); deref(e.user) != f.userA || e.outcome != "forbidden" || e.door != "psql" {
					t.Fatalf("event %v", e)
				}
			}},
		{"REST read of a patient that does not exist", &b, func(*fixture) string { return "select api.get_patient(987654)" },
			func(t *testing.T, f *fixture, _ string, ev []event) {
				if e := one(t, ev); e.outcome != "not_found" || deref(e.patient) != int64(987654) {
					t.Fatalf("event %v", e)
				}
			}},
		{"REST update records before and after", &a, func(f *fixture) string {
			return fmt.Sprintf("select api.update_patient(%d, 'Ann Renamed', null, null)", f.patientA)
		}, func(t *testing.T, f *fixture, _ string, ev []event) {
			e := one(t, ev)
			if e.action != "update" || derefString(e.detailBefore) != "Ann Alpha" || derefString(e.detailAt) != "Ann Renamed" {
				t.Fatalf("event %v before=%s after=%s", e, derefString(e.detailBefore), derefString(e.detailAt))
			}
		}},
		{"a forbidden REST update", &b, func(f *fixture) string {
			return fmt.Sprintf("select api.update_patient(%d, 'Stolen', null, null)", f.patientA)
		}, func(t *testing.T, f *fixture, _ string, ev []event) {
			if e := one(t, ev); e.action != "update" || e.outcome != "forbidden" {
				t.Fatalf("event %v", e)
			}
		}},
		{"REST delete of a mapping", &a, func(f *fixture) string { return fmt.Sprintf("select api.delete_mapping(%d)", f.mappingA) },
			func(t *testing.T, f *fixture, _ string, ev []event) {
				if e := one(t, ev); e.action != "delete" || e.outcome != "ok" || deref(e.patient) != f.patientA {
					t.Fatalf("event %v", e)
				}
			}},
		{"an admin's read", &adm, func(f *fixture) string { return fmt.Sprintf("select api.get_patient(%d)", f.patientB) },
			func(t *testing.T, f *fixture, _ string, ev []event) {
				if e := one(t, ev); deref(e.user) != f.admin || e.outcome != "ok" || deref(e.patient) != f.patientB {
					t.Fatalf("event %v", e)
				}
			}},
		{"an admin's delete of a patient records it and its mapping", &adm, func(f *fixture) string { return fmt.Sprintf("select api.delete_patient(%d)", f.patientB) },
			func(t *testing.T, f *fixture, _ string, ev []event) {
				if len(ev) != 2 {
					t.Fatalf("events %v, want the patient's and its mapping's", ev)
				}
				for _, e := range ev {
					if e.action != "delete" || deref(e.patient) != f.patientB || deref(e.user) != f.admin {
						t.Fatalf("events %v", ev)
					}
				}
			}},
		{"psql read through records.patients", &psqlA, func(*fixture) string { return "select id from records.patients" },
			func(t *testing.T, f *fixture, _ string, ev []event) {
				e := one(t, ev)
				if deref(e.user) != f.userA || e.door != "psql" || e.action != "list" || e.requestID != nil ||
					!slices.Contains(e.patients, f.patientA2) {
					t.Fatalf("event %v", e)
				}
			}},
		{"psql create through the api", &psqlA, func(*fixture) string { return "select api.create_patient('Psql Made', 40, 'other')" },
			func(t *testing.T, f *fixture, _ string, ev []event) {
				if e := one(t, ev); e.door != "psql" || e.action != "create" || derefString(e.detailAt) != "Psql Made" {
					t.Fatalf("event %v", e)
				}
			}},
	}
	_ = ptr
	// A refusal at the psql door is raised (its event is written by a
	// connection of its own, so it is there though the transaction rolled
	// back): the SQLSTATE each such case fails with.
	raised := map[string]string{"a psql login spoofing B is still A": "RNTFD"}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := lastEventID(t, f)
			out, err := tryAs(t, f, c.c, c.sql(f))
			if code := pgtest.PgError(err).Code; code != raised[c.name] {
				t.Fatalf("%s: %q %v, want SQLSTATE %q", c.sql(f), out, err, raised[c.name])
			}
			c.check(t, f, out, eventsSince(t, f, before))
		})
	}

	t.Run("a refused attempt answers exactly as a missing record", func(t *testing.T) {
		exists := commitAs(t, f, &b, fmt.Sprintf("select api.get_patient(%d)", f.patientB2OrA(f)))
		missing := commitAs(t, f, &b, "select api.get_patient(99999999)")
		if exists != missing {
			t.Fatalf("someone else's patient: %s; no patient: %s", exists, missing)
		}
	})
	t.Run("a statement that fails leaves no event", func(t *testing.T) {
		before := lastEventID(t, f)
		withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
			tx := asCaller(t, ctx, conn, f, &a)
			defer func() { _ = tx.Rollback(ctx) }()
			if _, err := tx.Exec(ctx, fmt.Sprintf("select api.get_patient(%d)", f.patientA2)); err != nil {
				t.Fatal(err)
			}
			// The client went away before commit.
		})
		if ev := eventsSince(t, f, before); len(ev) != 0 {
			t.Fatalf("an uncommitted read left %v", ev)
		}
	})
}

// patientB2OrA returns an existing patient that is not B's: A's second one.
func (f *fixture) patientB2OrA(*fixture) int64 { return f.patientA2 }

// TestAccessLogTellsTheOwnerWhoLooked: the scenario. Alice reads
// her patient over REST and psql, bob tries to, an admin reads it; alice's
// log shows her two reads and the admin's, not bob's attempt, which the
// admin's view of the trail does show.
func TestAccessLogTellsTheOwnerWhoLooked(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.db.EnsureLogin(t, "sqltest_app", "healthcare_api")
	alice := restCaller("alice", func(f *fixture) string { return id(f.userA) })
	bob := restCaller("bob", func(f *fixture) string { return id(f.userB) })
	root := restCaller("root", func(f *fixture) string { return id(f.admin) })
	p := f.patientA2
	commitAs(t, f, &alice, fmt.Sprintf("select api.get_patient(%d)", p))
	commitAs(t, f, &psqlA, fmt.Sprintf("select id from records.patients where id = %d", p))
	commitAs(t, f, &bob, fmt.Sprintf("select api.get_patient(%d)", p))
	commitAs(t, f, &root, fmt.Sprintf("select api.get_patient(%d)", p))

	type page struct {
		Count   int
		Results []struct {
			User    *int64
			Door    string
			Action  string
			Outcome string
		}
	}
	read := func(c *caller) page {
		t.Helper()
		var pg page
		out := commitAs(t, f, c, fmt.Sprintf("select api.patient_access_log(%d, 50, 0)::text", p))
		if err := jsonUnmarshal(out, &pg); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		return pg
	}
	summary := func(pg page) string {
		var s []string
		for _, r := range pg.Results {
			s = append(s, fmt.Sprintf("%v/%s/%s/%s", deref(r.User), r.Door, r.Action, r.Outcome))
		}
		return strings.Join(s, " ")
	}
	got := summary(read(&alice))
	want := fmt.Sprintf("%d/rest/read/ok %d/psql/list/ok %d/rest/read/ok", f.admin, f.userA, f.userA)
	// (The oldest entry is the fixture's own insert, over the privileged connection.)
	if !strings.HasPrefix(got, want) || strings.Contains(got, fmt.Sprint(f.userB)+"/") {
		t.Fatalf("alice's access log (newest first): %s; want it to start with %s and hold nothing of bob", got, want)
	}
	// The owner does not see other people's logins, addresses or request ids.
	var raw string
	raw = commitAs(t, f, &alice, fmt.Sprintf("select api.patient_access_log(%d, 50, 0)::text", p))
	var full struct {
		Results []struct {
			User       *int64
			DBRole     *string `json:"db_role"`
			ClientAddr *string `json:"client_addr"`
			RequestID  *string `json:"request_id"`
		}
	}
	if err := jsonUnmarshal(raw, &full); err != nil {
		t.Fatal(err)
	}
	for _, r := range full.Results {
		if r.User != nil && *r.User == f.admin && (r.DBRole != nil || r.ClientAddr != nil || r.RequestID != nil) {
			t.Fatalf("the owner sees the admin's login, address or request: %s", raw)
		}
	}
	admin := summary(read(&root))
	if !strings.Contains(admin, fmt.Sprintf("%d/rest/read/forbidden", f.userB)) {
		t.Fatalf("the admin's view lacks bob's refused attempt: %s", admin)
	}
	if out := commitAs(t, f, &bob, fmt.Sprintf("select api.patient_access_log(%d, 50, 0)::text", p)); !strings.Contains(out, "RNTFD") {
		t.Fatalf("bob reads alice's access log: %s", out)
	}
	// Reading the trail is recorded too.
	before := lastEventID(t, f)
	commitAs(t, f, &root, fmt.Sprintf("select api.audit_events(%d, null, null, 50, 0)::text", p))
	ev := eventsSince(t, f, before)
	if len(ev) != 1 || ev[0].action != "list" || deref(ev[0].user) != f.admin || deref(ev[0].patient) != p {
		t.Fatalf("reading the trail recorded %v", ev)
	}
}

// TestTruncateOfAuditedTablesIsRefused: TRUNCATE fires no row trigger, so
// it is refused even over the privileged connection.
func TestTruncateOfAuditedTablesIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, table := range []string{"app.patients", "app.patient_doctors"} {
		_, err := f.db.Pool.Exec(context.Background(), "truncate "+table+" cascade")
		if code := pgtest.PgError(err).Code; code != "RFRBD" {
			t.Errorf("truncate %s: %v, want RFRBD", table, err)
		}
	}
}

// TestAuditEventsCannotBeChanged: no runtime role can update, delete or
// truncate events; the owner roles meet the trigger that refuses.
func TestAuditEventsCannotBeChanged(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.db.EnsureLogin(t, loginAuditor, "healthcare_auditor")
	auditor := loginCaller("auditor login", loginAuditor)
	commitAs(t, f, &apiA, fmt.Sprintf("select api.get_patient(%d)", f.patientA))
	before := lastEventID(t, f)
	stmts := []string{"update audit.events set outcome = 'ok'", "delete from audit.events", "truncate audit.events",
		"update audit.seals set hash = 'x'", "insert into audit.events (door, action, outcome) values ('rest', 'read', 'ok')"}
	for _, c := range append(slices.Clone(allCallers), &auditor) {
		for _, s := range stmts {
			t.Run(c.desc+" is refused: "+s, func(t *testing.T) {
				withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
					tx := asCaller(t, ctx, conn, f, c)
					defer func() { _ = tx.Rollback(ctx) }()
					_, err := tx.Exec(ctx, s)
					if code := pgtest.PgError(err).Code; code != "42501" {
						t.Fatalf("%v, want 42501", err)
					}
				})
			})
		}
	}
	for _, role := range []string{"healthcare_owner", "healthcare_audit"} {
		for _, s := range stmts[:3] {
			t.Run(role+" meets the trigger: "+s, func(t *testing.T) {
				withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
					tx, err := conn.Begin(ctx)
					if err != nil {
						t.Fatal(err)
					}
					defer func() { _ = tx.Rollback(ctx) }()
					if _, err := tx.Exec(ctx, "set local role "+role); err != nil {
						t.Fatal(err)
					}
					tag, err := tx.Exec(ctx, s)
					// No policy lets them see a row to change (nothing
					// happens), and the trigger refuses what they reach.
					if code := pgtest.PgError(err).Code; code != "RFRBD" && code != "42501" && (err != nil || tag.RowsAffected() != 0) {
						t.Fatalf("%v (%d rows), want the append-only trigger (RFRBD), no privilege or no row", err, tag.RowsAffected())
					}
					if err == nil && strings.HasPrefix(s, "truncate") {
						t.Fatal("truncate went through")
					}
				})
			})
		}
	}
	t.Run("the auditor reads the whole trail", func(t *testing.T) {
		out := commitAs(t, f, &auditor, "select count(*) from audit.events")
		if out == "0" || out == "" {
			t.Fatalf("auditor sees %q events", out)
		}
		withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
			tx := asCaller(t, ctx, conn, f, &auditor)
			defer func() { _ = tx.Rollback(ctx) }()
			_, err := tx.Exec(ctx, "select * from records.patients")
			if code := pgtest.PgError(err).Code; code != "42501" {
				t.Fatalf("auditor reads records: %v", err)
			}
		})
	})
	if got := lastEventID(t, f); got < before {
		t.Fatal("events disappeared")
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
