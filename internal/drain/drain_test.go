package drain

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// started is a Server serving a handler that answers "ok" on 127.0.0.1.
type started struct {
	s      *Server
	addr   string
	cancel context.CancelFunc
	done   chan error  // Serve's result, sent once
	states chan string // "new" per accepted connection
	waited bool        // the test has received from done
}

func start(t *testing.T, drain, timeout time.Duration) *started {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st := &started{s: New(drain, timeout, zerolog.Nop()), addr: ln.Addr().String(), done: make(chan error, 1), states: make(chan string, 1000)}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "2")
			_, _ = io.WriteString(w, "ok")
		}),
		// A hook of the caller's own still runs (Serve chains its own before it).
		ConnState: func(c net.Conn, s http.ConnState) {
			if s == http.StateNew {
				select {
				case st.states <- "new":
				default: // never block the accept loop
				}
			}
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	st.cancel = cancel
	go func() { st.done <- st.s.Serve(ctx, srv, ln) }()
	t.Cleanup(func() {
		cancel()
		if st.waited {
			return
		}
		select {
		case <-st.done:
		case <-time.After(drain + timeout + 5*time.Second):
			t.Error("Serve did not return")
		}
	})
	return st
}

// result waits up to d for Serve to return.
func (st *started) result(d time.Duration) (returned bool, err error) {
	select {
	case err = <-st.done:
		st.waited = true
		return true, err
	case <-time.After(d):
		return false, nil
	}
}

// dialAccepted opens a connection and waits until the server has accepted it.
func (st *started) dialAccepted(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", st.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	select {
	case <-st.states:
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not accept the connection")
	}
	return c
}

// get sends one GET on c and reads the response to the end.
func get(c net.Conn, br *bufio.Reader, header string) (*http.Response, string, error) {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n"+header+"\r\n"); err != nil {
		return nil, "", err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}

// refusedWithin waits until a dial to addr is refused (a dial racing the
// close may be reset instead: try again).
func refusedWithin(addr string, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if errors.Is(err, syscall.ECONNREFUSED) {
			return true
		}
		if err == nil {
			c.Close()
		}
	}
	return false
}

// The case http.Server.Shutdown gets wrong: a connection accepted before
// the listener closed, whose request arrives after. It must be answered,
// and Serve must wait for it.
func TestConnectionAcceptedBeforeTheListenerClosesIsAnswered(t *testing.T) {
	st := start(t, 50*time.Millisecond, 10*time.Second)
	c := st.dialAccepted(t)
	st.cancel()
	if !refusedWithin(st.addr, 5*time.Second) {
		t.Fatal("the listener did not close after the drain")
	}
	if returned, err := st.result(100 * time.Millisecond); returned {
		t.Fatalf("Serve returned (%v) while an accepted connection had not been answered", err)
	}
	resp, body, err := get(c, bufio.NewReader(c), "")
	if err != nil {
		t.Fatalf("request on the accepted connection: %v", err)
	}
	if resp.StatusCode != 200 || body != "ok" || !resp.Close {
		t.Fatalf("answer: status %d, body %q, close %v; want 200 ok with Connection: close", resp.StatusCode, body, resp.Close)
	}
	if returned, err := st.result(5 * time.Second); !returned {
		t.Fatal("Serve did not return once every connection was answered")
	} else if err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

// During the drain the server keeps accepting and answering, Draining
// reports true, and a keep-alive connection is told to close on its next
// response and then closed.
func TestDrainKeepsServingAndClosesKeepAliveConnections(t *testing.T) {
	const drain = 300 * time.Millisecond
	st := start(t, drain, 10*time.Second)
	ka := st.dialAccepted(t)
	kar := bufio.NewReader(ka)
	if resp, _, err := get(ka, kar, ""); err != nil || resp.Close {
		t.Fatalf("before the drain: %v, close=%v; want the connection kept alive", err, resp != nil && resp.Close)
	}
	if st.s.Draining() {
		t.Fatal("Draining before the context ended")
	}
	stopped := time.Now()
	st.cancel()
	for !st.s.Draining() {
		if time.Since(stopped) > time.Second {
			t.Fatal("not Draining a second after the context ended")
		}
		time.Sleep(time.Millisecond)
	}
	fresh := st.dialAccepted(t)
	if resp, body, err := get(fresh, bufio.NewReader(fresh), "Connection: close\r\n"); err != nil || body != "ok" {
		t.Fatalf("new connection during the drain: %v %q", err, body)
	} else if resp.StatusCode != 200 {
		t.Fatalf("new connection during the drain: status %d", resp.StatusCode)
	}
	resp, _, err := get(ka, kar, "")
	if err != nil {
		t.Fatalf("keep-alive request during the drain: %v", err)
	}
	if !resp.Close { // ReadResponse turns Connection: close into Close
		t.Fatal("keep-alive response during the drain has no Connection: close")
	}
	if _, err := kar.Peek(1); err != io.EOF {
		t.Fatalf("keep-alive connection after Connection: close: %v, want EOF", err)
	}
	returned, err := st.result(5 * time.Second)
	switch {
	case !returned:
		t.Fatal("Serve did not return")
	case err != nil:
		t.Fatalf("Serve: %v", err)
	case time.Since(stopped) < drain:
		t.Fatalf("Serve returned %v after the context ended, before the %v drain", time.Since(stopped), drain)
	}
}

// A connection that never sends a request holds the stop for at most the
// shutdown timeout, and Serve says so.
func TestSilentConnectionEndsInATimeoutError(t *testing.T) {
	const timeout = 300 * time.Millisecond
	st := start(t, 0, timeout)
	st.dialAccepted(t)
	stopped := time.Now()
	st.cancel()
	returned, err := st.result(5 * time.Second)
	took := time.Since(stopped)
	switch {
	case !returned:
		t.Fatal("Serve did not return")
	case err == nil || !strings.Contains(err.Error(), "1 accepted connections had not answered"):
		t.Fatalf("Serve: %v, want a timeout naming one connection", err)
	case took < timeout || took > timeout+2*time.Second:
		t.Fatalf("Serve returned %v after the context ended; timeout %v", took, timeout)
	}
}
