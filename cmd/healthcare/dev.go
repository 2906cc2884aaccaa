package main

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
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"healthcare/internal/auth"
	"healthcare/internal/config"
	"healthcare/internal/database"
	"healthcare/internal/dbadmin"
	"healthcare/internal/pgcluster"
)

const devAbout = `
Run everything a developer needs with one command.

With no DATABASE_URL and no DB_* variable set, dev runs a private
PostgreSQL cluster in --data (initdb on first run, from the installed
server binaries; as root the server runs as the postgres system user),
listening on a private Unix socket and on a free 127.0.0.1 port (password
authentication on TCP). It migrates, creates the server's runtime login
healthcare_app, and on the FIRST run seeds a demo admin, two demo users,
doctors, patients and mappings, a psql login linked to the demo user
alice, and a reporting login. Generated passwords and a dev SECRET_KEY are
kept in the data folder (mode 0600) and printed on every run, with psql
command lines for the three doors. Then it serves the API on --addr.
Ctrl-C stops the server, then the cluster; the next run reuses the data.

With DATABASE_URL or DB_* set, dev uses that server instead: the server
connects with those settings, and migrations and seeding use
MIGRATION_DATABASE_URL.`

// Names of the demo accounts and logins. Role names are cluster-wide,
// which is fine for a private cluster.
const (
	devDatabase     = "healthcare"
	devAppRole      = dbadmin.AppLogin
	devAdmin        = "admin"
	devUserA        = "alice"
	devUserB        = "bob"
	devLinkedLogin  = "alice"   // psql login linked to app user alice
	devReportLogin  = "analyst" // member of dbadmin.ReportingGroup
	devStateFile    = "healthcare-dev.json"
	devServiceFile  = "pg_service.conf"
	devDefaultAddr  = "127.0.0.1:8000"
	devDefaultData  = ".data/postgres"
	devStartTimeout = 90 * time.Second
)

// devState is what dev keeps between runs, in the data folder (0600).
type devState struct {
	SecretKey       string `json:"secret_key"`
	AppPassword     string `json:"app_password"`
	AdminPassword   string `json:"admin_password"`
	AlicePassword   string `json:"alice_password"`
	BobPassword     string `json:"bob_password"`
	LinkedPassword  string `json:"linked_login_password"`
	ReportPassword  string `json:"reporting_login_password"`
	PostgresPort    int    `json:"postgres_port,omitempty"`
	Seeded          bool   `json:"seeded"`
	SuperuserSecret string `json:"superuser_password,omitempty"`
}

func randomSecret(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

func loadDevState(dir string) (*devState, error) {
	st := &devState{}
	b, err := os.ReadFile(filepath.Join(dir, devStateFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(b, st); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, devStateFile), err)
		}
	}
	fill := func(p *string, n int) {
		if *p == "" {
			*p = randomSecret(n)
		}
	}
	fill(&st.SecretKey, 32)
	fill(&st.AppPassword, 12)
	fill(&st.AdminPassword, 8)
	fill(&st.AlicePassword, 8)
	fill(&st.BobPassword, 8)
	fill(&st.LinkedPassword, 8)
	fill(&st.ReportPassword, 8)
	fill(&st.SuperuserSecret, 12)
	return st, nil
}

func (st *devState) save(dir string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writePrivate(filepath.Join(dir, devStateFile), append(b, '\n'))
}

