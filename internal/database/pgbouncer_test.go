package database_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"healthcare/internal/database"
	"healthcare/internal/pgtest"
)

// startPgBouncer runs PgBouncer in transaction mode on a loopback port in
// front of tdb, with poolSize server connections, and returns a URL for
// the app role through it. PgBouncer refuses to run as root, so as root it
// runs as the postgres system user (as the cluster does).
func startPgBouncer(t *testing.T, tdb *pgtest.DB, poolSize int) string {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		t.Skip("pgbouncer not installed (Debian: apt-get install pgbouncer); the PgBouncer identity test needs it")
	}
	backend, err := pgx.ParseConfig(tdb.AppURL())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("running as root and no postgres user to run pgbouncer as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		// t.TempDir's parent is 0700 and root's: let postgres through.
		if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	password := strconv.FormatInt(time.Now().UnixNano(), 36)
	dbLine := fmt.Sprintf("hc = host=%s port=%d dbname=%s user=%s", backend.Host, backend.Port, backend.Database, backend.User)
	if backend.Password != "" {
		dbLine += " password=" + backend.Password
	}
	ini := fmt.Sprintf(`[databases]
%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = md5
auth_file = %s
pool_mode = transaction
default_pool_size = %d
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 200
ignore_startup_parameters = extra_float_digits
logfile = %s
`, dbLine, port, filepath.Join(dir, "users.txt"), poolSize, filepath.Join(dir, "pgbouncer.log"))
	files := map[string]string{
		"pgbouncer.ini": ini,
		"users.txt":     fmt.Sprintf("%q %q\n", backend.User, password),
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if cred != nil {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	cmd := exec.Command(bin, filepath.Join(dir, "pgbouncer.ini"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGTERM}
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pgbouncer: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})

	url := fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/hc?sslmode=disable", backend.User, password, port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := pgx.Connect(ctx, url)
		cancel()
		if err == nil {
			c.Close(context.Background())
			return url
		}
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			t.Fatalf("pgbouncer exited: %s\n%s", out.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgbouncer not answering on port %d: %v\n%s", port, err, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}

// TestIdentityDoesNotLeakThroughPgBouncer guards issue 5 item 4: behind
// PgBouncer in transaction mode with ONE server connection, many
// concurrent requests as user A, user B and anonymous take turns on that
// connection, and each sees only its own rows; afterwards a fresh
// transaction on it carries no identity.
func TestIdentityDoesNotLeakThroughPgBouncer(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	url := startPgBouncer(t, tdb, 1)
	ctx := context.Background()
	// ExecUnnamed: PgBouncer 1.18 cannot keep named prepared statements.
	db, err := database.Open(ctx, url, database.Options{MaxConns: 12, MinConns: 1, ExecMode: database.ExecUnnamed})
	if err != nil {
		t.Fatalf("open through pgbouncer: %v", err)
	}
	t.Cleanup(db.Close)

	type caller struct {
		name    string
		id      database.Identity
		patient int64
	}
	users := []*caller{{name: "bouncer_a"}, {name: "bouncer_b"}}
	for _, u := range users {
		u.id = database.Identity{UserID: registerUser(t, db, u.name), RequestID: "pgb-" + u.name}
		raw, err := db.Call(ctx, u.id, database.FnCreatePatient, "Patient of "+u.name, int32(40), "u")
		if err != nil {
			t.Fatalf("create patient for %s: %v", u.name, err)
		}
		var p struct{ ID int64 }
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		u.patient = p.ID
	}
	anonymous := &caller{name: "anonymous", id: database.Identity{RequestID: "pgb-anon"}}
	callers := []*caller{users[0], users[1], anonymous}

	const workers, rounds = 12, 40
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				c := callers[(w+i)%len(callers)]
				if err := checkSees(ctx, db, c.id, c.patient); err != nil {
					errc <- fmt.Errorf("%s (worker %d, round %d): %w", c.name, w, i, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}

	// All of it went through one server connection, and a transaction that
	// sets nothing finds nothing set.
	conn, err := pgx.Connect(ctx, url+"&default_query_exec_mode=exec")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	pids := map[int32]bool{}
	for i := 0; i < 5; i++ {
		var pid int32
		var userID string
		err := conn.QueryRow(ctx, `select pg_backend_pid(), coalesce(current_setting('app.user_id', true), '')`).Scan(&pid, &userID)
		if err != nil {
			t.Fatal(err)
		}
		pids[pid] = true
		if userID != "" {
			t.Fatalf("a fresh transaction on the shared connection carries app.user_id=%q", userID)
		}
		// And the database sees nobody: api.me() refuses an anonymous caller.
		var me string
		err = conn.QueryRow(ctx, `select api.me()::text`).Scan(&me)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "RUNAU" {
			t.Fatalf("api.me() on the shared connection = %q, %v; want RUNAU", me, err)
		}
	}
	if len(pids) != 1 {
		t.Fatalf("pool_size=1 should mean one server connection; saw backends %v", pids)
	}
}

// checkSees asserts what one request as id sees: its own patient list
// (only its patient), its own account, and for anonymous a refusal.
func checkSees(ctx context.Context, db *database.DB, id database.Identity, own int64) error {
	raw, err := db.Call(ctx, id, database.FnListPatients, int32(50), int32(0))
	if id.UserID == 0 {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "RUNAU" {
			return fmt.Errorf("anonymous list = %s, %v; want RUNAU", raw, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	var page struct {
		Count   int
		Results []struct{ ID, User int64 }
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		return err
	}
	if page.Count != 1 || len(page.Results) != 1 || page.Results[0].ID != own || page.Results[0].User != id.UserID {
		return fmt.Errorf("list = %s; want only patient %d of user %d", raw, own, id.UserID)
	}
	raw, err = db.Call(ctx, id, database.FnMe)
	if err != nil {
		return err
	}
	var me struct{ ID int64 }
	if err := json.Unmarshal(raw, &me); err != nil || me.ID != id.UserID {
		return fmt.Errorf("me = %s (%v); want user %d", raw, err, id.UserID)
	}
	return nil
}
