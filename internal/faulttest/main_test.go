package faulttest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"healthcare/internal/pgtest"
)

// binary is the healthcare command built once for the whole package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "faulttest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "healthcare")
	out, err := exec.Command("go", "build", "-o", binary, "healthcare/cmd/healthcare").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build healthcare: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	pgtest.Main(m) // exits
}

// server is one `healthcare serve` process.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	logs *lineLog
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid after done
}

// lineLog keeps the process's stderr lines (zerolog JSON).
type lineLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *lineLog) add(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
}

func (l *lineLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

func (l *lineLog) String() string { return strings.Join(l.all(), "\n") }

func secretKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// baseEnv is what every test server gets: cheap argon2 (allowed by
// DEBUG), a random key, a free port, its own empty working directory (no
// .env is read).
func baseEnv(databaseURL string) map[string]string {
	return map[string]string{
		"DATABASE_URL":       databaseURL,
		"HTTP_ADDR":          "127.0.0.1:0",
		"SECRET_KEY":         secretKey(),
		"DEBUG":              "true",
		"ARGON2_MEMORY_KIB":  "64",
		"ARGON2_ITERATIONS":  "1",
		"ARGON2_PARALLELISM": "1",
		"LOG_LEVEL":          "info",
	}
}

// run starts `healthcare serve` with env and returns once the process
// exits or has logged its listening address.
func run(t *testing.T, env map[string]string) (*server, error) {
	t.Helper()
	cmd := exec.Command(binary, "serve")
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, logs: &lineLog{}, done: make(chan struct{})}
	listening := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.logs.add(line)
			var m struct{ Message, Addr string }
			if json.Unmarshal([]byte(line), &m) == nil && m.Message == "listening" {
				select {
				case listening <- m.Addr:
				default:
				}
			}
		}
	}()
	go func() {
		<-scanned // Wait closes the pipe: read it all first
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = cmd.Process.Kill()
			<-s.done
		}
	})
	select {
	case addr := <-listening:
		s.url = addr
		return s, nil
	case <-s.done:
		return s, fmt.Errorf("serve exited: %v\n%s", s.err, s.logs)
	case <-time.After(60 * time.Second):
		return s, fmt.Errorf("serve did not listen within 60 s\n%s", s.logs)
	}
}

// start is run for servers that must start.
func start(t *testing.T, env map[string]string) *server {
	t.Helper()
	s, err := run(t, env)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// wait waits up to d for the process to exit and returns its exit code.
func (s *server) wait(d time.Duration) (int, bool) {
	select {
	case <-s.done:
	case <-time.After(d):
		return 0, false
	}
	var ee *exec.ExitError
	if errors.As(s.err, &ee) {
		return ee.ExitCode(), true
	}
	if s.err != nil {
		return -1, true
	}
	return 0, true
}

// reply is a response read to the end.
type reply struct {
	status int
	header http.Header
	body   []byte
}

var client = &http.Client{Timeout: 30 * time.Second}

func (s *server) call(method, path, token string, body any) (reply, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		return reply{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// must is call that fails the test on a transport error or another status.
func (s *server) must(method, path, token string, body any, want int) reply {
	s.t.Helper()
	r, err := s.call(method, path, token, body)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	if r.status != want {
		s.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.body)
	}
	return r
}

// signup registers and logs in a user and returns an access token.
func (s *server) signup(name string) string {
	s.t.Helper()
	s.must("POST", "/api/auth/register/", "", map[string]string{"username": name, "password": "correct horse"}, 201)
	r := s.must("POST", "/api/auth/login/", "", map[string]string{"username": name, "password": "correct horse"}, 200)
	var tok struct{ Access string }
	if err := json.Unmarshal(r.body, &tok); err != nil || tok.Access == "" {
		s.t.Fatalf("login answer %s", r.body)
	}
	return tok.Access
}

// isProblem reports whether r is an RFC 9457 problem with the status.
func isProblem(r reply) bool {
	if r.header.Get("Content-Type") != "application/problem+json" {
		return false
	}
	var p struct {
		Status int
		Code   string
	}
	return json.Unmarshal(r.body, &p) == nil && p.Status == r.status && p.Code != ""
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}
