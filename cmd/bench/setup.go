package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/auth"
	"healthcare/internal/database"
	"healthcare/internal/dbadmin"
	"healthcare/internal/pgcluster"
)

// Names the bench gives its objects. The server's login role is created
// here, not by migrations: login roles are a deployment's choice (the
// migrations create only the group roles).
const (
	appRole      = dbadmin.AppLogin
	benchPass    = "bench-password-1" // every seeded user's password
	jwtIssuer    = "healthcare"
	jwtAudience  = "healthcare-api"
	requestIDVal = "6f1c1e52-8a43-4f0e-9b7c-0d5b2f7f4a11" // pgbench's app.request_id: a UUID like the server's
)

// clusterSettings trade crash safety for a steady measurement, the same for
// the server and for pgbench: synchronous_commit=off keeps the write routes
// from measuring the VM's fsync latency instead of the code. fsync itself
// stays on. max_connections leaves room for pgbench's own clients.
var clusterSettings = map[string]string{
	"synchronous_commit": "off",
	"shared_buffers":     "256MB",
	"max_connections":    "200",
}

// env is everything the bench started: the cluster, its directory, and
// the databases it seeded.
type env struct {
	dir     string
	cluster *pgcluster.Cluster
	hash    string // argon2id hash of benchPass, shared by every seeded user
	keep    bool   // leave dir (server logs, scripts) behind at exit
	// profileDir, when set, receives CPU and heap profiles of the server.
	profileDir string
}

// startCluster initialises and starts a private PostgreSQL in a temporary
// directory. As root, pgcluster runs it as the postgres system user.
func startCluster(ctx context.Context, settings map[string]string) (*env, error) {
	dir, err := os.MkdirTemp("", "hcbench")
	if err != nil {
		return nil, err
	}
	// The postgres user must traverse it to reach its data and socket.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	c, err := pgcluster.New(pgcluster.Options{
		DataDir:   filepath.Join(dir, "data"),
		SocketDir: filepath.Join(dir, "s"),
		Settings:  settings,
	})
	if err != nil {
		return nil, err
	}
	if err := c.Init(ctx); err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	return &env{dir: dir, cluster: c}, nil
}

func (e *env) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.cluster.Close(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench: stop cluster:", err)
	}
	if e.keep {
		fmt.Fprintln(os.Stderr, "bench: kept", e.dir, "(server logs, scripts)")
		return
	}
	_ = os.RemoveAll(e.dir)
}

// dataset is one seeded database. Ids are dense from 1: user u owns the
// patients u, u+users, u+2*users, ...
type dataset struct {
	db        string
	users     int
	patients  int
	doctors   int
	mappings  int
	perUser   int // patients per user (the smallest count any user has)
	mapHalf   int // seeded mappings use doctors 1..mapHalf; the bench creates pairs with the rest
	superURL  string
	appURL    string
	seedTime  time.Duration
	tableSize string
	// sessions: one session per user was seeded (benchSession);
	// sessionCheck: the schema checks a token's session on every call.
	sessions, sessionCheck bool
	// care: doctors 1..min(mapHalf, users) are linked to users of the
	// same id (schemas with care teams).
	care bool
}

// migrator brings a freshly created database to the schema a server
// binary needs; conn is the superuser's connection to it.
type migrator func(ctx context.Context, ds *dataset, conn *pgx.Conn) error

// migrateInProcess applies the migrations embedded in this bench, which
// are the current revision's.
func migrateInProcess(ctx context.Context, _ *dataset, conn *pgx.Conn) error {
	return database.Migrate(ctx, conn)
}

// migrateWithBinary runs `bin migrate up` against the database, so that it
// gets the schema of the revision bin was built from (--baseline). Only
// MIGRATION_DATABASE_URL is relied on, which every revision's migrate
// reads; it runs in a scratch directory of its own, so no .env is read.
func (e *env) migrateWithBinary(bin string) migrator {
	return func(ctx context.Context, ds *dataset, _ *pgx.Conn) error {
		dir := filepath.Join(e.dir, "migrate-"+ds.db)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, bin, "migrate", "up")
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "MIGRATION_DATABASE_URL=" + ds.superURL}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s migrate up: %w\n%s", bin, err, out)
		}
		return nil
	}
}

// seed creates database name, migrates it with the current revision's
// migrations and seeds it (seedWith).
func (e *env) seed(ctx context.Context, name string, users, patients, doctors, mappings int, hash string) (*dataset, error) {
	return e.seedWith(ctx, name, users, patients, doctors, mappings, hash, migrateInProcess)
}