// writePrivate writes a file only its owner can read.
func writePrivate(name string, data []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// externalDatabase reports whether the environment (or .env) names a
// database server.
func externalDatabase(getenv func(string) string) (bool, error) {
	getenv, err := config.Env(getenv, envFile)
	if err != nil {
		return false, err
	}
	for _, v := range config.Variables() {
		if v.Name == "DATABASE_URL" || (strings.HasPrefix(v.Name, "DB_") && !strings.HasPrefix(v.Name, "DB_POOL") &&
			v.Name != "DB_STATEMENT_TIMEOUT" && v.Name != "DB_ACQUIRE_TIMEOUT") {
			if getenv(v.Name) != "" {
				return true, nil
			}
		}
	}
	return false, nil
}

func runDev(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("dev", "[--data DIR] [--addr host:port] [--reset [--yes]]", devAbout, stderr)
	dataDir := fs.String("data", devDefaultData, "folder of the private cluster and the generated credentials")
	addr := fs.String("addr", devDefaultAddr, "HTTP listen address")
	reset := fs.Bool("reset", false, "delete the private cluster in --data (after asking) and start from an empty one")
	yes := fs.Bool("yes", false, "with --reset: do not ask")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("dev: unexpected argument %q", fs.Arg(0))
	}
	dir, err := filepath.Abs(*dataDir)
	if err != nil {
		return err
	}
	if *reset {
		if err := devReset(dir, *yes, stdin, stderr); err != nil {
			return err
		}
	}
	if external, err := externalDatabase(getenv); err != nil {
		return err
	} else if external {
		return devExternal(ctx, dir, *addr, getenv, stdout, stderr)
	}

	st, err := loadDevState(dir)
	if err != nil {
		return err
	}
	tools, err := config.LoadTools(getenv, envFile)
	if err != nil {
		return err
	}
	cluster, err := pgcluster.New(pgcluster.Options{
		DataDir:           dir,
		ListenAddress:     "127.0.0.1",
		Port:              st.PostgresPort,
		SuperuserPassword: st.SuperuserSecret,
		StartTimeout:      devStartTimeout,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "dev: PostgreSQL binaries in %s, data in %s\n", cluster.BinDir(), dir)
	if err := cluster.Init(ctx); err != nil {
		return err
	}
	if err := cluster.Start(ctx); err != nil && st.PostgresPort != 0 {
		// The remembered port may have been taken meanwhile: pick another.
		fmt.Fprintf(stderr, "dev: could not start on port %d, trying a free one: %v\n", st.PostgresPort, err)
		st.PostgresPort = 0
		if cluster, err = pgcluster.New(pgcluster.Options{DataDir: dir, ListenAddress: "127.0.0.1",
			SuperuserPassword: st.SuperuserSecret, StartTimeout: devStartTimeout}); err != nil {
			return err
		}
		err = cluster.Start(ctx)
		if err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(stderr, "dev: stopping PostgreSQL")
		sctx, cancel := context.WithTimeout(context.Background(), devStartTimeout)
		defer cancel()
		if err := cluster.Close(sctx); err != nil {
			fmt.Fprintln(stderr, "dev:", err)
		}
	}()
	st.PostgresPort = cluster.Port()
	if err := st.save(dir); err != nil {
		return err
	}

	// Create the database on first run.
	if err := createDatabase(ctx, cluster.URL("postgres"), devDatabase); err != nil {
		return err
	}
	superURL := cluster.URL(devDatabase)
	appURL := cluster.TCPURL(devDatabase, devAppRole, st.AppPassword)
	if err := devPrepare(ctx, superURL, appURL, st, dir, dbadmin.HumanLimits(tools), stderr); err != nil {
		if errors.Is(err, database.ErrPredatesMigrations) {
			return fmt.Errorf("this dev database predates the current migrations: delete %s or run `healthcare dev --reset`", dir)
		}
		return err
	}
	doors := devDoors{
		admin:     fmt.Sprintf("psql -h %s -p %d -U %s %s", cluster.SocketDir(), cluster.Port(), pgcluster.Superuser, devDatabase),
		host:      "127.0.0.1",
		port:      cluster.Port(),
		superHint: "the socket is trusted for the local owner of the data folder (and root)",
	}
	if err := writeServiceFile(dir, doors, st); err != nil {
		return err
	}
	return devServe(ctx, getenv, appURL, *addr, st, dir, doors, stdout, stderr)
}

// devReset deletes the private cluster's folder, after asking unless yes.
// It refuses a folder that does not look like one dev made, so a mistyped
// --data cannot delete anything else.
func devReset(dir string, yes bool, stdin io.Reader, stderr io.Writer) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	for _, marker := range []string{"PG_VERSION", devStateFile} {
		if _, err := os.Stat(filepath.Join(dir, marker)); err != nil {
			return fmt.Errorf("dev --reset: %s has no %s, so it is not a dev cluster; not deleting it", dir, marker)
		}
	}
	if !yes {
		fmt.Fprintf(stderr, "Delete %s (the dev cluster, its data and its generated passwords)? [y/N] ", dir)
		answer, _ := bufio.NewReader(stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return errors.New("dev --reset: not confirmed; nothing deleted (--yes skips the question)")
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("dev --reset: %w", err)
	}
	fmt.Fprintf(stderr, "dev: deleted %s; starting from an empty cluster\n", dir)
	return nil
}

// devDoors says how to reach the database for the printed psql lines.
type devDoors struct {
	admin     string // the full psql command as the administrator
	host      string
	port      int
	superHint string
}

// devExternal is dev against a server named by DATABASE_URL / DB_*.
func devExternal(ctx context.Context, dir, addr string, getenv func(string) string, stdout, stderr io.Writer) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	st, err := loadDevState(dir)
	if err != nil {
		return err
	}
	cfg, err := config.Load(overlay(getenv, map[string]string{"SECRET_KEY": st.SecretKey}), envFile)
	if err != nil {
		return err
	}
	tools, err := config.LoadTools(getenv, envFile)
	if err != nil {
		return err
	}
	superURL := tools.MigrationDatabaseURL
	if superURL == "" {
		return errors.New("dev: DATABASE_URL or DB_* is set, so dev uses that server; also set MIGRATION_DATABASE_URL " +
			"(privileged) so dev can migrate and seed it, or unset them to run a private cluster")
	}
	pc, err := pgconn.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	fmt.Fprintf(stderr, "dev: using the database server at %s:%d (DATABASE_URL / DB_* set)\n", pc.Host, pc.Port)
	if err := devPrepareExternal(ctx, superURL, cfg.DatabaseURL, st, dir, dbadmin.HumanLimits(tools), stderr); err != nil {
		return err
	}
	doors := devDoors{admin: "psql \"$MIGRATION_DATABASE_URL\"", host: pc.Host, port: int(pc.Port), superHint: "your privileged connection"}
	dbName := pc.Database
	if err := writeServiceFileDB(dir, doors, st, dbName); err != nil {
		return err
	}
	return devServe(ctx, getenv, cfg.DatabaseURL, addr, st, dir, doors, stdout, stderr)
}

