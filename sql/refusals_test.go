package sql_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/pgtest"
)

// refusalEvents returns the refused attempts (door, action, outcome, user,
// login) on patient since the event id after.
func refusalEvents(t *testing.T, f *fixture, after, patient int64) []string {
	t.Helper()
	rows := queryStrings(t, f.db, `
		select e.door || ' ' || e.action || ' ' || e.outcome || ' user=' || coalesce(e.user_id::text, 'null') || ' login=' || e.db_role
		  from audit.events e
		 where e.id > $1 and e.patient_id = $2 and e.outcome <> 'ok'
		 order by e.id`, after, patient)
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r[0]
	}
	return out
}

// TestPsqlRefusalsFailAndAreRecorded: issue 25's psql refusals. At the
// psql door a refused call raises the refusal's SQLSTATE (with its message
// and field), so a script stops; its event is written by a connection of
// its own, so it stays in the trail after a rollback. The REST door still
// gets the refusal as a returned object, with its event in the same
// transaction.
func TestPsqlRefusalsFailAndAreRecorded(t *testing.T) {
	t.Parallel()
	f := newCareFixture(t)
	ctx := context.Background()
	f.db.EnsureLogin(t, "sqltest_app", "healthcare_api")
	update := fmt.Sprintf("select api.update_patient(%d, 'Stolen', null, null)", f.patientA)
	want := fmt.Sprintf("psql update forbidden user=%d login=%s", f.userC, loginPsqlCarol)

	// A real psql login, linked to carol, who may read A's patient (in her
	// care) but not change it.
	conn, err := pgx.Connect(ctx, f.db.LoginURL(loginPsqlCarol))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	t.Run("a forbidden update raises RFRBD and is recorded", func(t *testing.T) {
		before := lastEventID(t, f)
		_, err := conn.Exec(ctx, update)
		if e := pgtest.PgError(err); e.Code != "RFRBD" || !strings.Contains(e.Message, "may read this patient but not change it") {
			t.Fatalf("%s: %v, want RFRBD", update, err)
		}
		if got := refusalEvents(t, f, before, f.patientA); len(got) != 1 || got[0] != want {
			t.Fatalf("events %q, want [%q]", got, want)
		}
	})

	t.Run("inside begin ... rollback the attempt is still recorded", func(t *testing.T) {
		before := lastEventID(t, f)
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tx.Exec(ctx, update)
		if e := pgtest.PgError(err); e.Code != "RFRBD" {
			t.Fatalf("%s: %v, want RFRBD", update, err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		if got := refusalEvents(t, f, before, f.patientA); len(got) != 1 || got[0] != want {
			t.Fatalf("events after the rollback %q, want [%q]", got, want)
		}
		// A read of someone else's patient, not in her care: RNTFD, and
		// recorded the same way.
		before = lastEventID(t, f)
		tx, err = conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tx.Exec(ctx, "select api.get_patient($1)", f.patientB)
		if e := pgtest.PgError(err); e.Code != "RNTFD" || e.Message != "patient not found" {
			t.Fatalf("get of B's patient: %v, want RNTFD patient not found", err)
		}
		_ = tx.Rollback(ctx)
		wantRead := fmt.Sprintf("psql read forbidden user=%d login=%s", f.userC, loginPsqlCarol)
		if got := refusalEvents(t, f, before, f.patientB); len(got) != 1 || got[0] != wantRead {
			t.Fatalf("events after the rollback %q, want [%q]", got, wantRead)
		}
	})

	t.Run("the refusal names its field", func(t *testing.T) {
		_, err := conn.Exec(ctx, "select api.create_mapping($1, $2)", f.patientB, f.doctorA)
		if e := pgtest.PgError(err); e.Code != "RNTFD" || e.ColumnName != "patient" {
			t.Fatalf("mapping B's patient: %v (column %q), want RNTFD on patient", err, e.ColumnName)
		}
	})

	t.Run("the REST door still gets the refusal object, and one event", func(t *testing.T) {
		carol := restCaller("carol", func(f *fixture) string { return id(f.userC) })
		before := lastEventID(t, f)
		out := commitAs(t, f, &carol, update+"::text")
		if code, _ := refusal(t, []byte(out)); code != "RFRBD" {
			t.Fatalf("REST update: %s, want the RFRBD refusal object", out)
		}
		wantRest := fmt.Sprintf("rest update forbidden user=%d login=sqltest_app", f.userC)
		if got := refusalEvents(t, f, before, f.patientA); len(got) != 1 || got[0] != wantRest {
			t.Fatalf("events %q, want [%q]", got, wantRest)
		}
	})

	t.Run("psql -v ON_ERROR_STOP=1 exits non-zero", func(t *testing.T) {
		psql, err := exec.LookPath("psql")
		if err != nil {
			t.Skip("psql is not on PATH (Debian: postgresql-client): the exit status is not checked")
		}
		before := lastEventID(t, f)
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(cctx, psql, "-X", "-v", "ON_ERROR_STOP=1", "-d", f.db.LoginURL(loginPsqlCarol), "-c", update)
		out, err := cmd.CombinedOutput()
		if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() == 0 {
			t.Fatalf("psql: %v\n%s\nwant a non-zero exit", err, out)
		}
		if !strings.Contains(string(out), "may read this patient but not change it") {
			t.Errorf("psql said %s, want the refusal's message", out)
		}
		if got := refusalEvents(t, f, before, f.patientA); len(got) != 1 || got[0] != want {
			t.Fatalf("events %q, want [%q]", got, want)
		}
	})
}

// TestPsqlRefusalWhenItCannotBeRecorded: when the refusal's own
// connection cannot be made (here: nobody may connect to this database;
// then dblink is not installed),
// the call still fails with its refusal, promptly, and no event is
// written (docs/design.md, "The audit trail": it goes to the server log).
func TestPsqlRefusalWhenItCannotBeRecorded(t *testing.T) {
	t.Parallel()
	f := newCareFixture(t)
	ctx := context.Background()
	if _, err := f.db.Pool.Exec(ctx, fmt.Sprintf("revoke connect on database %s from public", pgx.Identifier{f.db.Name}.Sanitize())); err != nil {
		t.Fatal(err)
	}
	before := lastEventID(t, f)
	start := time.Now()
	_, err := tryAs(t, f, &psqlCarol, fmt.Sprintf("select api.update_patient(%d, 'Stolen', null, null)", f.patientA))
	if e := pgtest.PgError(err); e.Code != "RFRBD" {
		t.Fatalf("update: %v, want RFRBD", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the refusal took %v", took)
	}
	if got := refusalEvents(t, f, before, f.patientA); len(got) != 0 {
		t.Fatalf("events %q, want none (the writer cannot connect)", got)
	}
	// The same refusal is recorded again once the connection can be made:
	// what was missing was the connection, nothing in this session.
	if _, err := f.db.Pool.Exec(ctx, fmt.Sprintf("grant connect on database %s to public", pgx.Identifier{f.db.Name}.Sanitize())); err != nil {
		t.Fatal(err)
	}
	_, err = tryAs(t, f, &psqlCarol, fmt.Sprintf("select api.update_patient(%d, 'Stolen', null, null)", f.patientA))
	if e := pgtest.PgError(err); e.Code != "RFRBD" {
		t.Fatalf("update: %v, want RFRBD", err)
	}
	if got := refusalEvents(t, f, before, f.patientA); len(got) != 1 {
		t.Fatalf("events %q, want one", got)
	}
	// Without dblink (a migration that was not a superuser's): the same
	// refusal, and no event.
	if _, err := f.db.Pool.Exec(ctx, "drop extension dblink"); err != nil {
		t.Fatal(err)
	}
	before = lastEventID(t, f)
	_, err = tryAs(t, f, &psqlCarol, fmt.Sprintf("select api.update_patient(%d, 'Stolen', null, null)", f.patientA))
	if e := pgtest.PgError(err); e.Code != "RFRBD" {
		t.Fatalf("update without dblink: %v, want RFRBD", err)
	}
	if got := refusalEvents(t, f, before, f.patientA); len(got) != 0 {
		t.Fatalf("events %q without dblink, want none", got)
	}
}

// TestNoLoginReachesDblink: dblink can open connections anywhere the
// server can reach; only healthcare_refusal_link, which no login is or
// becomes, may use it.
func TestNoLoginReachesDblink(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	db.EnsureLogin(t, loginPsqlA, "healthcare_user")
	db.EnsureLogin(t, loginReporting, "healthcare_reporting")
	db.EnsureLogin(t, pgtest.AppRole, pgtest.APIGroup)
	if n := queryStrings(t, db, `select count(*)::text from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
	                               where n.nspname = 'refusal_link' and p.proname like 'dblink%'`); n[0][0] == "0" {
		t.Fatal("dblink is not installed in schema refusal_link")
	}
	roles := append(append([]string{}, grantees...), pgtest.AppRole, loginPsqlA, loginReporting)
	for _, r := range queryStrings(t, db, `
		select r.role || ' may use schema refusal_link'
		  from unnest($1::text[]) r(role)
		 where pg_catalog.has_schema_privilege(r.role, 'refusal_link', 'USAGE')
		union all
		select r.role || ' may execute ' || p.oid::regprocedure::text
		  from unnest($1::text[]) r(role), pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
		 where n.nspname = 'refusal_link' and pg_catalog.has_function_privilege(r.role, p.oid, 'EXECUTE')
		union all
		select r.role || ' can act as healthcare_refusal_link'
		  from unnest($1::text[]) r(role)
		 where r.role <> 'public' and pg_catalog.pg_has_role(r.role, 'healthcare_refusal_link', 'MEMBER')`, roles) {
		t.Error(r[0])
	}
}

// BenchmarkRefusal: what a refused read costs at each door, on one
// connection, against a read of one's own patient. The psql door's
// refusal opens a connection back to the database for its event:
//
//	go test ./sql -run '^$' -bench BenchmarkRefusal -benchtime 200x
func BenchmarkRefusal(b *testing.B) {
	ctx := context.Background()
	db := pgtest.New(b)
	db.EnsureLogin(b, loginPsqlA, "healthcare_user")
	db.EnsureLogin(b, pgtest.AppRole, pgtest.APIGroup)
	alice := pgtest.CreateUser(b, db.Pool, "alice", pgtest.DBRole(loginPsqlA))
	bob := pgtest.CreateUser(b, db.Pool, "bob")
	var own, other int64
	if err := db.Pool.QueryRow(ctx, `insert into app.patients (owner_id, name, age, gender) values ($1, 'Ann', 34, 'female') returning id`, alice).Scan(&own); err != nil {
		b.Fatal(err)
	}
	if err := db.Pool.QueryRow(ctx, `insert into app.patients (owner_id, name, age, gender) values ($1, 'Ben', 51, 'male') returning id`, bob).Scan(&other); err != nil {
		b.Fatal(err)
	}
	psql, err := pgx.Connect(ctx, db.LoginURL(loginPsqlA))
	if err != nil {
		b.Fatal(err)
	}
	defer psql.Close(ctx)
	rest, err := pgx.Connect(ctx, db.AppURL())
	if err != nil {
		b.Fatal(err)
	}
	defer rest.Close(ctx)
	restCall := func(patient int64) error {
		tx, err := rest.Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(ctx) }()
		var out string
		if err := tx.QueryRow(ctx, `select set_config('app.user_id', $1, true), set_config('app.request_id', 'bench', true)`, id(alice)).Scan(&out, &out); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `select api.get_patient($1)::text`, patient).Scan(&out); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}
	b.Run("psql read of one's own patient", func(b *testing.B) {
		for b.Loop() {
			if _, err := psql.Exec(ctx, "select api.get_patient($1)", own); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("psql refusal (raised, event through dblink)", func(b *testing.B) {
		for b.Loop() {
			if _, err := psql.Exec(ctx, "select api.get_patient($1)", other); pgtest.PgError(err).Code != "RNTFD" {
				b.Fatal(err)
			}
		}
	})
	b.Run("REST refusal (returned, event in the request)", func(b *testing.B) {
		for b.Loop() {
			if err := restCall(other); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestPsqlRefusalBeyondTheWritersConnections: with every connection of
// healthcare_refusal_writer in use (here: its limit set to 0), a refusal
// is tried three times, then still fails with its refusal, without an
// event and without waiting long. Not parallel: the role is the
// cluster's, and the parallel tests wait until this one is done.
func TestPsqlRefusalBeyondTheWritersConnections(t *testing.T) {
	if os.Getenv(pgtest.EnvURL) != "" {
		t.Skip("changes a cluster-wide role: only on the throwaway cluster")
	}
	f := newCareFixture(t)
	ctx := context.Background()
	var limit int
	if err := f.db.Pool.QueryRow(ctx, "select rolconnlimit from pg_roles where rolname = 'healthcare_refusal_writer'").Scan(&limit); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Pool.Exec(ctx, "alter role healthcare_refusal_writer connection limit 0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := f.db.Pool.Exec(context.Background(), fmt.Sprintf("alter role healthcare_refusal_writer connection limit %d", limit)); err != nil {
			t.Error(err)
		}
	})
	before := lastEventID(t, f)
	start := time.Now()
	_, err := tryAs(t, f, &psqlCarol, fmt.Sprintf("select api.update_patient(%d, 'Stolen', null, null)", f.patientA))
	if e := pgtest.PgError(err); e.Code != "RFRBD" {
		t.Fatalf("update: %v, want RFRBD", err)
	}
	took := time.Since(start)
	if got := refusalEvents(t, f, before, f.patientA); len(got) != 0 {
		t.Fatalf("events %q, want none", got)
	}
	// Two pauses of 20 and 40 ms between the three tries.
	if took < 60*time.Millisecond || took > 5*time.Second {
		t.Errorf("the refusal took %v, want the three tries' 60 ms and not much more", took)
	}
}
