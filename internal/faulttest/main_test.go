package faulttest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"healthcare/internal/apitest"
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

// server is one `healthcare serve` process, with a client for it.
type server struct {
	*apitest.Client
	t   *testing.T
	cmd *exec.Cmd
	url string
	// metricsURL is the metrics listener's /metrics URL, when it logged one.
	metricsURL string
	logs       *apitest.SyncBuffer // the process's stderr (zerolog JSON lines)
	done       chan struct{}       // closed when the process has exited
	err        error               // Wait's result, valid after done
}

func secretKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// baseEnv is what every test server gets: cheap argon2 (allowed by
// DEBUG), a random key, a free port, its own empty working directory (no
// .env is read).
func baseEnv(databaseURL string) apitest.Env {
	return apitest.Env{
		"DATABASE_URL":       databaseURL,
		"HTTP_ADDR":          "127.0.0.1:0",
		"METRICS_ADDR":       "127.0.0.1:0",
		"SECRET_KEY":         secretKey(),
		"DEBUG":              "true",
		"ARGON2_MEMORY_KIB":  "64",
		"ARGON2_ITERATIONS":  "1",
		"ARGON2_PARALLELISM": "1",
		"LOG_LEVEL":          "info",
		// These tests load the server from one address or one token; the
		// per-user limit (its own tests are in internal/httpapi) must not
		// answer them 429.
		"DB_PER_USER_CONNECTIONS": "64",
	}
}

// run starts `healthcare serve` with env and returns once the process
// exits or has logged its listening address.
func run(t *testing.T, env apitest.Env) (*server, error) {
	t.Helper()
	cmd := exec.Command(binary, "serve")
	cmd.Dir = t.TempDir()
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env.Environ()...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, logs: &apitest.SyncBuffer{}, done: make(chan struct{})}
	listening := make(chan string, 1)
	metricsAt := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			_, _ = s.logs.Write([]byte(line + "\n"))
			var m struct {
				Message, Addr string
				MetricsAddr   string `json:"metrics_addr"`
			}
			if json.Unmarshal([]byte(line), &m) != nil {
				continue
			}
			ch, addr := listening, m.Addr
			switch m.Message {
			case "listening":
			case "metrics listening":
				ch, addr = metricsAt, m.MetricsAddr
			default:
				continue
			}
			select {
			case ch <- addr:
			default:
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
		// The metrics listener, when on, is logged before the API's.
		select {
		case s.metricsURL = <-metricsAt:
		default:
		}
		s.url = addr
		s.Client = apitest.New(t, addr)
		return s, nil
	case <-s.done:
		return s, fmt.Errorf("serve exited: %v\n%s", s.err, s.logs)
	case <-time.After(60 * time.Second):
		return s, fmt.Errorf("serve did not listen within 60 s\n%s", s.logs)
	}
}

// start is run for servers that must start.
func start(t *testing.T, env apitest.Env) *server {
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

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}