func devServe(ctx context.Context, getenv func(string) string, appURL, addr string, st *devState, dir string, doors devDoors, stdout, stderr io.Writer) error {
	// The stored key unless the environment or .env has one.
	getenv, err := config.Env(getenv, envFile)
	if err != nil {
		return err
	}
	over := map[string]string{"DATABASE_URL": appURL, "HTTP_ADDR": addr}
	if getenv("SECRET_KEY") == "" {
		over["SECRET_KEY"] = st.SecretKey
	}
	// No load balancer to drain: Ctrl-C stops at once unless asked otherwise.
	if getenv("SHUTDOWN_DRAIN") == "" {
		over["SHUTDOWN_DRAIN"] = "0s"
	}
	cfg, err := config.Load(overlay(getenv, over), "")
	if err != nil {
		return err
	}
	return serve(ctx, cfg, stderr, func(bound string) {
		printBanner(stdout, bound, dir, doors, st)
	})
}

func printBanner(w io.Writer, bound, dir string, doors devDoors, st *devState) {
	svc := filepath.Join(dir, devServiceFile)
	rel := svc
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, svc); err == nil && !strings.HasPrefix(r, "..") {
			rel = r
		}
	}
	fmt.Fprintf(w, `
Healthcare API (dev) is running at http://%s/   (Ctrl-C stops it)
  OpenAPI document: http://%s/api/openapi.json

Demo accounts (REST, POST /api/auth/login/):
  admin  %-10s password %s   (is_admin)
  alice  %-10s password %s
  bob    %-10s password %s

The three doors, ready to paste:
  REST       curl http://%s/api/doctors/
  psql admin %s
             (superuser over the Unix socket; %s)
  psql alice PGSERVICEFILE=%s psql service=alice -c 'select api.list_patients();'
             (login %q linked to app user alice, password %s, TCP %s:%d: sees only alice's patients)
  reporting  PGSERVICEFILE=%s psql service=reporting -c 'select * from reporting.patients_per_specialization;'
             (login %q in healthcare_reporting, password %s: reporting views only)

Credentials are kept in %s (mode 0600).
`, bound, bound,
		"", st.AdminPassword, "", st.AlicePassword, "", st.BobPassword,
		bound, doors.admin, doors.superHint,
		rel, devLinkedLogin, st.LinkedPassword, doors.host, doors.port,
		rel, devReportLogin, st.ReportPassword,
		filepath.Join(dir, devStateFile))
}

