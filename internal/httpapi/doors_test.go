package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/julienschmidt/httprouter"

	"healthcare/internal/apitest"
	"healthcare/internal/database"
	"healthcare/internal/pgtest"
)

// loginDoorsPsql is the psql login the door tests link to a REST user
// (login roles are cluster-wide; each test database links it anew).
const loginDoorsPsql = "httptest_psql_doors"

// holdPatient opens a linked psql session of u's that changes u's patient
// in a transaction it leaves open, as issue 24's finding 1 does:
// idle_in_transaction_session_timeout and lock_timeout off, so only the
// test ends it. The returned function rolls it back.
func holdPatient(t *testing.T, tdb *pgtest.DB, u apitest.User, patient int64) func() {
	t.Helper()
	ctx := context.Background()
	url := tdb.EnsureLogin(t, loginDoorsPsql, "healthcare_user")
	if _, err := tdb.Pool.Exec(ctx, `update app.users set db_role = case when id = $2 then $1 end
		where id = $2 or db_role = $1`, loginDoorsPsql, u.ID); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"set idle_in_transaction_session_timeout = 0", "set lock_timeout = 0", "set statement_timeout = 0", "begin",
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var out string
	if err := conn.QueryRow(ctx, "select api.update_patient($1, null, 51, null, null)::text", patient).Scan(&out); err != nil {
		t.Fatalf("psql update of its own patient: %v", err)
	}
	var once sync.Once
	end := func() {
		once.Do(func() {
			_, _ = conn.Exec(ctx, "rollback")
			_ = conn.Close(ctx)
		})
	}
	t.Cleanup(end)
	return end
}

// timed is one answer and how long it took.
type timed struct {
	r   apitest.Response
	err error
	d   time.Duration
}

func sendTimed(h *harness, method, path, token string, body any) timed {
	start := time.Now()
	r, err := h.Send(method, path, token, body)
	return timed{r: r, err: err, d: time.Since(start)}
}

// patchAtOnce sends n PATCHes of path (ages from firstAge) at once and
// returns a function that waits for their answers.
func patchAtOnce(h *harness, n int, path, token string, firstAge int) func() []timed {
	answers := make([]timed, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = sendTimed(h, "PATCH", path, token, map[string]any{"age": firstAge + i})
		}()
	}
	return func() []timed {
		wg.Wait()
		return answers
	}
}

