//go:build ha

package hatest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/apitest"
)

const (
	// recoveryBound is the promise: writes succeed again within
	// 15 s of the kill.
	recoveryBound = 15 * time.Second
	// acquireTimeout and statementTimeout are the copies' DB_ACQUIRE_TIMEOUT
	// and DB_STATEMENT_TIMEOUT; no request may take longer than both (a
	// failed attempt on a dead connection is retried once, when nothing
	// reached the server) plus slack for a slow machine.
	acquireTimeout   = 2 * time.Second
	statementTimeout = 3 * time.Second
	latencyBound     = 2*acquireTimeout + statementTimeout + 3*time.Second
)

// answer is one HTTP exchange as the client saw it.
type answer struct {
	name       string
	start, end time.Time
	status     int
	problem    bool
	retry      string
	err        error
}

// recoveryRound is one look at the surviving nodes: whether any of them
// was out of recovery (a primary) when asked, between start and end.
type recoveryRound struct {
	start, end  time.Time
	anyPrimary  bool
	allAnswered bool
}

// TestFailoverUnderWriteLoad kills the primary's Patroni and PostgreSQL
// with SIGKILL while two server copies take writes, then checks every
// answer, /readyz, and what the database holds; finally the old primary
// comes back as a replica.
func TestFailoverUnderWriteLoad(t *testing.T) {
	old := leader()
	if old < 0 {
		t.Fatal("no node is primary before the test")
	}
	env := serveEnv(ha.DatabaseURL, secretKey())
	env["DB_ACQUIRE_TIMEOUT"] = acquireTimeout.String()
	env["DB_STATEMENT_TIMEOUT"] = statementTimeout.String()
	env["LOGIN_MAX_FAILURES_PER_ACCOUNT"] = "2"
	env["LOGIN_FAILURE_WINDOW"] = "1h"
	copies := []*server{serve(t, env), serve(t, env)}
	a, b := copies[0], copies[1]
	writer := a.Signup(run + "failover_writer")

	// State that lives in PostgreSQL and must survive the failover: a
	// throttled account and an ended session.
	throttled := a.Signup(run + "failover_throttled")
	for range 2 {
		a.Expect(a.Do("POST", "/api/auth/login/", "", map[string]any{"username": throttled.Name, "password": "wrong password"}), 401, "failure")
	}
	ended := a.Signup(run + "failover_ended")
	a.Must("POST", "/api/auth/logout/", "", map[string]any{"refresh": ended.Refresh}, 204)

	// The surviving nodes, watched directly: the moment one leaves
	// recovery is when a primary exists again.
	var survivors []*pgx.Conn
	for i := range ha.Patroni {
		if i != old {
			survivors = append(survivors, connect(t, nodeURL(ha.MigrationURL, i)))
		}
	}

	var (
		mu     sync.Mutex
		writes []answer
		probes []answer
		rounds []recoveryRound
		stop   atomic.Bool
		wg     sync.WaitGroup
	)
	record := func(list *[]answer, a answer) {
		mu.Lock()
		*list = append(*list, a)
		mu.Unlock()
	}
	send := func(c *server, method, path, token, name string, body any) answer {
		an := answer{name: name, start: time.Now()}
		r, err := c.Send(method, path, token, body)
		an.end, an.err = time.Now(), err
		if err == nil {
			an.status, an.problem, an.retry = r.Status, r.Problem() == nil, r.Header.Get("Retry-After")
		}
		return an
	}
	const workers = 8
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := copies[w%2]
			for n := 0; !stop.Load(); n++ {
				name := fmt.Sprintf("%sfailover-%d-%d", run, w, n)
				an := send(c, "POST", "/api/patients/", writer.Access, name, map[string]any{"name": name, "age": 50, "gender": "other"})
				record(&writes, an)
				if an.status != 201 {
					time.Sleep(50 * time.Millisecond) // a client honouring Retry-After, roughly
				}
			}
		}()
	}
	for i, c := range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				record(&probes, send(c, "GET", "/readyz", "", "readyz-"+strconv.Itoa(i), nil))
				time.Sleep(200 * time.Millisecond)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			r := recoveryRound{start: time.Now(), allAnswered: true}
			for _, conn := range survivors {
				qctx, cancel := context.WithTimeout(context.Background(), time.Second)
				var inRecovery bool
				err := conn.QueryRow(qctx, "select pg_is_in_recovery()").Scan(&inRecovery)
				cancel()
				if err != nil {
					r.allAnswered = false
				} else if !inRecovery {
					r.anyPrimary = true
				}
			}
			r.end = time.Now()
			mu.Lock()
			rounds = append(rounds, r)
			mu.Unlock()
			time.Sleep(100 * time.Millisecond)
		}
	}()

	time.Sleep(3 * time.Second)
	killedAt := killNode(t, old)
	t.Logf("killed node n%d (Patroni and PostgreSQL) at %s", old+1, killedAt.Format(time.RFC3339Nano))

	// Keep the load on until writes have succeeded again for 5 s.
	deadline := killedAt.Add(45 * time.Second)
	var firstOK time.Time
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		mu.Lock()
		for _, w := range writes {
			if w.status == 201 && w.start.After(killedAt) && (firstOK.IsZero() || w.end.Before(firstOK)) {
				firstOK = w.end
			}
		}
		mu.Unlock()
		if !firstOK.IsZero() && time.Since(firstOK) > 5*time.Second {
			break
		}
	}
	stop.Store(true)
	wg.Wait()

	// Every write: 201 or a 503 problem with Retry-After, within the bound.
	acked := map[string]bool{}
	statuses := map[int]int{}
	var unavailable, other5xx, transport, during int
	var maxLatency time.Duration
	for _, w := range writes {
		maxLatency = max(maxLatency, w.end.Sub(w.start))
		if w.err != nil {
			transport++
			t.Errorf("%s: transport error after %v: %v", w.name, w.end.Sub(w.start), w.err)
			continue
		}
		statuses[w.status]++
		if w.start.After(killedAt) && (firstOK.IsZero() || w.start.Before(firstOK)) {
			during++
		}
		switch {
		case w.status == 201:
			acked[w.name] = true
		case w.status == 503:
			unavailable++
			if !w.problem || w.retry == "" {
				t.Errorf("%s: 503 without problem+json or Retry-After (%q)", w.name, w.retry)
			}
		default:
			if w.status >= 500 {
				other5xx++
			}
			t.Errorf("%s: status %d; want only 201 or 503", w.name, w.status)
		}
		if d := w.end.Sub(w.start); d > latencyBound {
			t.Errorf("%s: answered after %v (status %d); bound %v", w.name, d, w.status, latencyBound)
		}
	}
	if unavailable == 0 || during == 0 {
		t.Errorf("no write met the failover (%d during, %d answered 503): the test proved nothing", during, unavailable)
	}
	var recovery time.Duration
	if firstOK.IsZero() {
		t.Errorf("no write succeeded within 45 s of the kill")
	} else if recovery = firstOK.Sub(killedAt); recovery > recoveryBound {
		t.Errorf("first successful write %v after the kill; want within %v", recovery, recoveryBound)
	}

	// /readyz tells the truth: 200 or a 503 problem; 503 at some point
	// after the kill; never 200 from a probe that began after the kill and
	// ended before a surviving node had been promoted; 200 again at the end.
	var promotedAfter time.Time // start of the last round that saw no primary
	var promotedSeen time.Time
	for _, r := range rounds {
		if r.start.Before(killedAt) {
			continue
		}
		if r.anyPrimary {
			if promotedSeen.IsZero() {
				promotedSeen = r.end
			}
			continue
		}
		if r.allAnswered && promotedSeen.IsZero() {
			promotedAfter = r.start
		}
	}
	var ready503, lies int
	for _, p := range probes {
		if p.err != nil {
			t.Errorf("%s: transport error: %v", p.name, p.err)
			continue
		}
		switch p.status {
		case 200:
			if p.start.After(killedAt) && p.end.Before(promotedAfter) {
				lies++
				t.Errorf("%s answered 200 at %s, before any surviving node was primary", p.name, p.end.Format(time.RFC3339Nano))
			}
		case 503:
			if p.start.After(killedAt) {
				ready503++
			}
			if !p.problem || p.retry == "" {
				t.Errorf("%s: 503 without problem+json or Retry-After", p.name)
			}
		default:
			t.Errorf("%s: status %d; want 200 or 503", p.name, p.status)
		}
	}
	if ready503 == 0 {
		t.Errorf("/readyz never answered 503 after the kill")
	}
	for i, c := range copies {
		c.Expect(c.Do("GET", "/readyz", "", nil), 200, fmt.Sprintf("/readyz of copy %d after the failover", i))
	}

	// What the database holds: every acknowledged write exactly once.
	super := connect(t, ha.MigrationURL)
	rows, err := super.Query(ctx(t), `select name, count(*) from app.patients where name like $1 group by name`, run+"failover-%")
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
	var lost, duplicated []string
	unacked := 0
	for name, n := range stored {
		if n > 1 {
			duplicated = append(duplicated, name)
		}
		if !acked[name] {
			unacked++ // answered 503 (or cut off) but committed: allowed
		}
	}
	for name := range acked {
		if stored[name] == 0 {
			lost = append(lost, name)
		}
	}
	sort.Strings(lost)
	sort.Strings(duplicated)
	newLeader := leader()

	figure("failover: killed", fmt.Sprintf("n%d; new primary n%d, seen promoted %v after the kill", old+1, newLeader+1, promotedSeen.Sub(killedAt).Round(time.Millisecond)))
	figure("failover: time to first successful write after the kill", recovery)
	figure("failover: writes sent (during the switch)", fmt.Sprintf("%d (%d)", len(writes), during))
	figure("failover: status counts", fmt.Sprint(statuses))
	figure("failover: acknowledged / stored / lost / duplicated / stored though not acknowledged",
		fmt.Sprintf("%d / %d / %d / %d / %d", len(acked), len(stored), len(lost), len(duplicated), unacked))
	figure("failover: 5xx other than 503", other5xx)
	figure("failover: transport errors", transport)
	figure("failover: max write latency", maxLatency)
	figure("failover: /readyz probes after the kill answering 503 / untruthful 200", fmt.Sprintf("%d / %d", ready503, lies))
	if len(lost) > 0 || len(duplicated) > 0 {
		t.Errorf("lost %v, duplicated %v", lost, duplicated)
	}
	if newLeader < 0 || newLeader == old {
		t.Errorf("leader after the failover: %d (was %d)", newLeader, old)
	}

	// Throttling and logout live in the database: they survived.
	b.Expect(b.Do("POST", "/api/auth/login/", "", map[string]any{"username": throttled.Name, "password": apitest.Password}), 429,
		"the throttled account after the failover")
	b.Expect(b.Do("GET", "/api/patients/", ended.Access, nil), 401, "the ended session after the failover")

	// The old primary comes back as a replica (pg_rewind if it must) and
	// holds every row.
	started := time.Now()
	script(t, "cluster", "up", ha.Dir)
	figure("failover: old primary back as a replica after", time.Since(started))
	if role := patroniRole(old); role != "replica" {
		t.Errorf("n%d's role after it came back: %q; want replica", old+1, role)
	}
	var lsn string
	if err := super.QueryRow(ctx(t), "select pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	back := connect(t, nodeURL(ha.MigrationURL, old))
	waitUntil(t, 30*time.Second, "the old primary to replay "+lsn, func() bool {
		var done bool
		err := back.QueryRow(ctx(t), "select pg_last_wal_replay_lsn() >= $1::pg_lsn", lsn).Scan(&done)
		return err == nil && done
	})
	var n int
	if err := back.QueryRow(ctx(t), "select count(*) from app.patients where name like $1", run+"failover-%").Scan(&n); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, c := range stored {
		total += c
	}
	if n != total {
		t.Errorf("the old primary holds %d failover rows after rejoining; the primary %d", n, total)
	}
}