// writeServiceFile writes a libpq service file with the linked and the
// reporting login, so `PGSERVICEFILE=... psql service=alice` works without
// typing passwords.
func writeServiceFile(dir string, doors devDoors, st *devState) error {
	return writeServiceFileDB(dir, doors, st, devDatabase)
}

func writeServiceFileDB(dir string, doors devDoors, st *devState, dbName string) error {
	var b strings.Builder
	b.WriteString("# Written by `healthcare dev` on every run: demo logins for psql.\n")
	for _, s := range []struct{ name, user, pw string }{
		{"alice", devLinkedLogin, st.LinkedPassword},
		{"reporting", devReportLogin, st.ReportPassword},
	} {
		fmt.Fprintf(&b, "[%s]\nhost=%s\nport=%d\ndbname=%s\nuser=%s\npassword=%s\nsslmode=disable\n\n",
			s.name, doors.host, doors.port, dbName, s.user, s.pw)
	}
	return writePrivate(filepath.Join(dir, devServiceFile), []byte(b.String()))
}

// devPrepare migrates, (re)sets the logins' passwords and seeds on the
// first run.
func devPrepare(ctx context.Context, superURL, appURL string, st *devState, dir string, limits dbadmin.SessionLimits, stderr io.Writer) error {
	conn, err := pgx.Connect(ctx, superURL)
	if err != nil {
		return fmt.Errorf("connect as superuser: %w", err)
	}
	defer conn.Close(context.Background())
	if err := dbadmin.Migrate(ctx, conn, -1); err != nil {
		return err
	}
	// The runtime login: a plain member of the API group, nothing else.
	if _, err := dbadmin.EnsureLogin(ctx, conn, dbadmin.Login{Name: devAppRole, Password: st.AppPassword, Groups: []string{dbadmin.APIGroup}}); err != nil {
		return err
	}
	return devReportingAndSeed(ctx, conn, appURL, st, dir, limits, stderr)
}

func devPrepareExternal(ctx context.Context, superURL, appURL string, st *devState, dir string, limits dbadmin.SessionLimits, stderr io.Writer) error {
	conn, err := pgx.Connect(ctx, superURL)
	if err != nil {
		return fmt.Errorf("connect with MIGRATION_DATABASE_URL: %w", err)
	}
	defer conn.Close(context.Background())
	if err := dbadmin.Migrate(ctx, conn, -1); err != nil {
		return err
	}
	return devReportingAndSeed(ctx, conn, appURL, st, dir, limits, stderr)
}

// devReportingAndSeed makes the reporting login (as db-access
// grant-reporting does, with the same session limits) and seeds on the
// first run.
func devReportingAndSeed(ctx context.Context, conn *pgx.Conn, appURL string, st *devState, dir string, limits dbadmin.SessionLimits, stderr io.Writer) error {
	if _, err := dbadmin.GrantReporting(ctx, conn, devReportLogin, st.ReportPassword, limits); err != nil {
		return err
	}
	return devSeed(ctx, conn, appURL, st, dir, limits, stderr)
}

