package database_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"healthcare/internal/config"
	"healthcare/internal/database"
	"healthcare/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// openApp opens a DB as the REST server's role on a fresh database.
func openApp(t testing.TB, tdb *pgtest.DB, opts database.Options) *database.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := database.Open(ctx, tdb.AppURL(), opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(db.Close)
	return db
}

// registerUser creates an account through api.register and returns its id.
func registerUser(t testing.TB, db *database.DB, name string) int64 {
	t.Helper()
	raw, err := db.Call(context.Background(), database.Identity{RequestID: "test"}, database.FnRegister,
		name, name+"@example.com", pgtest.FakeHash)
	if err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	var u struct{ ID int64 }
	if err := json.Unmarshal(raw, &u); err != nil || u.ID <= 0 {
		t.Fatalf("register %s: bad answer %s (%v)", name, raw, err)
	}
	return u.ID
}

func TestCallReturnsTheFunctionsJSON(t *testing.T) {
	t.Parallel()
	db := openApp(t, pgtest.New(t), database.Options{})
	ctx := context.Background()
	alice := database.Identity{UserID: registerUser(t, db, "alice"), RequestID: "req-1"}

	raw, err := db.Call(ctx, alice, database.FnCreatePatient, "Ann O'Neil; drop table x", int32(42), "f")
	if err != nil {
		t.Fatalf("create patient: %v", err)
	}
	var p struct {
		ID         int64
		Name       string
		Age        int
		Gender     string
		GenderFHIR string `json:"gender_fhir"`
		User       int64
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	if p.Name != "Ann O'Neil; drop table x" || p.Age != 42 || p.Gender != "f" || p.GenderFHIR != "female" || p.User != alice.UserID {
		t.Fatalf("created patient = %+v", p)
	}

	raw, err = db.Call(ctx, alice, database.FnListPatients, int32(50), int32(0))
	if err != nil {
		t.Fatalf("list patients: %v", err)
	}
	var page struct {
		Count   int
		Results []struct{ ID int64 }
	}
	if err := json.Unmarshal(raw, &page); err != nil || page.Count != 1 || page.Results[0].ID != p.ID {
		t.Fatalf("list = %s (%v)", raw, err)
	}
}

func TestCallReturnsNilForSQLNull(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	// No api function answers SQL null today; make one that does, so the
	// contract (nil bytes, no error) that handlers rely on stays tested.
	if _, err := tdb.Pool.Exec(context.Background(),
		`create or replace function api.me() returns json language sql stable as 'select null::json'`); err != nil {
		t.Fatal(err)
	}
	db := openApp(t, tdb, database.Options{})
	raw, err := db.Call(context.Background(), database.Identity{}, database.FnMe)
	if err != nil || raw != nil {
		t.Fatalf("call of a function answering null = %q, %v; want nil, nil", raw, err)
	}
}

func TestCallReturnsSQLErrorsAsPgError(t *testing.T) {
	t.Parallel()
	db := openApp(t, pgtest.New(t), database.Options{})
	ctx := context.Background()
	user := database.Identity{UserID: registerUser(t, db, "bob")}
	tests := []struct {
		name string
		id   database.Identity
		fn   database.Func
		args []any
		code string
	}{
		{"a missing patient is not found", user, database.FnGetPatient, []any{int64(999)}, "RNTFD"},
		{"an anonymous caller is not signed in", database.Identity{}, database.FnListPatients, []any{int32(1), int32(0)}, "RUNAU"},
		{"an age out of range is invalid", user, database.FnCreatePatient, []any{"x", int32(200), "m"}, "RINVL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := db.Call(ctx, tt.id, tt.fn, tt.args...)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != tt.code {
				t.Fatalf("err = %v; want SQLSTATE %s", err, tt.code)
			}
			if errors.Is(err, database.ErrUnavailable) {
				t.Fatalf("a SQL error must not be ErrUnavailable: %v", err)
			}
		})
	}
}

func TestCallRefusesWrongArgumentCount(t *testing.T) {
	t.Parallel()
	db := openApp(t, pgtest.New(t), database.Options{})
	if _, err := db.Call(context.Background(), database.Identity{}, database.FnGetPatient); err == nil {
		t.Fatal("call with a missing argument succeeded")
	}
	if _, err := db.Call(context.Background(), database.Identity{}, database.Func{}); err == nil {
		t.Fatal("call with the zero Func succeeded")
	}
}