// killNode sends SIGKILL to node i's Patroni, its postmaster and the
// postmaster's children (the PIDs recorded in patroni.pid and
// postmaster.pid, each checked to be that process), and returns when.
func killNode(t *testing.T, i int) time.Time {
	t.Helper()
	dir := nodeDir(i)
	patroni := readPID(t, filepath.Join(dir, "patroni.pid"))
	postmaster := readPID(t, filepath.Join(dir, "data", "postmaster.pid"))
	if !cmdlineHas(patroni, filepath.Join(dir, "patroni.yml")) {
		t.Fatalf("pid %d is not node %d's Patroni", patroni, i+1)
	}
	if !cmdlineHas(postmaster, filepath.Join(dir, "data")) {
		t.Fatalf("pid %d is not node %d's postmaster", postmaster, i+1)
	}
	children := childrenOf(postmaster)
	at := time.Now()
	for _, pid := range append([]int{patroni, postmaster}, children...) {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Logf("kill %d: %v", pid, err)
		}
	}
	return at
}

func cmdlineHas(pid int, s string) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && strings.Contains(strings.ReplaceAll(string(data), "\x00", " "), s)
}

func childrenOf(parent int) []int {
	out, err := exec.Command("ps", "-o", "pid=", "--ppid", strconv.Itoa(parent)).Output()
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}
