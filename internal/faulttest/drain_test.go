package faulttest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"healthcare/internal/pgtest"
)

// attemptKind is what the client saw on one fresh connection.
type attemptKind int

const (
	answered attemptKind = iota // a complete response
	refused                     // the dial was refused: the listener is closed
	reset                       // reset before any response byte: never accepted (checked below)
	dropped                     // closed with no response, or a broken one: the bug
)

// attempt is one request on its own connection.
type attempt struct {
	kind   attemptKind
	status int
	dialed time.Time
	path   string
	err    error
}

// oneShot dials a fresh connection, waits delay (a slow client: the
// server has accepted the connection but its first read has nothing to
// return yet), sends one request with Connection: close and reads the
// response to the end.
func oneShot(addr, path, id string, delay time.Duration) attempt {
	a := attempt{dialed: time.Now(), path: path}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		a.kind, a.err = dropped, err
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			a.kind = refused
		case errors.Is(err, syscall.ECONNRESET):
			a.kind = reset // the handshake was done, the listener closed before accept
		}
		return a
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	time.Sleep(delay)
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nX-Request-Id: " + id + "\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return unanswered(a, err)
	}
	br := bufio.NewReader(c)
	if _, err := br.Peek(1); err != nil {
		return unanswered(a, err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		a.kind, a.err = dropped, fmt.Errorf("broken response: %w", err)
		return a
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || (resp.ContentLength >= 0 && int64(len(body)) != resp.ContentLength) {
		a.kind, a.err = dropped, fmt.Errorf("incomplete body (%d of %d bytes): %v", len(body), resp.ContentLength, err)
		return a
	}
	a.kind, a.status = answered, resp.StatusCode
	return a
}

func (a attempt) String() string {
	kind := [...]string{"answered", "refused", "reset", "dropped"}[a.kind]
	if a.kind == answered {
		return fmt.Sprintf("%s %s %d", a.path, kind, a.status)
	}
	return fmt.Sprintf("%s %s: %v", a.path, kind, a.err)
}

// unanswered classifies a connection that ended before any response
// byte: a reset is what the kernel does to a connection still in the
// listener's accept queue when the listener closes; a plain close (EOF)
// means the server accepted the connection and hung up on it.
func unanswered(a attempt, err error) attempt {
	a.err = err
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		a.kind = reset
	} else {
		a.kind = dropped
	}
	return a
}

// logEntry finds the server's first log line with the message.
func logEntry(s *server, msg string) (map[string]any, bool) {
	for _, line := range s.logs.Lines() {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) == nil && e["message"] == msg {
			return e, true
		}
	}
	return nil, false
}

