//go:build ha

package hatest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/apitest"
)

// ha is the cluster every test runs on: the HA_* lines of
// `deploy/ha/cluster up` (or `env`).
var ha struct {
	Dir          string
	MigrationURL string // superuser, read-write
	DatabaseURL  string // the runtime login, read-write
	ReportingURL string // the reporting login, standby preferred
	PsqlURL      string // the psql login linked to the admin account
	Patroni      []string
	Binary       string // DIR/bin/healthcare
}

// run prefixes the usernames of this run, so runs on one cluster (HA_DIR)
// do not collide.
var run = "r" + secretKey()[:6] + "_"

// scripts is deploy/ha, from this package's directory.
var scripts = filepath.Join("..", "..", "deploy", "ha")

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, own := os.Getenv("HA_DIR"), false
	if dir == "" {
		d, err := os.MkdirTemp("", "ha")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		dir, own = d, true
		defer os.RemoveAll(dir)
	}
	action := "env"
	if own {
		action = "up"
	}
	cmd := exec.Command(filepath.Join(scripts, "cluster"), action, dir)
	// Should this process die, the cluster stops by itself.
	cmd.Env = append(os.Environ(), "HA_LIFETIME=900")
	cmd.Stderr = os.Stderr
	started := time.Now()
	out, err := cmd.Output()
	if own {
		defer func() {
			down := exec.Command(filepath.Join(scripts, "cluster"), "down", dir)
			down.Stdout, down.Stderr = os.Stderr, os.Stderr
			_ = down.Run()
		}()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "cluster %s %s: %v\n", action, dir, err)
		return 1
	}
	if own {
		figure("cluster up (etcd, 3 nodes, migrations, logins, stanza)", time.Since(started))
	}
	vars := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "HA_") {
			vars[k] = v
		}
	}
	for _, k := range []string{"HA_MIGRATION_DATABASE_URL", "HA_DATABASE_URL", "HA_REPORTING_URL", "HA_PATRONI", "HA_PSQL_URL", "HA_DIR"} {
		if vars[k] == "" {
			fmt.Fprintf(os.Stderr, "cluster %s printed no %s:\n%s", action, k, out)
			return 1
		}
	}
	ha.Dir = vars["HA_DIR"]
	ha.MigrationURL = vars["HA_MIGRATION_DATABASE_URL"]
	ha.DatabaseURL = vars["HA_DATABASE_URL"]
	ha.ReportingURL = vars["HA_REPORTING_URL"]
	ha.PsqlURL = vars["HA_PSQL_URL"]
	ha.Patroni = strings.Split(vars["HA_PATRONI"], ",")
	ha.Binary = filepath.Join(ha.Dir, "bin", "healthcare")
	return m.Run()
}

// figure prints one measured figure where CI's log shows it.
func figure(what string, v any) {
	if d, ok := v.(time.Duration); ok {
		v = d.Round(time.Millisecond)
	}
	fmt.Printf("FIGURE %s: %v\n", what, v)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx(t), url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// script runs deploy/ha/<name> args... and returns its KEY=VALUE lines.
func script(t *testing.T, name string, args ...string) map[string]string {
	t.Helper()
	cmd := exec.Command(filepath.Join(scripts, name), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	vars := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			vars[k] = v
		}
	}
	return vars
}

// patroniRole is what node i's Patroni REST API says of its member
// ("master", "primary", "replica", ...), "" when it does not answer.
func patroniRole(i int) string {
	c := http.Client{Timeout: time.Second}
	r, err := c.Get(ha.Patroni[i] + "/patroni")
	if err != nil {
		return ""
	}
	defer r.Body.Close()
	var st struct{ Role string }
	if json.NewDecoder(r.Body).Decode(&st) != nil {
		return ""
	}
	return st.Role
}

// leader returns the index of the node whose Patroni answers 200 on
// /primary, or -1.
func leader() int {
	c := http.Client{Timeout: time.Second}
	for i, base := range ha.Patroni {
		r, err := c.Get(base + "/primary")
		if err != nil {
			continue
		}
		r.Body.Close()
		if r.StatusCode == 200 {
			return i
		}
	}
	return -1
}

// server is one `healthcare serve` process.
type server struct {
	*apitest.Client
	cmd  *exec.Cmd
	logs *apitest.SyncBuffer
	done chan struct{}
}

func secretKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// serveEnv is a server copy's environment: cheap argon2 (DEBUG), no drain,
// a free port. Copies of one deployment share SECRET_KEY.
func serveEnv(databaseURL, key string) apitest.Env {
	return apitest.Env{
		"DATABASE_URL":       databaseURL,
		"HTTP_ADDR":          "127.0.0.1:0",
		"SECRET_KEY":         key,
		"DEBUG":              "true",
		"ARGON2_MEMORY_KIB":  "64",
		"ARGON2_ITERATIONS":  "1",
		"ARGON2_PARALLELISM": "1",
		"SHUTDOWN_DRAIN":     "0s",
		"METRICS_ADDR":       "127.0.0.1:0", // two copies (and other tests) on one machine
		// The failover test writes with eight workers on one token; the
		// per-user limit (tested in internal/httpapi) must not answer
		// them 429.
		"DB_PER_USER_CONNECTIONS": "64",
	}
}

// serve starts `healthcare serve` and waits until it listens; the test's
// cleanup stops it with SIGTERM (SIGKILL after 20 s).
func serve(t *testing.T, env apitest.Env) *server {
	t.Helper()
	cmd := exec.Command(ha.Binary, "serve")
	cmd.Dir = t.TempDir() // no .env
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env.Environ()...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, logs: &apitest.SyncBuffer{}, done: make(chan struct{})}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			_, _ = s.logs.Write([]byte(line + "\n"))
			var m struct{ Message, Addr string }
			if json.Unmarshal([]byte(line), &m) == nil && m.Message == "listening" {
				select {
				case listening <- m.Addr:
				default:
				}
			}
		}
		_ = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-s.done
		}
	})
	select {
	case addr := <-listening:
		s.Client = apitest.New(t, addr)
	case <-s.done:
		t.Fatalf("serve exited:\n%s", s.logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not listen within 60 s:\n%s", s.logs)
	}
	return s
}
