package faulttest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"healthcare/internal/pgtest"
)

// outcome is what the client saw for one request id.
type outcome struct {
	status   int
	complete bool // status line, headers and the whole body arrived
	err      error
	slow     bool
	end      time.Time
}

// SIGTERM (and SIGINT) under load: the server drains, stops accepting,
// finishes what it accepted, closes the pool and exits 0 within
// SHUTDOWN_DRAIN + SHUTDOWN_TIMEOUT. "Accepted" is read from the server's
// own access log: every request id it logged must have reached the client
// as a complete response with the logged status. Requests the server never
// read may fail (connection refused). TestShutdownAnswersEveryAcceptedConnection
// checks the connections the access log cannot see: those closed before
// their first request reached a handler.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) { shutdownUnderLoad(t, sig) })
	}
}

func shutdownUnderLoad(t *testing.T, sig syscall.Signal) {
	tdb := pgtest.New(t)
	// Make the doctor list take half a second, so requests are surely in
	// flight when the signal arrives.
	_, err := tdb.Pool.Exec(ctx(t), `create or replace function api.list_doctors(p_specialization text default null, p_search text default null,
		p_limit integer default null, p_offset integer default null) returns json language sql volatile as
		$$ select pg_catalog.pg_sleep(0.5); select '{"count":0,"next":null,"previous":null,"results":[]}'::json $$`)
	if err != nil {
		t.Fatal(err)
	}
	env := baseEnv(tdb.AppURL())
	const shutdownTimeout = 10 * time.Second
	env["SHUTDOWN_TIMEOUT"] = shutdownTimeout.String()
	env["SHUTDOWN_DRAIN"] = "300ms"
	s := start(t, env)

	var (
		mu       sync.Mutex
		outcomes = map[string]outcome{}
		stop     atomic.Bool
		wg       sync.WaitGroup
	)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	const workers = 24
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; !stop.Load(); n++ {
				id := fmt.Sprintf("w%d-%d", w, n)
				slow := n%2 == 0
				path := "/healthz"
				if slow {
					path = "/api/doctors/"
				}
				req, _ := http.NewRequest("GET", s.url+path, nil)
				req.Header.Set("X-Request-Id", id)
				o := outcome{slow: slow}
				resp, err := c.Do(req)
				if err == nil {
					o.status = resp.StatusCode
					var b []byte
					b, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					o.complete = err == nil && strconv.Itoa(len(b)) == resp.Header.Get("Content-Length")
				}
				o.err, o.end = err, time.Now()
				mu.Lock()
				outcomes[id] = o
				mu.Unlock()
				if err != nil {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}

	time.Sleep(1500 * time.Millisecond) // let the load build
	signalled := time.Now()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	code, exited := s.wait(shutdownTimeout + 5*time.Second)
	exitedAfter := time.Since(signalled)
	time.Sleep(200 * time.Millisecond) // a few refused attempts after exit
	stop.Store(true)
	wg.Wait()
	if !exited {
		t.Fatalf("serve still running %v after %v", shutdownTimeout+5*time.Second, sig)
	}
	if code != 0 {
		t.Fatalf("serve exited with %d after %v\n%s", code, sig, s.logs)
	}

	// What the server says it answered.
	logged := map[string]int{}
	for _, line := range s.logs.Lines() {
		var e struct {
			Message string `json:"message"`
			// The id the client sent; the server's own is request_id.
			ClientRequestID string `json:"client_request_id"`
			Status          int    `json:"status"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && e.Message == "request" {
			logged[e.ClientRequestID] = e.Status
		}
	}
	var accepted, completeAfterSignal, refused, broken int
	for id, status := range logged {
		accepted++
		o, ok := outcomes[id]
		switch {
		case !ok:
			t.Errorf("server logged %s (status %d) but the client never finished it", id, status)
			broken++
		case o.err != nil || !o.complete || o.status != status:
			t.Errorf("accepted request %s: client got status %d complete=%v err=%v; server logged %d", id, o.status, o.complete, o.err, status)
			broken++
		case o.slow && o.end.After(signalled):
			completeAfterSignal++
		}
	}
	for id, o := range outcomes {
		if _, ok := logged[id]; !ok {
			if o.err == nil {
				t.Errorf("client got status %d for %s, which the server never logged", o.status, id)
			}
			refused++
		}
	}
	t.Logf("requests accepted by the server: %d; slow ones completed after the signal: %d; not accepted (refused or never sent): %d; broken: %d; exit 0 after %v",
		accepted, completeAfterSignal, refused, broken, exitedAfter.Round(time.Millisecond))
	if completeAfterSignal == 0 {
		t.Fatalf("no request was in flight at %v; the test proved nothing", sig)
	}
}