// waitForLockWaiters waits (up to 5 s) until some session of the test
// database waits for a lock, so what the test sends next is sent while
// the server's connections are tied up; it reports how many it saw.
func waitForLockWaiters(t *testing.T, tdb *pgtest.DB) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var n int
		err := tdb.Pool.QueryRow(context.Background(), `select count(*) from pg_catalog.pg_stat_activity
			where datname = current_database() and wait_event_type = 'Lock'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Finding 1 of issue 24: a psql session holding a row lock on its own
// patient, and its owner sending PATCHes to that patient, must not make
// anyone else's request wait or fail. Each PATCH answers within about the
// lock timeout with a 409 naming the record and Retry-After (or, over the
// owner's share of the pool, 429), and meanwhile another user's request
// and an anonymous one are answered.
func TestAPsqlSessionHoldingARowCannotHoldTheAPIShut(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	key := newKey()
	cases := []struct {
		name      string
		perCaller int // database.Options.PerCaller
		patches   int
	}{
		// Eight PATCHes take the whole pool of eight: the lock timeout
		// alone frees it within a second or two (a write may wait for the
		// row's tuple lock, then for the holder's transaction, each for up
		// to the lock timeout), inside the others' acquire wait.
		{"lock timeout alone", -1, 8},
		// The default share: two connections per user; the rest are 429.
		{"with the per-user limit", 0, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarnessWith(t, tdb, key, Options{}, database.Options{MaxConns: 8, PerCaller: c.perCaller})
			owner := h.Signup("holder")
			patient := h.CreatePatient(owner, "Held Patient", 50)
			other := h.Signup("bystander")
			otherPatient := h.CreatePatient(other, "Free Patient", 30)
			release := holdPatient(t, tdb, owner, patient)
			defer release()

			wait := patchAtOnce(h, c.patches, fmt.Sprintf("/api/patients/%d/", patient), owner.Access, 52)
			waiting := waitForLockWaiters(t, tdb)
			// While the PATCHes wait: another user's read and an anonymous one.
			others := []timed{
				sendTimed(h, "GET", fmt.Sprintf("/api/patients/%d/", otherPatient), other.Access, nil),
				sendTimed(h, "GET", "/api/doctors/", "", nil),
				sendTimed(h, "PATCH", fmt.Sprintf("/api/patients/%d/", otherPatient), other.Access, map[string]any{"age": 31}),
			}
			answers := wait()

			var locked, busy int
			var slowest time.Duration
			for i, a := range answers {
				if a.err != nil {
					t.Fatalf("PATCH %d: %v", i, a.err)
				}
				slowest = max(slowest, a.d)
				p := apitest.CheckProblem(t, a.r)
				if a.r.Header.Get("Retry-After") == "" {
					t.Errorf("PATCH %d: %d without Retry-After", i, a.r.Status)
				}
				switch {
				case a.r.Status == http.StatusConflict && p["code"] == "locked":
					locked++
					want := fmt.Sprintf("Patient %d is being changed in another session", patient)
					if d, _ := p["detail"].(string); !strings.HasPrefix(d, want) {
						t.Errorf("PATCH %d: detail %q, want it to start %q", i, d, want)
					}
				case a.r.Status == http.StatusTooManyRequests && p["code"] == "too_many_requests" && c.perCaller >= 0:
					busy++
				default:
					t.Errorf("PATCH %d: %d %s, want 409 locked or (with the limit) 429", i, a.r.Status, a.r.Body)
				}
				// Generous: the lock timeout is 1 s, the statement timeout 5 s.
				if a.d > 10*time.Second {
					t.Errorf("PATCH %d took %v", i, a.d)
				}
			}
			if locked == 0 {
				t.Error("no PATCH answered that the record is locked")
			}
			if c.perCaller >= 0 && busy == 0 {
				t.Errorf("%d PATCHes of one user in flight, none refused with 429", c.patches)
			}
			for i, o := range others {
				if o.err != nil || o.r.Status != http.StatusOK {
					t.Errorf("other request %d: %d %s (%v)", i, o.r.Status, o.r.Body, o.err)
				}
			}
			t.Logf("%s: %d lock waiters seen; PATCHes: %d locked, %d refused 429, slowest %v; others: %v, %v, %v",
				c.name, waiting, locked, busy, slowest.Round(time.Millisecond),
				others[0].d.Round(time.Millisecond), others[1].d.Round(time.Millisecond), others[2].d.Round(time.Millisecond))
		})
	}
}

// One user's many legal requests cannot take the pool: beyond the
// per-user limit they are 429 with Retry-After while another user, and an
// anonymous caller, are served. The owner's PATCHes are slow here because
// the owner's psql session holds the row for half a second and then
// commits, so they are legal and succeed once it does.
func TestOneUsersManyRequestsGet429WhileAnotherUserIsServed(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	h := newHarnessWith(t, tdb, newKey(), Options{}, database.Options{MaxConns: 8, PerCaller: 2})
	owner := h.Signup("eager")
	patient := h.CreatePatient(owner, "Busy Patient", 40)
	other := h.Signup("patient")
	otherPatient := h.CreatePatient(other, "Calm Patient", 41)
	release := holdPatient(t, tdb, owner, patient)

	wait := patchAtOnce(h, 12, fmt.Sprintf("/api/patients/%d/", patient), owner.Access, 60)
	waitForLockWaiters(t, tdb)
	served := sendTimed(h, "GET", fmt.Sprintf("/api/patients/%d/", otherPatient), other.Access, nil)
	anonymous := sendTimed(h, "GET", "/api/doctors/", "", nil)
	time.Sleep(300 * time.Millisecond)
	release() // the psql transaction ends: the PATCHes holding a slot go through
	answers := wait()

	statuses := map[int]int{}
	for i, a := range answers {
		if a.err != nil {
			t.Fatalf("PATCH %d: %v", i, a.err)
		}
		statuses[a.r.Status]++
		switch a.r.Status {
		case http.StatusOK:
		case http.StatusTooManyRequests:
			p := apitest.CheckProblem(t, a.r)
			if p["code"] != "too_many_requests" || a.r.Header.Get("Retry-After") == "" {
				t.Errorf("PATCH %d: 429 %s Retry-After %q", i, a.r.Body, a.r.Header.Get("Retry-After"))
			}
		default:
			t.Errorf("PATCH %d: %d %s, want 200 or 429", i, a.r.Status, a.r.Body)
		}
	}
	if statuses[http.StatusOK] == 0 || statuses[http.StatusTooManyRequests] == 0 {
		t.Errorf("statuses %v: want some PATCHes served and the rest 429", statuses)
	}
	if served.err != nil || served.r.Status != http.StatusOK {
		t.Errorf("another user's GET: %d %s (%v)", served.r.Status, served.r.Body, served.err)
	}
	if anonymous.err != nil || anonymous.r.Status != http.StatusOK {
		t.Errorf("anonymous GET: %d %s (%v)", anonymous.r.Status, anonymous.r.Body, anonymous.err)
	}
	t.Logf("statuses %v; another user's GET %v, anonymous GET %v", statuses,
		served.d.Round(time.Millisecond), anonymous.d.Round(time.Millisecond))
}

// Finding 11: the audit event's request_id is the server's own id even
// when the client sends one that imitates the server's format; the
// client's goes into the detail, apart.
func TestAClientRequestIDIsRecordedApartFromTheServers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	u := h.Signup("ider")
	patient := h.CreatePatient(u, "Id Patient", 33)
	// The server's own format: a hex prefix and a counter.
	first := h.Do("GET", fmt.Sprintf("/api/patients/%d/", patient), u.Access, nil)
	prefix, _, _ := strings.Cut(first.Header.Get("X-Request-Id"), "-")
	imitation := prefix + "-1"
	r := h.Expect(h.Do("GET", fmt.Sprintf("/api/patients/%d/", patient), u.Access, nil, "X-Request-Id", imitation), 200, "read")
	server := r.Header.Get("X-Request-Id")
	if server == "" || server == imitation {
		t.Fatalf("X-Request-Id %q: the server answered with the client's id", server)
	}
	rows, err := h.tdb.Pool.Query(context.Background(), `select coalesce(request_id, ''), coalesce(detail->>'client_request_id', '')
		from audit.events where user_id = $1 and action = 'read' order by id`, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) ([2]string, error) {
		var p [2]string
		err := row.Scan(&p[0], &p[1])
		return p, err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{first.Header.Get("X-Request-Id"), ""}, {server, imitation}}
	if !slices.Equal(got, want) {
		t.Fatalf("events (request_id, client_request_id) = %v, want %v", got, want)
	}
	// Like the server's request id, someone else's client id is not in
	// the owner's access log; the owner's own is.
	root := h.Signup("rootid")
	if _, err := h.tdb.Pool.Exec(context.Background(), "update app.users set is_admin = true where id = $1", root.ID); err != nil {
		t.Fatal(err)
	}
	h.Expect(h.Do("GET", fmt.Sprintf("/api/patients/%d/", patient), root.Access, nil, "X-Request-Id", "admin-own-id"), 200, "admin read")
	log := h.Expect(h.Do("GET", fmt.Sprintf("/api/patients/%d/access-log/", patient), u.Access, nil), 200, "access log")
	if strings.Contains(string(log.Body), "admin-own-id") || !strings.Contains(string(log.Body), imitation) {
		t.Fatalf("the owner's access log shows another user's client id, or not the owner's own: %s", log.Body)
	}
}

// The lock problem names what it can: the route's record, else the kind
// of record PostgreSQL named, else any record.
func TestLockedDetailNamesTheRecord(t *testing.T) {
	locked := func(where string) error {
		return &database.Error{Code: "55P03", Kind: database.KindLocked, Relation: where}
	}
	params := func(id string) httprouter.Params { return httprouter.Params{{Key: "id", Value: id}} }
	for _, c := range []struct {
		route, id, relation, want string
	}{
		{"/api/patients/:id/", "7", "patients", "Patient 7 is being changed"},
		{"/api/patients/:id/", "7", "", "Patient 7 is being changed"},
		{"/api/mappings/:id/", "3", "patient_doctors", "Mapping 3 is being changed"},
		{"/api/doctors/:id/account/", "2", "doctors", "Doctor 2 is being changed"},
		{"/api/doctors/:id/", "2", "users", "An account record this request needs"},
		{"/api/mappings/", "", "doctors", "A doctor record this request needs"},
		{"/api/patients/", "", "", "A record this request needs"},
	} {
		st := &requestState{route: c.route, params: params(c.id)}
		if got := lockedDetail(st, locked(c.relation)); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s (%s) waiting on %q: %q, want it to start %q", c.route, c.id, c.relation, got, c.want)
		}
	}
}
