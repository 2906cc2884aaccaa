package faulttest

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"healthcare/internal/pgtest"
)

// trickle writes msg to conn one byte per interval until the server closes
// the connection or msg runs out, and reports how long the server kept it.
func trickle(conn net.Conn, msg string, interval time.Duration) (held time.Duration, closed bool) {
	// A reader notices the server closing even while we are between bytes.
	gone := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, conn)
		close(gone)
	}()
	start := time.Now()
	for i := 0; i < len(msg); i++ {
		if _, err := conn.Write([]byte{msg[i]}); err != nil {
			return time.Since(start), true
		}
		select {
		case <-gone:
			return time.Since(start), true
		case <-time.After(interval):
		}
	}
	return time.Since(start), false
}

func dial(t *testing.T, s *server) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// A client sending one byte per second is cut off by the header and read
// timeouts (HTTP_READ_HEADER_TIMEOUT, HTTP_READ_TIMEOUT) instead of
// holding a connection for as long as it likes.
func TestSlowClientCannotHoldAConnection(t *testing.T) {
	tdb := pgtest.New(t)
	env := baseEnv(tdb.AppURL())
	env["HTTP_READ_HEADER_TIMEOUT"] = "2s"
	env["HTTP_READ_TIMEOUT"] = "3s"
	s := start(t, env)

	// About 60 bytes of headers: a minute at one byte per second.
	headers := "GET /api/doctors/ HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 20) + "\r\n\r\n"
	held, closed := trickle(dial(t, s), headers, time.Second)
	t.Logf("slow headers: closed by the server after %v", held.Round(time.Millisecond))
	if !closed {
		t.Fatalf("the server kept a one-byte-per-second header stream open for %v", held)
	}

	// Headers at once, then the body one byte per second.
	body := `{"username":"slow","password":"` + strings.Repeat("p", 40) + `"}`
	conn := dial(t, s)
	_, err := conn.Write([]byte("POST /api/auth/login/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	held, closed = trickle(conn, body, time.Second)
	t.Logf("slow body: closed by the server after %v", held.Round(time.Millisecond))
	if !closed {
		t.Fatalf("the server kept a one-byte-per-second body open for %v", held)
	}

	// Everyone else is still served.
	s.Must("GET", "/healthz", "", nil, 200)
}

// Request headers beyond HTTP_MAX_HEADER_BYTES are refused with 431.
func TestOversizedHeadersAreRefused(t *testing.T) {
	tdb := pgtest.New(t)
	env := baseEnv(tdb.AppURL())
	env["HTTP_MAX_HEADER_BYTES"] = "4096"
	s := start(t, env)
	req, _ := http.NewRequest("GET", s.url+"/api/doctors/", nil)
	req.Header.Set("X-Big", strings.Repeat("b", 32<<10))
	resp, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", resp.StatusCode)
	}
	// A header within the limit is fine.
	req.Header.Set("X-Big", strings.Repeat("b", 1024))
	resp, err = s.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d with a 1 KiB header, want 200", resp.StatusCode)
	}
}
