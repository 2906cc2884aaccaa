//go:build ha

package hatest

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/apitest"
	"healthcare/internal/pgtest"
)

// The tests run in this file's order; the failover test comes last
// because it kills the primary (and brings the node back as a replica).

// reportingViews are the views of the reporting door (migration 010).
var reportingViews = []string{"patients_by_age_band", "patients_per_specialization", "mappings_per_doctor"}

// TestReportingOnAStandby: the reporting login reads the same published
// numbers on a hot standby as on the primary, with the same protections,
// and nothing on the standby can write.
func TestReportingOnAStandby(t *testing.T) {
	s := serve(t, serveEnv(ha.DatabaseURL, secretKey()))
	// Enough records from enough owners that cells are published: 4 owners
	// of 12 patients each, all mapped to one cardiologist, leave 36 records
	// beside the largest contributor (min_cell is 10).
	var doctor int64
	for i := range 4 {
		u := s.Signup(run + "reporting_owner")
		if i == 0 {
			doctor = s.CreateDoctor(u, "Dr. Standby", "Cardiology")
		}
		for j := range 12 {
			p := s.CreatePatient(u, fmt.Sprintf("%sreporting-%d-%d", run, i, j), 30+j%5)
			s.Must("POST", "/api/mappings/", u.Access, map[string]any{"patient": p, "doctor": doctor}, 201)
		}
	}

	standby := connect(t, ha.ReportingURL)
	var inRecovery bool
	var port int
	if err := standby.QueryRow(ctx(t), "select pg_is_in_recovery(), inet_server_port()").Scan(&inRecovery, &port); err != nil {
		t.Fatal(err)
	}
	if !inRecovery {
		t.Fatalf("HA_REPORTING_URL reached port %d, which is not a standby", port)
	}
	// Release these figures now, as the servers do once a day (the views
	// show the latest release), then let the standby replay it.
	super := connect(t, ha.MigrationURL)
	if _, err := super.Exec(ctx(t), "select app.release_reports(true)"); err != nil {
		t.Fatal(err)
	}
	// The standby has replayed everything the primary wrote.
	var lsn string
	if err := super.QueryRow(ctx(t), "select pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the standby to replay "+lsn, func() bool {
		var done bool
		err := standby.QueryRow(ctx(t), "select pg_last_wal_replay_lsn() >= $1::pg_lsn", lsn).Scan(&done)
		return err == nil && done
	})

	primary := connect(t, withAttrs(ha.ReportingURL, "read-write"))
	published := 0
	for _, view := range reportingViews {
		q := "select coalesce(json_agg(v order by v)::text, '[]') from reporting." + view + " v"
		var onPrimary, onStandby string
		if err := primary.QueryRow(ctx(t), q).Scan(&onPrimary); err != nil {
			t.Fatalf("%s on the primary: %v", view, err)
		}
		if err := standby.QueryRow(ctx(t), q).Scan(&onStandby); err != nil {
			t.Fatalf("%s on the standby: %v", view, err)
		}
		if onPrimary != onStandby {
			t.Errorf("%s differs:\nprimary %s\nstandby %s", view, onPrimary, onStandby)
		}
		published += strings.Count(onStandby, `"suppressed":false`)
		t.Logf("%s on the standby: %s", view, onStandby)
	}
	// The other tests' patients may suppress the age bands; the 48 mappings
	// to one cardiologist publish whatever else is there.
	if published == 0 {
		t.Errorf("no view publishes a cell on the standby: the comparison proved nothing")
	}

	// The same protections: no table, no records view, for the reporting login.
	for _, q := range []string{"select count(*) from app.patients", "select count(*) from records.patients"} {
		_, err := standby.Exec(ctx(t), q)
		if pgtest.PgError(err).Code != "42501" {
			t.Errorf("%s as the reporting login on the standby: %v; want 42501", q, err)
		}
	}
	// Nothing can write there, not even the superuser.
	superStandby := connect(t, onPort(ha.MigrationURL, port))
	for _, q := range []string{"update app.reporting_settings set min_cell = 3", "create table public.x (i int)"} {
		_, err := superStandby.Exec(ctx(t), q)
		if pgtest.PgError(err).Code != "25006" {
			t.Errorf("%s as superuser on the standby: %v; want 25006 (read-only transaction)", q, err)
		}
	}
	_, err := standby.Exec(ctx(t), "create temporary table x (i int)")
	if pgtest.PgError(err).Code != "25006" {
		t.Errorf("temporary table as the reporting login on the standby: %v; want 25006", err)
	}
}