// seedWith creates database name, migrates it with migrate, creates the
// app login and fills it with generate_series. One argon2 hash of
// benchPass is reused for every user: hashing 10,000 passwords would take
// minutes and measure nothing.
//
// The seed steps must work on the schema of every revision the bench
// compares (--baseline), so a step that needs something only some schemas
// have asks the database first: the sessions step runs where
// app.refresh_tokens has the columns it fills.
func (e *env) seedWith(ctx context.Context, name string, users, patients, doctors, mappings int, hash string, migrate migrator) (*dataset, error) {
	start := time.Now()
	if users < 1 || patients < users || doctors < 4 {
		return nil, fmt.Errorf("need users >= 1, patients >= users and doctors >= 4 (got %d, %d, %d)", users, patients, doctors)
	}
	half := doctors / 2
	if per := (mappings + patients - 1) / patients; per > half {
		return nil, fmt.Errorf("%d mappings over %d patients need %d doctors each, more than half of %d doctors", mappings, patients, per, doctors)
	}
	admin, err := pgx.Connect(ctx, e.cluster.URL("postgres"))
	if err != nil {
		return nil, err
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "create database "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	ds := &dataset{db: name, users: users, patients: patients, doctors: doctors, mappings: mappings,
		perUser: patients / users, mapHalf: half,
		superURL: e.cluster.URL(name), appURL: e.cluster.SocketURL(name, appRole, "")}
	conn, err := pgx.Connect(ctx, ds.superURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	if err := migrate(ctx, ds, conn); err != nil {
		return nil, err
	}
	// Revisions before sessions (api.require_session) ignore the tokens'
	// session claim and need no session rows; the rows are seeded wherever
	// the table can hold them, so both sides of an A/B run get the same
	// data when both schemas have it.
	if err := conn.QueryRow(ctx, `select
	     (select count(*) = 4 from information_schema.columns
	       where table_schema = 'app' and table_name = 'refresh_tokens'
	         and column_name in ('jti', 'family', 'user_id', 'expires_at')),
	     pg_catalog.to_regprocedure('api.require_session(uuid)') is not null,
	     exists (select from information_schema.columns
	              where table_schema = 'app' and table_name = 'doctors' and column_name = 'account_id')`).Scan(&ds.sessions, &ds.sessionCheck, &ds.care); err != nil {
		return nil, fmt.Errorf("seed: inspect schema: %w", err)
	}
	if ds.sessionCheck && !ds.sessions {
		return nil, errors.New("seed: the schema checks sessions (api.require_session) but app.refresh_tokens lacks the columns the bench seeds them in")
	}
	// The socket trusts it: no password.
	if _, err := dbadmin.CreateLogin(ctx, conn, dbadmin.Login{Name: appRole, Groups: []string{dbadmin.APIGroup}}); err != nil {
		return nil, fmt.Errorf("seed login role: %w", err)
	}
	stmts := []struct {
		what string
		sql  string
		args []any
	}{
		{"users", `insert into app.users (username, email, password_hash)
		   select 'user' || i, 'user' || i || '@example.com', $1 from generate_series(1, $2::int) i`,
			[]any{hash, users}},
		// One open session per user: the server checks the session of
		// every token, as it does for tokens from a real login. Skipped
		// on a schema without the table's columns (ds.sessions).
		{"sessions", `insert into app.refresh_tokens (jti, family, user_id, expires_at)
		   select gen_random_uuid(), ('00000000-0000-4000-8000-' || lpad(id::text, 12, '0'))::uuid, id, now() + interval '30 days'
		     from app.users`, nil},
		{"doctors", `insert into app.doctors (name, specialization, created_by)
		   select 'Doctor ' || i,
		          (array['Cardiology','Neurology','Pediatrics','Oncology','Dermatology','Radiology','Surgery','Psychiatry'])[1 + i % 8],
		          1 + i % $2::int
		     from generate_series(1, $1::int) i`, []any{doctors, users}},
		{"patients", `insert into app.patients (owner_id, name, age, gender)
		   select 1 + (i - 1) % $2::int, 'Patient ' || i, i % 100,
		          (array['male','female','other','unknown'])[1 + i % 4]
		     from generate_series(1, $1::int) i`, []any{patients, users}},
		{"mappings", `insert into app.patient_doctors (patient_id, doctor_id)
		   select p, 1 + (p + k) % $3::int
		     from generate_series(0, $4::int - 1) k, generate_series(1, $1::int) p
		    limit $2::int`, []any{patients, mappings, half, (mappings + patients - 1) / patients}},
		// Doctor d is the account of user d, for the care view's route.
		// Skipped on a schema without care teams (ds.care).
		{"doctor accounts", `update app.doctors set account_id = id where id <= least($1::int, $2::int)`, []any{half, users}},
		{"vacuum", `vacuum analyze`, nil},
		// Write the seeded pages out now, so that a timed checkpoint does
		// not flush hundreds of megabytes in the middle of a measurement.
		{"checkpoint", `checkpoint`, nil},
	}
	for _, s := range stmts {
		if s.what == "sessions" && !ds.sessions || s.what == "doctor accounts" && !ds.care {
			continue
		}
		if _, err := conn.Exec(ctx, s.sql, s.args...); err != nil {
			return nil, fmt.Errorf("seed %s: %w", s.what, err)
		}
	}
	// The id arithmetic of the load scripts assumes dense ids from 1.
	var minU, maxU, minP, maxP int
	if err := conn.QueryRow(ctx, `select (select min(id) from app.users), (select max(id) from app.users),
	     (select min(id) from app.patients), (select max(id) from app.patients)`).Scan(&minU, &maxU, &minP, &maxP); err != nil {
		return nil, err
	}
	if minU != 1 || maxU != users || minP != 1 || maxP != patients {
		return nil, fmt.Errorf("seeded ids are not dense: users %d..%d, patients %d..%d", minU, maxU, minP, maxP)
	}
	_ = conn.QueryRow(ctx, `select pg_size_pretty(pg_database_size(current_database()))`).Scan(&ds.tableSize)
	ds.seedTime = time.Since(start)
	return ds, nil
}

// restore deletes the patients and mappings the write routes added (ids
// past the seeded ones), so every user's list is the seeded size again,
// then vacuums and checkpoints (as after seeding) so that no autovacuum or
// timed checkpoint flushes the last route's writes during the next one.
func (e *env) restore(ctx context.Context, ds *dataset, deleteAdded bool) error {
	conn, err := pgx.Connect(ctx, ds.superURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var qs []string
	if deleteAdded {
		qs = append(qs,
			fmt.Sprintf("delete from app.patient_doctors where id > %d", ds.mappings),
			fmt.Sprintf("delete from app.patients where id > %d", ds.patients))
	}
	qs = append(qs, "vacuum analyze", "checkpoint")
	for _, q := range qs {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("restore seeded data: %w", err)
		}
	}
	return nil
}

// server is one running `healthcare serve` process.
type server struct {
	cmd      *exec.Cmd
	url      string
	pprofURL string // "" unless profiling
	logPath  string
	done     chan error
}

// profile saves the server's pprof profile name (e.g. "profile?seconds=5"
// for CPU, "heap") to path.
func (s *server) profile(name, path string) error {
	if s.pprofURL == "" {
		return nil
	}
	resp, err := http.Get(s.pprofURL + name)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof %s: %s", name, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// startServer builds nothing: bin is the healthcare binary. It runs `serve`
// in a scratch directory (so no .env is read), logging at info level to a
// file: the access log is part of what a request costs.
func (e *env) startServer(ctx context.Context, bin string, ds *dataset, secret string, extraEnv []string, tag string) (*server, error) {
	sp, err := e.newScratchProcess("server-" + tag)
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--addr", sp.addr}
	pprofURL := ""
	if e.profileDir != "" {
		pport, err := freePort()
		if err != nil {
			return nil, err
		}
		args = append(args, "--pprof-addr", "127.0.0.1:"+strconv.Itoa(pport))
		pprofURL = "http://127.0.0.1:" + strconv.Itoa(pport) + "/debug/pprof/"
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + sp.dir,
		"DATABASE_URL=" + ds.appURL,
		"SECRET_KEY=" + secret,
		"JWT_ISSUER=" + jwtIssuer,
		"JWT_AUDIENCE=" + jwtAudience,
		"LOG_LEVEL=info",
		// Metrics are counted as in production, on a free port of their own.
		"METRICS_ADDR=127.0.0.1:0",
		// All load comes from one address and a few thousand accounts,
		// and requests cut off when wrk stops count as failed attempts:
		// the bench measures login throughput, not the throttle (which
		// still runs, with its database work, on every login).
		"LOGIN_MAX_FAILURES_PER_ADDRESS=1000000",
		"LOGIN_MAX_FAILURES_PER_ACCOUNT=1000000",
	}, passThroughEnv()...)
	cmd.Env = append(cmd.Env, extraEnv...)
	return sp.launch(cmd, pprofURL)
}

// scratchProcess is where a server process the bench starts lives: its
// own directory under the scratch directory, a free loopback address and
// a log file.
type scratchProcess struct {
	dir, addr, logPath string
}

func (e *env) newScratchProcess(name string) (scratchProcess, error) {
	port, err := freePort()
	if err != nil {
		return scratchProcess{}, err
	}
	dir := filepath.Join(e.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return scratchProcess{}, err
	}
	return scratchProcess{dir: dir, addr: "127.0.0.1:" + strconv.Itoa(port), logPath: filepath.Join(dir, name+".log")}, nil
}

// launch starts cmd, a server that will listen on sp.addr, in sp.dir with
// its output going to sp.logPath, and waits until it answers GET /healthz.
func (sp scratchProcess) launch(cmd *exec.Cmd, pprofURL string) (*server, error) {
	logf, err := os.Create(sp.logPath)
	if err != nil {
		return nil, err
	}
	cmd.Dir = sp.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", filepath.Base(cmd.Path), err)
	}
	s := &server{cmd: cmd, url: "http://" + sp.addr, pprofURL: pprofURL, logPath: sp.logPath, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait(); logf.Close() }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("server exited at start (%v); log:\n%s", err, tail(sp.logPath, 20))
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
	}
	s.stop()
	return nil, fmt.Errorf("server did not answer /healthz within 60s; log:\n%s", tail(sp.logPath, 20))
}

