// Package pgtest gives each test a fresh, fully migrated PostgreSQL
// database. Tests run against a real server, never a mock.
//
// # Use
//
// Every package that uses pgtest calls Main from its TestMain, so the
// throwaway server is stopped when the tests end:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		t.Parallel()
//		db := pgtest.New(t)
//		// db.Pool: superuser pool on this test's own database.
//		// db.AppPool(t): the REST server's view (role healthcare_app,
//		// a member of healthcare_api), where row-level security applies.
//	}
//
// # Which server
//
// With TEST_DATABASE_URL set (a superuser URL, URL or keyword/value form),
// that server is used. Otherwise the first New in the process starts a
// throwaway cluster with the installed PostgreSQL binaries (see
// internal/pgcluster) in a temporary directory, on a Unix socket only,
// with durability turned off for speed; Main stops it and removes the
// directory. As root (CI) the cluster runs as the postgres system user.
//
// # Databases
//
// Once per process, a template database is created and migrated with
// dbadmin.Migrate, as `healthcare migrate up` does; its name is unique per process, so the concurrent test
// processes of `go test ./...` can share one server. New clones it (CREATE
// DATABASE ... TEMPLATE, milliseconds) into a database only that test
// uses, and drops it WITH (FORCE) in t.Cleanup. Tests may therefore run in
// parallel and change anything inside their database.
//
// # Roles
//
// Roles are cluster-wide, not per database: the migration's group roles
// and the login roles made here are shared by every test database on the
// server. Create them idempotently (EnsureLogin does) and never drop them
// in a test. On the throwaway cluster the socket trusts every role; on a
// TEST_DATABASE_URL server the login roles made here get a password derived
// from the superuser's (LoginPassword), which LoginURL carries.
//
// Remember that a superuser skips row-level security: assert what a role
// sees through AppPool, LoginURL or `set local session authorization`,
// never through Pool.
//
// # Fixtures
//
// Tests make accounts with CreateUser (or CreateUsers for many), which
// store FakeHash as the password hash, and read a PostgreSQL error's
// SQLSTATE, column or constraint with PgError.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"healthcare/internal/dbadmin"
	"healthcare/internal/pgcluster"
)

// EnvURL names the environment variable holding a superuser URL of the
// server to test against instead of a throwaway cluster.
const EnvURL = "TEST_DATABASE_URL"

// AppRole is the login role AppURL and AppPool connect as: a member of
// APIGroup, like the server's login role in production.
const AppRole = dbadmin.AppLogin

// APIGroup is the group role the REST server's login role belongs to.
const APIGroup = dbadmin.APIGroup

// setupTimeout bounds starting the cluster and migrating the template.
const setupTimeout = 3 * time.Minute

// The throwaway cluster's settings: nothing here has to survive a crash,
// so durability is traded for speed; the connection limit leaves room for
// many parallel tests, each with small pools.
var throwawaySettings = map[string]string{
	"fsync":              "off",
	"synchronous_commit": "off",
	"full_page_writes":   "off",
	"max_connections":    "200",
}

// Pool sizes per test database: small, since many tests run in parallel
// against one server.
const (
	superPoolMaxConns = 4
	appPoolMaxConns   = 8
)

// server is the process-wide state: one server, one template.
type server struct {
	baseURL  string             // superuser URL of the server (any database)
	secret   string             // seeds LoginPassword
	cluster  *pgcluster.Cluster // nil with TEST_DATABASE_URL
	tmpDir   string             // the throwaway cluster's directory
	admin    *pgxpool.Pool      // superuser pool on the base database: creates and drops databases
	template string
}

var (
	mainCalled atomic.Bool
	setupOnce  sync.Once
	srv        *server // set as soon as anything exists that Main must undo
	setupErr   error
)