// createDatabase creates dbname on the server of maintURL when missing.
func createDatabase(ctx context.Context, maintURL, dbname string) error {
	conn, err := pgx.Connect(ctx, maintURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	return dbadmin.CreateDatabase(ctx, conn, dbname)
}

// devSeed fills an empty database once: accounts through the same paths
// as createsuperuser and POST /api/auth/register/, records through the
// api functions the REST routes call, as the users who own them.
func devSeed(ctx context.Context, conn *pgx.Conn, appURL string, st *devState, dir string, limits dbadmin.SessionLimits, stderr io.Writer) error {
	if st.Seeded {
		return nil
	}
	hasUsers, err := dbadmin.HasUsers(ctx, conn)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if hasUsers {
		// Not our first run after all (state file lost): never seed twice.
		fmt.Fprintln(stderr, "dev: database already has users; not seeding")
		st.Seeded = true
		return st.save(dir)
	}
	fmt.Fprintln(stderr, "dev: first run: seeding demo data")
	hasher, err := auth.NewHasher(auth.DefaultParams, 0)
	if err != nil {
		return err
	}
	hash := func(pw string) (string, error) { return hasher.Hash(ctx, pw) }

	h, err := hash(st.AdminPassword)
	if err != nil {
		return err
	}
	adminID, err := dbadmin.CreateAdmin(ctx, conn, devAdmin, "admin@example.com", h)
	if err != nil {
		return err
	}

	db, err := database.Open(ctx, appURL, database.Options{MaxConns: 2})
	if err != nil {
		return fmt.Errorf("seed: connect as %s: %w", devAppRole, err)
	}
	defer db.Close()
	call := func(uid int64, fn database.Func, args ...any) (map[string]any, error) {
		out, err := db.Call(ctx, database.Identity{UserID: uid, RequestID: "dev-seed"}, fn, args...)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			return nil, fmt.Errorf("seed: api.%s: %w", fn.Name(), err)
		}
		return m, nil
	}
	id := func(m map[string]any) int64 { f, _ := m["id"].(float64); return int64(f) }
	register := func(name, pw string) (int64, error) {
		h, err := hash(pw)
		if err != nil {
			return 0, err
		}
		m, err := call(0, database.FnRegister, name, name+"@example.com", h)
		return id(m), err
	}
	aliceID, err := register(devUserA, st.AlicePassword)
	if err != nil {
		return fmt.Errorf("seed: register %s: %w", devUserA, err)
	}
	bobID, err := register(devUserB, st.BobPassword)
	if err != nil {
		return fmt.Errorf("seed: register %s: %w", devUserB, err)
	}

	var doctors []int64
	for _, d := range [][2]string{
		{"Dr. Asha Rao", "Cardiology"}, {"Dr. Daniel Okafor", "Dermatology"},
		{"Dr. Lena Fischer", "Pediatrics"}, {"Dr. Marco Rossi", "Cardiology"},
	} {
		m, err := call(adminID, database.FnCreateDoctor, d[0], d[1])
		if err != nil {
			return fmt.Errorf("seed: doctor %s: %w", d[0], err)
		}
		doctors = append(doctors, id(m))
	}
	type patient struct {
		owner  int64
		name   string
		age    int32
		gender string
		doctor []int
	}
	for _, p := range []patient{
		{aliceID, "Ravi Kumar", 42, "male", []int{0, 1}},
		{aliceID, "Meera Iyer", 35, "female", []int{2}},
		{bobID, "Tom Baker", 58, "male", []int{0, 3}},
		{bobID, "Sara Lind", 7, "female", []int{2}},
	} {
		m, err := call(p.owner, database.FnCreatePatient, p.name, p.age, p.gender)
		if err != nil {
			return fmt.Errorf("seed: patient %s: %w", p.name, err)
		}
		for _, d := range p.doctor {
			if _, err := call(p.owner, database.FnCreateMapping, id(m), doctors[d]); err != nil {
				return fmt.Errorf("seed: mapping: %w", err)
			}
		}
	}
	if _, err := dbadmin.GrantAccess(ctx, conn, dbadmin.Grant{User: devUserA, Role: devLinkedLogin, Password: st.LinkedPassword, Limits: limits}); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	st.Seeded = true
	return st.save(dir)
}