// TestServerCopiesShareThrottleAndLogout: two `serve` processes on the HA
// URL share login throttling and logout, because both live in PostgreSQL.
// internal/httpapi tests the same with two handlers in one process
// (TestLoginThrottleIsSharedByServerCopies,
// TestLogoutEndsTheSessionAtEveryServerCopy); here they are separate
// processes on the multi-host URL, and the failover test checks that both
// survive a failover.
func TestServerCopiesShareThrottleAndLogout(t *testing.T) {
	env := serveEnv(ha.DatabaseURL, secretKey())
	env["LOGIN_MAX_FAILURES_PER_ACCOUNT"] = "2"
	env["LOGIN_FAILURE_WINDOW"] = "1h"
	a, b := serve(t, env), serve(t, env)

	u := a.Signup(run + "copies_throttle")
	a.Expect(a.Do("POST", "/api/auth/login/", "", map[string]any{"username": u.Name, "password": "wrong password"}), 401, "failure 1 at A")
	b.Expect(b.Do("POST", "/api/auth/login/", "", map[string]any{"username": u.Name, "password": "wrong password"}), 401, "failure 2 at B")
	for name, c := range map[string]*server{"A": a, "B": b} {
		r := c.Do("POST", "/api/auth/login/", "", map[string]any{"username": u.Name, "password": apitest.Password})
		c.Expect(r, 429, "the right password at "+name+" after two failures")
	}

	v := a.Signup(run + "copies_logout")
	b.Must("GET", "/api/patients/", v.Access, nil, 200)
	a.Must("POST", "/api/auth/logout/", "", map[string]any{"refresh": v.Refresh}, 204)
	b.Expect(b.Do("GET", "/api/patients/", v.Access, nil), 401, "B, on the next request after logout at A")
	b.Expect(b.Do("POST", "/api/auth/refresh/", "", map[string]any{"refresh": v.Refresh}), 401, "the logged-out refresh token at B")
}