// Main runs the tests of a package, then stops the throwaway cluster (if
// one was started) and drops the template database; it exits with the
// tests' exit code. Call it from TestMain; New fails without it, because a
// server started without Main would outlive the test process.
func Main(m *testing.M) {
	mainCalled.Store(true)
	code := m.Run()
	if err := shutdown(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// DB is one test's own database.
type DB struct {
	// Name is the database name.
	Name string
	// SuperURL connects to this database as a superuser.
	SuperURL string
	// Pool is a superuser pool on this database, closed in t.Cleanup.
	// Superusers skip row-level security: do not assert visibility here.
	Pool *pgxpool.Pool

	srv *server
}

// New returns a fresh, migrated database for t, dropped in t.Cleanup. The
// first call in a process sets up the server and the template.
func New(t testing.TB) *DB {
	t.Helper()
	if !mainCalled.Load() {
		t.Fatal("pgtest: call pgtest.Main(m) from TestMain in this package, so the test server is stopped when the tests end")
	}
	setupOnce.Do(func() { setupErr = setup() })
	if setupErr != nil {
		t.Fatalf("pgtest: %v", setupErr)
	}
	s := srv
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	name := "pgtest_" + randomHex(6)
	if _, err := s.admin.Exec(ctx, "create database "+ident(name)+" template "+ident(s.template)); err != nil {
		t.Fatalf("pgtest: create database %s from %s: %v", name, s.template, err)
	}
	db := &DB{Name: name, SuperURL: withDatabase(s.baseURL, name, "", ""), srv: s}
	t.Cleanup(func() {
		if db.Pool != nil {
			db.Pool.Close()
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := s.admin.Exec(ctx, "drop database if exists "+ident(name)+" with (force)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	pool, err := newPool(ctx, db.SuperURL, superPoolMaxConns)
	if err != nil {
		t.Fatalf("pgtest: connect to %s as superuser: %v", name, err)
	}
	db.Pool = pool
	return db
}

// AppURL connects to this database as AppRole, the way the REST server
// does in production: row-level security applies and app.user_id is
// trusted.
func (db *DB) AppURL() string { return db.LoginURL(AppRole) }

// SuperURLFor connects as a superuser to another database, named dbname,
// of db's server (one a test created beside its own).
func (db *DB) SuperURLFor(dbname string) string { return withDatabase(db.srv.baseURL, dbname, "", "") }

// AppPool is a pool on AppURL, closed in t.Cleanup.
func (db *DB) AppPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return db.pool(t, db.AppURL(), appPoolMaxConns)
}

// LoginURL connects to this database as the login role, with the password
// LoginPassword(role) (ignored where the server trusts the connection).
// The role must exist; see EnsureLogin.
func (db *DB) LoginURL(role string) string {
	return withDatabase(db.srv.baseURL, db.Name, role, db.LoginPassword(role))
}

// LoginPassword is the password pgtest gives a login role it creates. It
// is the same in every test process against one server (roles are shared
// by all of them), and derived from the superuser's password so it is not
// guessable where the superuser's is not.
func (db *DB) LoginPassword(role string) string {
	sum := sha256.Sum256([]byte("pgtest login\x00" + db.srv.secret + "\x00" + role))
	return hex.EncodeToString(sum[:16])
}

// OpenTx opens a transaction on a connection of its own as the login role
// (see EnsureLogin), left open until the test ends and then rolled back:
// the session a lock test holds while another door is served.
func (db *DB) OpenTx(t testing.TB, role string) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.LoginURL(role))
	if err != nil {
		t.Fatalf("pgtest: connect as %s: %v", role, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatalf("pgtest: begin as %s: %v", role, err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return tx
}

// EnsureLogin creates the login role if it does not exist yet, with
// LoginPassword(role), as a member of the given group roles, and returns
// LoginURL(role). It is safe to call concurrently from several tests and
// processes. An existing role is left as it is, so give each kind of test
// login its own name.
func (db *DB) EnsureLogin(t testing.TB, role string, memberOf ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := ensureLogin(ctx, db.srv.admin, role, db.LoginPassword(role), memberOf...); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return db.LoginURL(role)
}

// Cluster is the throwaway cluster serving the tests, so a test can stop
// and start PostgreSQL (a restart keeps the URLs); nil when
// TEST_DATABASE_URL chose the server. The cluster is shared by every test
// of the package: a test that stops it must not run in parallel.
func (db *DB) Cluster() *pgcluster.Cluster { return db.srv.cluster }

func (db *DB) pool(t testing.TB, connURL string, maxConns int32) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := newPool(ctx, connURL, maxConns)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", db.Name, err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// newPool opens a pool and checks that it can connect, so a bad role or
// URL fails the test where it was asked for.
func newPool(ctx context.Context, connURL string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(connURL)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// setup finds or starts the server, creates and migrates the template and
// makes AppRole. Whatever it creates is recorded in srv before the next
// step, so Main can undo it after a failure.
func setup() error {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	s := &server{template: fmt.Sprintf("pgtest_tmpl_%d_%s", os.Getpid(), randomHex(4))}
	srv = s

	if u := os.Getenv(EnvURL); u != "" {
		s.baseURL = u
		cfg, err := pgx.ParseConfig(u)
		if err != nil {
			return fmt.Errorf("%s: %w", EnvURL, err)
		}
		s.secret = cfg.Password
	} else {
		if err := s.startCluster(ctx); err != nil {
			return err
		}
		s.baseURL = s.cluster.URL("postgres")
		s.secret = randomHex(16) // the socket trusts everyone; any value works
	}

	cfg, err := pgxpool.ParseConfig(s.baseURL)
	if err != nil {
		return fmt.Errorf("test server URL: %w", err)
	}
	cfg.MaxConns = 8
	// A fault test may restart the server under us; the admin pool must
	// then not hand out a dead connection. Its statements are rare and
	// slow (CREATE/DROP DATABASE), so a ping before each costs nothing.
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return true }
	admin, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to the test server: %w", err)
	}
	s.admin = admin
	var super bool
	if err := admin.QueryRow(ctx, "select rolsuper from pg_roles where rolname = current_user").Scan(&super); err != nil {
		return fmt.Errorf("check the test server role: %w", err)
	}
	if !super {
		return fmt.Errorf("%s must connect as a superuser: tests create databases and roles and act as other roles", EnvURL)
	}

	if _, err := admin.Exec(ctx, "create database "+ident(s.template)); err != nil {
		return fmt.Errorf("create template database: %w", err)
	}
	conn, err := pgx.Connect(ctx, withDatabase(s.baseURL, s.template, "", ""))
	if err != nil {
		return fmt.Errorf("connect to template database: %w", err)
	}
	err = dbadmin.Migrate(ctx, conn, -1)
	// Nobody may stay connected to a template: CREATE DATABASE would fail.
	_ = conn.Close(context.Background())
	if err != nil {
		return fmt.Errorf("migrate template database %s: %w", s.template, err)
	}
	if _, err := admin.Exec(ctx, "alter database "+ident(s.template)+" with is_template true allow_connections false"); err != nil {
		return fmt.Errorf("seal template database: %w", err)
	}
	// The app role is made after migrating because its group comes from
	// the first migration.
	pw := (&DB{srv: s}).LoginPassword(AppRole)
	if err := ensureLogin(ctx, admin, AppRole, pw, APIGroup); err != nil {
		return err
	}
	return nil
}

func (s *server) startCluster(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "pgtest")
	if err != nil {
		return err
	}
	s.tmpDir = dir
	// MkdirTemp makes it 0700; as root the server runs as postgres, which
	// must be able to pass through to its data and socket directories.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	c, err := pgcluster.New(pgcluster.Options{
		DataDir:   filepath.Join(dir, "data"),
		SocketDir: filepath.Join(dir, "s"),
		Settings:  throwawaySettings,
	})
	if err != nil {
		return err
	}
	if err := c.Init(ctx); err != nil {
		return err
	}
	s.cluster = c
	return c.Start(ctx)
}

// ensureLogin creates role as a login with password in the given groups
// unless it exists; several test processes may race to create it.
func ensureLogin(ctx context.Context, admin *pgxpool.Pool, role, password string, memberOf ...string) error {
	_, err := dbadmin.CreateLogin(ctx, admin, dbadmin.Login{Name: role, Password: password, Groups: memberOf})
	return err
}

// shutdown undoes setup: drops the template, stops the throwaway cluster
// and removes its directory.
func shutdown() error {
	s := srv
	if s == nil {
		return nil
	}
	var errs []error
	if s.admin != nil {
		if s.cluster == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_, err := s.admin.Exec(ctx, "alter database "+ident(s.template)+" is_template false")
			if err == nil {
				_, err = s.admin.Exec(ctx, "drop database "+ident(s.template)+" with (force)")
			}
			cancel()
			var pgErr interface{ SQLState() string }
			if err != nil && !(errors.As(err, &pgErr) && pgErr.SQLState() == "3D000") {
				errs = append(errs, fmt.Errorf("drop template database %s: %w", s.template, err))
			}
		}
		s.admin.Close()
	}
	if s.cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		if err := s.cluster.Close(ctx); err != nil {
			errs = append(errs, err)
		}
		cancel()
	}
	if s.tmpDir != "" {
		if err := os.RemoveAll(s.tmpDir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// withDatabase returns base pointing at dbname, and at role with password
// when role is not empty. base may be a URL or keyword/value connection
// string.
func withDatabase(base, dbname, role, password string) string {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err == nil {
			u.Path, u.RawPath = "/"+dbname, ""
			q := u.Query()
			q.Del("dbname")
			if role != "" {
				q.Del("user")
				q.Del("password")
				if password != "" {
					u.User = url.UserPassword(role, password)
				} else {
					u.User = url.User(role)
				}
			}
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	// Keyword/value form: a later keyword overrides an earlier one.
	s := base + " dbname=" + dsnQuote(dbname)
	if role != "" {
		s += " user=" + dsnQuote(role) + " password=" + dsnQuote(password)
	}
	return s
}

func dsnQuote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}