// passThroughEnv forwards the Go runtime knobs, so `GOGC=50 go run
// ./cmd/bench` measures the server with GOGC=50.
func passThroughEnv() []string {
	var out []string
	for _, k := range []string{"GOGC", "GOMEMLIMIT", "GOMAXPROCS", "GODEBUG", "DB_POOL_MAX_CONNS", "LOGIN_CONCURRENCY", "PPROF_ADDR"} {
		if v, ok := os.LookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// peakRSS is the server's high-water resident set (VmHWM) in bytes.
func (s *server) peakRSS() int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// memory returns the server's VmHWM, VmRSS, RssAnon and RssFile lines
// from /proc/<pid>/status, for the log.
func (s *server) memory() string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/status")
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		for _, k := range []string{"VmHWM:", "VmRSS:", "RssAnon:", "RssFile:"} {
			if strings.HasPrefix(line, k) {
				out = append(out, strings.Join(strings.Fields(line), " "))
			}
		}
	}
	return strings.Join(out, ", ")
}

// stop sends SIGTERM to the server (by its PID) and waits for it.
func (s *server) stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// benchSession is the session seeded for user uid (see "sessions").
func benchSession(uid int64) string {
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", uid)
}

// mintTokens signs one access token per user 1..n with the server's key,
// exactly as login would.
func mintTokens(secret string, n int) ([]string, error) {
	t, err := auth.NewTokens(auth.TokenOptions{Key: []byte(secret), Issuer: jwtIssuer, Audience: jwtAudience,
		AccessTTL: 2 * time.Hour, RefreshTTL: 24 * time.Hour, CacheSize: -1})
	if err != nil {
		return nil, err
	}
	out := make([]string, n)
	for i := range out {
		tok, _, err := t.IssueAccess(int64(i+1), benchSession(int64(i+1)))
		if err != nil {
			return nil, err
		}
		out[i] = tok
	}
	return out, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// buildServer compiles ./cmd/healthcare into dir.
func buildServer(ctx context.Context, dir string, stderr io.Writer) (string, error) {
	bin := filepath.Join(dir, "healthcare")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/healthcare")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build ./cmd/healthcare (run the bench from the repository root): %w", err)
	}
	return bin, nil
}