func TestIdentitySettingsEndWithTheTransaction(t *testing.T) {
	t.Parallel()
	// One connection, so the follow-up query surely reuses the Call's.
	db := openApp(t, pgtest.New(t), database.Options{MaxConns: 1, MinConns: 1, StatementTimeout: 1234 * time.Millisecond})
	ctx := context.Background()
	id := database.Identity{UserID: registerUser(t, db, "carol"), RequestID: "req-leak"}
	if _, err := db.Call(ctx, id, database.FnMe); err != nil {
		t.Fatalf("me: %v", err)
	}
	var userID, requestID, timeout string
	err := db.Pool().QueryRow(ctx, `select coalesce(current_setting('app.user_id', true), ''),
		coalesce(current_setting('app.request_id', true), ''), current_setting('statement_timeout')`).
		Scan(&userID, &requestID, &timeout)
	if err != nil {
		t.Fatalf("read settings: %v", err)
	}
	if userID != "" || requestID != "" || timeout == "1234ms" {
		t.Fatalf("settings survived the call: user_id=%q request_id=%q statement_timeout=%q", userID, requestID, timeout)
	}
}

// countingConn counts round trips: a write that follows a read (or is the
// first) starts a new one.
type countingConn struct {
	net.Conn
	mu        sync.Mutex
	trips     int
	lastWrite bool
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	if !c.lastWrite {
		c.trips++
	}
	c.lastWrite = true
	c.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	c.lastWrite = false
	c.mu.Unlock()
	return n, err
}

func (c *countingConn) reset() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.trips
	c.trips, c.lastWrite = 0, false
	return n
}

// TestCallIsOneRoundTrip guards issue 5 item 1: once the statements are
// prepared on a connection, the identity settings, the api call and the
// implicit commit travel in one network round trip.
func TestCallIsOneRoundTrip(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	modes := []struct {
		name string
		mode database.ExecMode
	}{
		{"cached statements (direct connection)", database.ExecCached},
		{"unnamed statements (PgBouncer)", database.ExecUnnamed},
		{"simple protocol", database.ExecSimple},
	}
	for i, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			var (
				mu    sync.Mutex
				conns []*countingConn
			)
			db := openApp(t, tdb, database.Options{MaxConns: 1, MinConns: 1, ExecMode: m.mode,
				ConfigHook: func(cfg *pgxpool.Config) {
					dial := cfg.ConnConfig.DialFunc
					cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
						c, err := dial(ctx, network, addr)
						if err != nil {
							return nil, err
						}
						cc := &countingConn{Conn: c}
						mu.Lock()
						conns = append(conns, cc)
						mu.Unlock()
						return cc, nil
					}
				}})
			ctx := context.Background()
			id := database.Identity{UserID: registerUser(t, db, "dave"+strconv.Itoa(i)), RequestID: "rt"}
			mu.Lock()
			if len(conns) != 1 {
				t.Fatalf("dialed %d connections, want 1", len(conns))
			}
			cc := conns[0]
			mu.Unlock()
			// An authenticated read and an authenticated write: each is
			// one round trip once its statement is prepared, and the write
			// is committed by then (the next Call sees it).
			var created struct{ ID int64 }
			calls := []struct {
				name string
				call func() error
			}{
				{"list patients", func() error {
					_, err := db.Call(ctx, id, database.FnListPatients, int32(10), int32(0))
					return err
				}},
				{"create patient", func() error {
					raw, err := db.Call(ctx, id, database.FnCreatePatient, "Round Trip", int32(30), "o")
					if err == nil {
						err = json.Unmarshal(raw, &created)
					}
					return err
				}},
				{"get the created patient", func() error {
					_, err := db.Call(ctx, id, database.FnGetPatient, created.ID)
					return err
				}},
			}
			for _, c := range calls {
				cc.reset()
				if err := c.call(); err != nil { // prepares the statement on the connection
					t.Fatalf("%s: %v", c.name, err)
				}
				if n := cc.reset(); m.mode == database.ExecCached && n != 2 {
					// Proves the counter sees a second trip when there is one.
					t.Fatalf("first cached %s took %d round trips, want 2 (prepare, then run)", c.name, n)
				}
				for j := 0; j < 3; j++ {
					if err := c.call(); err != nil {
						t.Fatalf("%s: %v", c.name, err)
					}
					if n := cc.reset(); n != 1 {
						t.Fatalf("%s took %d round trips, want 1", c.name, n)
					}
				}
			}
		})
	}
}