// TestRestoreDrill: full and incremental backups with pgBackRest, WAL
// archived all along; rows written, a time noted, more rows written and
// some deleted; a restore into a scratch cluster to the noted time holds
// exactly the rows before it, and its roles, policies and three doors work.
func TestRestoreDrill(t *testing.T) {
	s := serve(t, serveEnv(ha.DatabaseURL, secretKey()))
	super := connect(t, ha.MigrationURL)
	alice, bob := s.Signup(run+"drill_alice"), s.Signup("drill_bob")
	// alice's personal psql login, linked before the backup.
	psqlLogin, psqlPassword := run+"drill_psql", secretKey()[:24]
	grant := exec.Command(ha.Binary, "db-access", "grant", "--database-url", ha.MigrationURL,
		"--user", alice.Name, "--role", psqlLogin, "--password-stdin")
	grant.Stdin = strings.NewReader(psqlPassword + "\n")
	if out, err := grant.CombinedOutput(); err != nil {
		t.Fatalf("db-access grant: %v\n%s", err, out)
	}

	started := time.Now()
	script(t, "backup", "full", ha.Dir)
	figure("full backup", time.Since(started))

	before := map[string]int64{} // name -> id, committed before the noted time
	create := func(u apitest.User, name string) int64 { return s.CreatePatient(u, name, 40) }
	for i := range 6 {
		before[fmt.Sprintf(run+"drill-a0-alice-%d", i)] = create(alice, fmt.Sprintf(run+"drill-a0-alice-%d", i))
	}
	started = time.Now()
	script(t, "backup", "incr", ha.Dir)
	figure("incremental backup", time.Since(started))
	for i := range 6 {
		before[fmt.Sprintf(run+"drill-a-alice-%d", i)] = create(alice, fmt.Sprintf(run+"drill-a-alice-%d", i))
		before[fmt.Sprintf(run+"drill-a-bob-%d", i)] = create(bob, fmt.Sprintf(run+"drill-a-bob-%d", i))
	}
	// The noted time, by the primary's clock, after every write above was
	// acknowledged (so committed) and before any write below.
	var noted string
	if err := super.QueryRow(ctx(t), "select clock_timestamp()::text").Scan(&noted); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	for i := range 6 {
		create(alice, fmt.Sprintf(run+"drill-b-alice-%d", i))
	}
	deleted := 0
	for name, id := range before {
		if deleted == 4 {
			break
		}
		u := alice
		if strings.Contains(name, "bob") {
			u = bob
		}
		s.Must("DELETE", fmt.Sprintf("/api/patients/%d/", id), u.Access, nil, 204)
		deleted++
	}
	// Every write above is in an archived WAL segment.
	script(t, "backup", "check", ha.Dir)

	started = time.Now()
	restored := script(t, "backup", "restore", ha.Dir, noted)
	restoreTime := time.Since(started)
	figure("restore to the noted time and promote (wall clock)", restoreTime)
	figure("restore as measured by the script", restored["RESTORE_MILLISECONDS"]+" ms")
	t.Cleanup(func() { script(t, "backup", "stop-scratch", ha.Dir) })
	port := restored["RESTORE_PORT"]
	rsuper := connect(t, restored["RESTORE_URL"])

	// Exactly the rows committed before the noted time.
	got := map[string]bool{}
	rows, err := rsuper.Query(ctx(t), "select name from app.patients where name like $1", run+"drill-%")
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if got[n] {
			t.Errorf("restored twice: %s", n)
		}
		got[n] = true
	}
	for n := range before {
		if !got[n] {
			t.Errorf("written before the noted time but not restored: %s", n)
		}
	}
	for n := range got {
		if _, ok := before[n]; !ok {
			t.Errorf("restored but written after the noted time: %s", n)
		}
	}
	figure("restore drill rows (before the noted time / restored / expected)", fmt.Sprintf("%d / %d / %d", len(before), len(got), len(before)))

	// Roles and policies as on the primary.
	const catalog = `select (select string_agg(rolname, ',' order by rolname) from pg_roles where rolname like 'healthcare%' or rolname in ($1, 'ha_analyst')),
	                        (select count(*) from pg_policy), (select count(*) from pg_class where relrowsecurity)`
	var pRoles, rRoles string
	var pPolicies, rPolicies, pRLS, rRLS int
	if err := super.QueryRow(ctx(t), catalog, psqlLogin).Scan(&pRoles, &pPolicies, &pRLS); err != nil {
		t.Fatal(err)
	}
	if err := rsuper.QueryRow(ctx(t), catalog, psqlLogin).Scan(&rRoles, &rPolicies, &rRLS); err != nil {
		t.Fatal(err)
	}
	if pRoles != rRoles || pPolicies != rPolicies || pRLS != rRLS {
		t.Errorf("catalog differs: primary %s, %d policies, %d RLS tables; restored %s, %d, %d", pRoles, pPolicies, pRLS, rRoles, rPolicies, rRLS)
	}

	// REST: a server on the restored cluster (it checks its login at
	// start-up) shows alice exactly her rows from before the noted time.
	rs := serve(t, serveEnv(onPort(ha.DatabaseURL, port), secretKey()))
	ra := rs.Login(alice.Name, apitest.Password)
	var page struct {
		Count   int
		Results []struct{ Name string }
	}
	rs.Must("GET", "/api/patients/?limit=100", ra.Access, nil, 200).Decode(t, &page)
	var want, have []string
	for n := range got {
		if strings.Contains(n, "alice") {
			want = append(want, n)
		}
	}
	for _, r := range page.Results {
		have = append(have, r.Name)
	}
	slices.Sort(want)
	slices.Sort(have)
	if !slices.Equal(want, have) {
		t.Errorf("REST on the restored cluster lists %v; want %v", have, want)
	}
	rs.Expect(rs.Do("GET", fmt.Sprintf("/api/patients/%d/", before[run+"drill-a-bob-5"]), ra.Access, nil), 404, "bob's patient asked for by alice")

	// psql: alice's login sees her rows only, whatever it claims.
	psqlURL := onPort(ha.DatabaseURL, port)
	pu, _ := url.Parse(psqlURL)
	pu.User = url.UserPassword(psqlLogin, psqlPassword)
	pconn := connect(t, pu.String())
	var seen int
	if err := pconn.QueryRow(ctx(t), "select count(*) from records.patients where name like $1", run+"drill-%").Scan(&seen); err != nil {
		t.Fatal(err)
	}
	if seen != len(want) {
		t.Errorf("psql login of alice sees %d drill patients on the restored cluster; want her %d", seen, len(want))
	}
	if _, err := pconn.Exec(ctx(t), "select set_config('app.user_id', $1, false)", fmt.Sprint(bob.ID)); err != nil {
		t.Fatal(err)
	}
	if err := pconn.QueryRow(ctx(t), "select count(*) from records.patients where name like $1", run+"drill-a-bob-%").Scan(&seen); err != nil || seen != 0 {
		t.Errorf("psql login of alice claiming bob's id sees %d of bob's patients (%v); want 0", seen, err)
	}
	if _, err := pconn.Exec(ctx(t), "select count(*) from app.patients"); pgtest.PgError(err).Code != "42501" {
		t.Errorf("psql login reading app.patients: %v; want 42501", err)
	}

	// Reporting: the reporting door answers, and only it.
	rconn := connect(t, onPort(ha.ReportingURL, port))
	for _, view := range reportingViews {
		if _, err := rconn.Exec(ctx(t), "select * from reporting."+view); err != nil {
			t.Errorf("reporting.%s on the restored cluster: %v", view, err)
		}
	}
	if _, err := rconn.Exec(ctx(t), "select count(*) from app.patients"); pgtest.PgError(err).Code != "42501" {
		t.Errorf("reporting login reading app.patients: %v; want 42501", err)
	}
}

// onPort turns a cluster URL into one for the single server on
// 127.0.0.1:port, with the same login.
func onPort(raw string, port any) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	u.Host = fmt.Sprintf("127.0.0.1:%v", port)
	q := u.Query()
	q.Del("target_session_attrs")
	u.RawQuery = q.Encode()
	return u.String()
}

// withAttrs sets target_session_attrs.
func withAttrs(raw, attrs string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	q := u.Query()
	q.Set("target_session_attrs", attrs)
	u.RawQuery = q.Encode()
	return u.String()
}

// nodeURL is raw for node i alone (the hosts of the HA URLs are in node order).
func nodeURL(raw string, i int) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	hosts := strings.Split(u.Host, ",")
	_, port, _ := strings.Cut(hosts[i], ":")
	return onPort(raw, port)
}

func waitUntil(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// nodeDir is DIR/<node> of node i.
func nodeDir(i int) string { return filepath.Join(ha.Dir, fmt.Sprintf("n%d", i+1)) }

func readPID(t *testing.T, file string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Sscan(strings.SplitN(string(data), "\n", 2)[0], &pid); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return pid
}