var errNoTool = errors.New("missing tool")

// needTools checks wrk and pgbench before anything slow starts.
func needTools() error {
	var missing []string
	for _, t := range []string{"wrk", "pgbench"} {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s not on PATH; install with `apt-get install -y wrk postgresql-contrib` (pgbench ships with the PostgreSQL client/contrib packages)",
			errNoTool, strings.Join(missing, ", "))
	}
	return nil
}

// seedAuditYear fills the audit trail of the database at url with n read
// events (n < 0: five per patient) spread over the past year, as a year of
// use would leave them, so list and get run beside a trail of that size.
// It does nothing where the schema has no trail (an older revision).
func seedAuditYear(ctx context.Context, url string, n, patients, users int) (int, float64, error) {
	if n < 0 {
		n = 5 * patients
	}
	if n == 0 {
		return 0, 0, nil
	}
	start := time.Now()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close(context.Background())
	var has bool
	if err := conn.QueryRow(ctx, `select to_regclass('audit.events') is not null`).Scan(&has); err != nil || !has {
		return 0, 0, err
	}
	const chunk = 500000
	for done := 0; done < n; done += chunk {
		_, err := conn.Exec(ctx, `
			insert into audit.events (at, user_id, db_role, door, action, outcome, patient_id, request_id, client_addr, detail)
			select now() - (random() * interval '360 days'), 1 + (g % $2::int), 'healthcare_app', 'rest', 'read', 'ok',
			       1 + (g % $3::int), 'seed-' || g, '127.0.0.1', '{"object": "patient"}'
			  from generate_series($1::int, $1::int + $4::int - 1) g`, done, users, patients, min(chunk, n-done))
		if err != nil {
			return 0, 0, fmt.Errorf("seed audit events: %w", err)
		}
	}
	if _, err := conn.Exec(ctx, `vacuum analyze audit.events`); err != nil {
		return 0, 0, err
	}
	return n, time.Since(start).Seconds(), nil
}