func TestUnreachableDatabaseIsErrUnavailable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	start := time.Now()
	_, err = database.Open(context.Background(), "postgres://nobody@"+addr+"/x?sslmode=disable",
		database.Options{AcquireTimeout: 500 * time.Millisecond})
	if !errors.Is(err, database.ErrUnavailable) {
		t.Fatalf("open = %v; want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("open took %v; the wait must be bounded", d)
	}
}

func TestExhaustedPoolIsErrUnavailableAfterTheAcquireTimeout(t *testing.T) {
	t.Parallel()
	db := openApp(t, pgtest.New(t), database.Options{MaxConns: 1, MinConns: 1, AcquireTimeout: 200 * time.Millisecond})
	ctx := context.Background()
	held, err := db.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	start := time.Now()
	_, err = db.Call(ctx, database.Identity{}, database.FnMe)
	if !errors.Is(err, database.ErrUnavailable) {
		t.Fatalf("call = %v; want ErrUnavailable", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 3*time.Second {
		t.Fatalf("call gave up after %v; want about the 200ms acquire timeout", d)
	}
}

// Zero options take the server's configured defaults: config is the one
// source of them.
func TestZeroOptionsTakeConfigDefaults(t *testing.T) {
	t.Parallel()
	db := openApp(t, pgtest.New(t), database.Options{})
	if got, want := db.Pool().Config().MaxConns, config.Defaults().DBPoolMaxConns; got != want {
		t.Fatalf("pool of %d connections; want DB_POOL_MAX_CONNS's default %d", got, want)
	}
	if got, want := db.Pool().Config().ConnConfig.ConnectTimeout, config.Defaults().DBAcquireTimeout; got != want {
		t.Fatalf("connect timeout %v; want DB_ACQUIRE_TIMEOUT's default %v", got, want)
	}
}

// TestACommitThatNeverReturnsIsErrUnavailable: a commit waiting for a
// synchronous standby that is gone is not bounded by statement_timeout;
// Call gives it up after the statement timeout plus a margin, as
// ErrUnavailable (503), instead of holding the request for ever. Not
// parallel: it names a standby for the whole test cluster for a moment.
func TestACommitThatNeverReturnsIsErrUnavailable(t *testing.T) {
	tdb := pgtest.New(t)
	ctx := context.Background()
	set := func(v string) {
		t.Helper()
		if _, err := tdb.Pool.Exec(ctx, "alter system set synchronous_standby_names = '"+v+"'"); err != nil {
			t.Fatal(err)
		}
		if _, err := tdb.Pool.Exec(ctx, "select pg_reload_conf()"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond) // the postmaster passes the reload on
	}
	// Writes commit as the server is configured; this database is
	// configured as production is (the test cluster runs with off).
	if _, err := tdb.Pool.Exec(ctx, "alter database "+pgx.Identifier{tdb.Name}.Sanitize()+" set synchronous_commit = on"); err != nil {
		t.Fatal(err)
	}
	db := openApp(t, tdb, database.Options{StatementTimeout: 500 * time.Millisecond})
	uid := registerUser(t, db, "waits_for_standby")
	set("standby_that_is_gone")
	t.Cleanup(func() { set("") })
	start := time.Now()
	_, err := db.Call(ctx, database.Identity{UserID: uid}, database.FnCreatePatient, "Stuck", int32(40), "other")
	took := time.Since(start)
	if !errors.Is(err, database.ErrUnavailable) {
		t.Fatalf("a commit with no standby to confirm it: %v after %v; want ErrUnavailable", err, took)
	}
	t.Logf("gave up after %v", took.Round(time.Millisecond))
	if took > 10*time.Second {
		t.Fatalf("gave up after %v; want about the statement timeout plus 2 s", took)
	}
}
