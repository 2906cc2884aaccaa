package faulttest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/pgtest"
)

// write is one POST /api/patients/ as the client saw it.
type write struct {
	name    string
	start   time.Time
	latency time.Duration
	status  int
	problem bool
	retry   string
	reqID   string
	err     error
}

// PostgreSQL stops for several seconds under write load and comes back.
// Meanwhile every answer is 503 problem+json with Retry-After (no 500s, no
// hangs); within 2 s of PostgreSQL's return writes succeed again without
// restarting the server; afterwards every acknowledged write is stored
// exactly once.
func TestDatabaseOutageUnderWriteLoad(t *testing.T) {
	tdb := pgtest.New(t)
	cluster := tdb.Cluster()
	if cluster == nil {
		t.Skip("TEST_DATABASE_URL is set: this test needs the throwaway cluster it can stop")
	}
	const (
		acquireTimeout = time.Second
		outage         = 4 * time.Second
		recoveryBound  = 2 * time.Second
		// No answer may take longer than this: the acquire timeout plus the
		// statement timeout plus slack for a slow machine. A hang would
		// last until the client's 30 s timeout.
		latencyBound = acquireTimeout + 2*time.Second + 5*time.Second
	)
	env := baseEnv(tdb.AppURL())
	env["DB_ACQUIRE_TIMEOUT"] = acquireTimeout.String()
	env["DB_STATEMENT_TIMEOUT"] = "2s"
	s := start(t, env)
	token := s.Signup("outage_writer").Access

	var (
		mu     sync.Mutex
		writes []write
		stop   atomic.Bool
		wg     sync.WaitGroup
	)
	const workers = 8
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; !stop.Load(); n++ {
				wr := write{name: fmt.Sprintf("outage-%d-%d", w, n), start: time.Now()}
				r, err := s.Send("POST", "/api/patients/", token, map[string]any{"name": wr.name, "age": 40, "gender": "other"})
				wr.latency, wr.err = time.Since(wr.start), err
				if err == nil {
					wr.status, wr.problem, wr.retry = r.Status, r.Problem() == nil, r.Header.Get("Retry-After")
					wr.reqID = r.Header.Get("X-Request-Id")
				}
				mu.Lock()
				writes = append(writes, wr)
				mu.Unlock()
				if err != nil || r.Status != 201 {
					time.Sleep(50 * time.Millisecond) // as a client honouring Retry-After would, roughly
				}
			}
		}()
	}

	time.Sleep(2 * time.Second)
	stopped := time.Now()
	if err := cluster.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Restart PostgreSQL even if the test fails, so pgtest can clean up.
	t.Cleanup(func() {
		if !cluster.Running() {
			_ = cluster.Start(context.Background())
		}
	})
	time.Sleep(outage / 2)
	ready, err := s.Send("GET", "/readyz", "", nil)
	if err != nil || ready.Status != 503 || ready.Problem() != nil {
		t.Errorf("/readyz during the outage: %d %s (%v); want a 503 problem", ready.Status, ready.Body, err)
	}
	time.Sleep(outage / 2)
	if err := cluster.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	time.Sleep(4 * time.Second)
	stop.Store(true)
	wg.Wait()
	if r, err := s.Send("GET", "/readyz", "", nil); err != nil || r.Status != 200 {
		t.Errorf("/readyz after the outage: %d %s (%v)", r.Status, r.Body, err)
	}

	// Judge every answer.
	acked := map[string]bool{}
	ackedRequest := map[string]string{} // name -> request id
	var during, unavailable int
	var maxLatency time.Duration
	firstOK := time.Time{}
	statuses := map[int]int{}
	for _, wr := range writes {
		maxLatency = max(maxLatency, wr.latency)
		if wr.err != nil {
			t.Errorf("%s: transport error after %v: %v", wr.name, wr.latency, wr.err)
			continue
		}
		statuses[wr.status]++
		if wr.start.After(stopped) && wr.start.Before(restarted) {
			during++
		}
		switch wr.status {
		case 201:
			acked[wr.name] = true
			ackedRequest[wr.name] = wr.reqID
			if wr.start.After(restarted) && (firstOK.IsZero() || wr.start.Before(firstOK)) {
				firstOK = wr.start
			}
		case 503:
			unavailable++
			if !wr.problem || wr.retry == "" {
				t.Errorf("%s: 503 without problem+json or Retry-After (retry %q)", wr.name, wr.retry)
			}
		default:
			t.Errorf("%s: status %d; want only 201 or 503", wr.name, wr.status)
		}
		if wr.latency > latencyBound {
			t.Errorf("%s: answered after %v (status %d); bound %v", wr.name, wr.latency, wr.status, latencyBound)
		}
	}
	if during == 0 || unavailable == 0 {
		t.Fatalf("no write met the outage (during %d, 503s %d): the test proved nothing", during, unavailable)
	}
	var recovery time.Duration
	if firstOK.IsZero() {
		t.Errorf("no write succeeded after PostgreSQL came back")
	} else {
		// A write started at firstOK succeeded; one started earlier after the
		// restart did not, so recovery took at most this long.
		recovery = firstOK.Sub(restarted)
		if recovery > recoveryBound {
			t.Errorf("first successful write started %v after PostgreSQL returned; want within %v", recovery, recoveryBound)
		}
	}

	// Count what PostgreSQL holds, on a fresh connection (the pool's died).
	conn, err := pgx.Connect(ctx(t), tdb.SuperURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx(t), `select name, count(*) from app.patients where name like 'outage-%' group by name`)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]int{}
	for rows.Next() {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		stored[name] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var duplicated, lost, unacked []string
	for name, n := range stored {
		if n > 1 {
			duplicated = append(duplicated, name)
		}
		if !acked[name] {
			unacked = append(unacked, name) // answered 503 but committed: allowed
		}
	}
	for name := range acked {
		if stored[name] == 0 {
			lost = append(lost, name)
		}
	}
	sort.Strings(duplicated)
	sort.Strings(lost)
	t.Logf("writes sent %d (%d during the outage), status counts %v, max latency %v, first success %v after PostgreSQL returned",
		len(writes), during, statuses, maxLatency.Round(time.Millisecond), recovery.Round(time.Millisecond))
	t.Logf("acknowledged %d, stored %d, duplicated %d, lost %d, stored though answered 503: %d",
		len(acked), len(stored), len(duplicated), len(lost), len(unacked))
	if len(lost) > 0 || len(duplicated) > 0 {
		t.Fatalf("lost %v, duplicated %v", lost, duplicated)
	}

	// The audit trail was written in the same transactions: one create
	// event per stored patient, carrying the request id the client saw for
	// every acknowledged write, and none for a write that did not commit.
	rows, err = conn.Query(ctx(t), `select detail #>> '{after,name}', request_id, count(*) over (partition by detail #>> '{after,name}')
		from audit.events where action = 'create' and detail #>> '{after,name}' like 'outage-%'`)
	if err != nil {
		t.Fatal(err)
	}
	events := map[string]string{}
	for rows.Next() {
		var name, reqID string
		var n int
		if err := rows.Scan(&name, &reqID, &n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("%s has %d create events", name, n)
		}
		events[name] = reqID
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for name := range stored {
		if _, ok := events[name]; !ok {
			t.Errorf("%s is stored but has no audit event", name)
		}
	}
	for name := range events {
		if stored[name] == 0 {
			t.Errorf("%s has an audit event but was never stored", name)
		}
	}
	for name, reqID := range ackedRequest {
		if events[name] != reqID {
			t.Errorf("%s was acknowledged under request %s; its event names %q", name, reqID, events[name])
		}
	}
	t.Logf("audit events for the writes: %d (stored %d, acknowledged %d)", len(events), len(stored), len(acked))
}