// A rolling restart as an operator's would be: clients open a fresh
// connection per request while the server gets SIGTERM. Every connection
// the server accepted must get a complete response; a refused dial (the
// listener is closed) and a reset before any answer (the connection was
// still in the kernel's accept queue) are the only failures a client may
// see. Half the clients wait before sending their request, so at any
// moment some accepted connections have not been read yet: that is the
// window in which http.Server.Shutdown, called directly, closes a
// connection with no answer, made wide enough to hit on every run.
//
// It also checks the drain: /readyz answers 503 at once, new connections
// are still served for SHUTDOWN_DRAIN, a keep-alive connection gets
// Connection: close on its next response, no answer is a 5xx, and the
// process exits 0 after the drain and within SHUTDOWN_DRAIN +
// SHUTDOWN_TIMEOUT.
func TestShutdownAnswersEveryAcceptedConnection(t *testing.T) {
	tdb := pgtest.New(t)
	env := baseEnv(tdb.AppURL())
	const (
		drain           = 500 * time.Millisecond
		shutdownTimeout = 10 * time.Second
	)
	env["SHUTDOWN_DRAIN"] = drain.String()
	env["SHUTDOWN_TIMEOUT"] = shutdownTimeout.String()
	s := start(t, env)
	addr := strings.TrimPrefix(s.url, "http://")

	var probesAnswered int // connections of the checks below that got their answers
	probe := func(path string) attempt {
		a := oneShot(addr, path, "probe", 0)
		if a.kind == answered {
			probesAnswered++
		}
		return a
	}
	if a := probe("/readyz"); a.kind != answered || a.status != http.StatusOK {
		t.Fatalf("/readyz before the signal: %v", a)
	}
	// A keep-alive connection, used again during the drain.
	ka, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ka.Close()
	kar := bufio.NewReader(ka)
	keepAliveGet := func() (*http.Response, error) {
		_ = ka.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(ka, "GET /healthz HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
			return nil, err
		}
		resp, err := http.ReadResponse(kar, nil)
		if err != nil {
			return nil, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp, err
	}
	if resp, err := keepAliveGet(); err != nil {
		t.Fatalf("keep-alive request before the signal: %v", err)
	} else if resp.StatusCode != 200 || resp.Close {
		t.Fatalf("keep-alive request before the signal: status %d, Connection %q; want 200 and the connection kept", resp.StatusCode, resp.Header.Get("Connection"))
	}
	probesAnswered++ // the keep-alive connection

	var (
		mu       sync.Mutex
		attempts []attempt
		stop     atomic.Bool
		wg       sync.WaitGroup
	)
	const workers = 12
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; !stop.Load(); n++ {
				path := "/healthz"
				if n%2 == 1 {
					path = "/api/doctors/" // through the pool and PostgreSQL
				}
				var delay time.Duration
				if w%2 == 1 {
					delay = 50*time.Millisecond + rand.N(150*time.Millisecond)
				}
				a := oneShot(addr, path, fmt.Sprintf("w%d-%d", w, n), delay)
				mu.Lock()
				attempts = append(attempts, a)
				mu.Unlock()
				if a.kind != answered {
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	}

	time.Sleep(time.Second) // let the load build
	signalled := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	// /readyz turns 503 at once, while the server still answers.
	var notReady attempt
	for time.Since(signalled) < drain/2 {
		if notReady = probe("/readyz"); notReady.kind != answered || notReady.status != http.StatusOK {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if notReady.kind != answered || notReady.status != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the drain: %v, want a 503 answer", notReady)
	}
	// The keep-alive connection is answered once more, told to close, and closed.
	if resp, err := keepAliveGet(); err != nil {
		t.Errorf("keep-alive request during the drain: %v; want 200 with Connection: close", err)
	} else if resp.StatusCode != 200 || !resp.Close {
		t.Errorf("keep-alive request during the drain: status %d, Connection %q; want 200 with Connection: close", resp.StatusCode, resp.Header.Get("Connection"))
	} else if _, err := kar.Peek(1); err != io.EOF {
		t.Errorf("keep-alive connection after Connection: close: %v, want EOF", err)
	}

	code, exited := s.wait(drain + shutdownTimeout + 5*time.Second)
	exitedAfter := time.Since(signalled)
	time.Sleep(200 * time.Millisecond) // a few refused dials after the exit
	stop.Store(true)
	wg.Wait()
	if !exited {
		t.Fatalf("serve still running %v after SIGTERM", drain+shutdownTimeout+5*time.Second)
	}
	if code != 0 {
		t.Fatalf("serve exited with %d after SIGTERM\n%s", code, s.logs)
	}

	counts := map[attemptKind]int{}
	var servedInDrain int
	for _, a := range attempts {
		counts[a.kind]++
		switch a.kind {
		case dropped:
			t.Errorf("%s on a connection dialed %v after the signal: %v", a.path, a.dialed.Sub(signalled).Round(time.Millisecond), a.err)
		case answered:
			if a.status != http.StatusOK {
				t.Errorf("%s: status %d, want 200", a.path, a.status)
			}
			if a.dialed.After(signalled) {
				servedInDrain++
			}
		}
	}
	t.Logf("connections: %d answered (%d dialed after the signal), %d refused, %d reset in the accept queue, %d dropped; exit 0 after %v",
		counts[answered], servedInDrain, counts[refused], counts[reset], counts[dropped], exitedAfter.Round(time.Millisecond))

	// The server's own count of what it accepted: every one was answered,
	// so no reset above was a connection the server had taken.
	e, ok := logEntry(s, "stopped accepting")
	if !ok {
		t.Fatal(`the server did not log "stopped accepting"`)
	}
	accepted, _ := e["connections_accepted"].(float64)
	waiting, _ := e["awaiting_first_answer"].(float64)
	t.Logf("server: %v connections accepted, %v awaiting their first answer when the listener closed", accepted, waiting)
	if int(accepted) != counts[answered]+probesAnswered {
		t.Errorf("the server accepted %v connections; %d got a complete answer", accepted, counts[answered]+probesAnswered)
	}
	if waiting == 0 {
		t.Errorf("no accepted connection was waiting for its first answer when the listener closed; the test proved nothing")
	}
	// /readyz's 503 is the drain working, not a failed request.
	for _, line := range s.logs.Lines() {
		if strings.Contains(line, `"request failed"`) {
			t.Errorf("server logged a failed request: %s", line)
		}
	}
	if servedInDrain == 0 {
		t.Errorf("no connection dialed after the signal was answered: the server did not keep serving during the drain")
	}
	if exitedAfter < drain || exitedAfter > drain+shutdownTimeout {
		t.Errorf("exited %v after the signal; want between SHUTDOWN_DRAIN (%v) and SHUTDOWN_DRAIN + SHUTDOWN_TIMEOUT", exitedAfter, drain)
	}
}
