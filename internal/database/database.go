// Package database is the server's only door to PostgreSQL. It owns the
// connection pool and one operation, Call, which runs a single api.*
// function inside a transaction that carries the caller's identity.
//
// The database, not Go, decides who may see and change which rows (see
// docs/design.md, "The one rule"). This package therefore never builds SQL from
// request data: the function name comes from a closed set of Func values and
// every argument travels as a bind parameter.
package database

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"healthcare/internal/config"
)

// ExecMode selects how statements travel to the server.
type ExecMode int

const (
	// ExecCached prepares each statement once per connection and reuses it.
	// With the identity batch already prepared, a Call is one network round
	// trip. The default, for direct connections.
	ExecCached ExecMode = iota
	// ExecUnnamed uses the extended protocol with unnamed statements, so it
	// works behind PgBouncer in transaction mode, which cannot keep named
	// prepared statements per client. Still one round trip per Call.
	ExecUnnamed
	// ExecSimple uses the simple query protocol with client-side quoting.
	// Only for poolers that do not support the extended protocol at all.
	ExecSimple
)

// Options tune the pool. The zero value is usable: zero fields take the
// defaults of the matching settings in internal/config.
type Options struct {
	// MaxConns caps the pool (DB_POOL_MAX_CONNS).
	MaxConns int32
	// MinConns are kept open so the first requests after idle do not pay
	// for connection setup. Default 2 (at most MaxConns).
	MinConns int32
	// AcquireTimeout bounds the wait for a pooled connection, including
	// dialing a new one. When it passes, Call returns ErrUnavailable rather
	// than letting requests pile up behind a dead database
	// (DB_ACQUIRE_TIMEOUT).
	AcquireTimeout time.Duration
	// StatementTimeout is set transaction-locally on every Call, so a slow
	// query cannot hold a connection forever (DB_STATEMENT_TIMEOUT).
	StatementTimeout time.Duration
	// LockTimeout is set transaction-locally on every Call, so a call that
	// needs a row another session holds gives up after it (KindLocked)
	// instead of holding a connection while it waits (DB_LOCK_TIMEOUT).
	LockTimeout time.Duration
	// PerCaller bounds the calls one caller (a user, or for anonymous
	// calls a client address) may have in flight at once, waiting for a
	// connection included; beyond it Call waits briefly for one of the
	// caller's own calls to finish, then returns ErrBusy
	// (DB_PER_USER_CONNECTIONS). Zero: a quarter of MaxConns, at least 1;
	// negative: no limit.
	PerCaller int
	// ExecMode picks the wire protocol; see ExecMode. Default ExecCached.
	ExecMode ExecMode
	// ConfigHook, when set, may adjust the parsed pool configuration before
	// the pool is created (tests count round trips through it).
	ConfigHook func(*pgxpool.Config)
}

func (o Options) withDefaults() Options {
	d := config.Defaults()
	if o.MaxConns <= 0 {
		o.MaxConns = d.DBPoolMaxConns
	}
	if o.MinConns <= 0 {
		o.MinConns = min(2, o.MaxConns)
	}
	if o.AcquireTimeout <= 0 {
		o.AcquireTimeout = d.DBAcquireTimeout
	}
	if o.StatementTimeout <= 0 {
		o.StatementTimeout = d.DBStatementTimeout
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = d.DBLockTimeout
	}
	if o.PerCaller == 0 {
		o.PerCaller = config.DefaultPerUserConnections(o.MaxConns)
	}
	return o
}

// commitGrace is how long a call may wait for its commit (synchronous
// replication) beyond the statement timeout before it is given up.
const commitGrace = 2 * time.Second

// DB is the pool plus the per-call settings derived from Options. It is safe
// for concurrent use.
type DB struct {
	pool             *pgxpool.Pool
	acquireTimeout   time.Duration
	statementTimeout string        // in milliseconds, as set_config wants text
	lockTimeout      string        // likewise
	callTimeout      time.Duration // statement timeout plus commitGrace
	callers          *callerLimit  // nil: no per-caller limit
}

// Open parses url, creates the pool and checks that the database answers.
// It does not check the role's privileges: dbadmin.CheckRuntimeLogin does.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	opts = opts.withDefaults()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	cfg.MaxConns = opts.MaxConns
	cfg.MinConns = opts.MinConns
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > opts.AcquireTimeout {
		cfg.ConnConfig.ConnectTimeout = opts.AcquireTimeout
	}
	cfg.ConnConfig.DefaultQueryExecMode = queryExecMode(opts.ExecMode)
	if opts.ConfigHook != nil {
		opts.ConfigHook(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("create pool: %w", err)
	}
	db := &DB{
		pool:             pool,
		acquireTimeout:   opts.AcquireTimeout,
		statementTimeout: fmt.Sprint(opts.StatementTimeout.Milliseconds()),
		lockTimeout:      fmt.Sprint(max(1, opts.LockTimeout.Milliseconds())),
		callTimeout:      opts.StatementTimeout + commitGrace,
	}
	if opts.PerCaller > 0 {
		db.callers = newCallerLimit(opts.PerCaller)
	}
	if err := db.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

func queryExecMode(m ExecMode) pgx.QueryExecMode {
	switch m {
	case ExecUnnamed:
		return pgx.QueryExecModeExec
	case ExecSimple:
		return pgx.QueryExecModeSimpleProtocol
	default:
		return pgx.QueryExecModeCacheStatement
	}
}

// Close waits for borrowed connections to return and closes the pool.
func (db *DB) Close() { db.pool.Close() }

// Pool exposes the pool for statistics (metrics, readiness) and for the few
// callers outside the request path, such as the start-up checks in
// internal/dbadmin. Request handlers must use Call.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Ping checks that a connection can be acquired and answers, within the
// acquire timeout. A failure is ErrUnavailable.
func (db *DB) Ping(ctx context.Context) error {
	conn, err := db.acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if err := conn.Ping(ctx); err != nil {
		return classify(ctx, conn, fmt.Errorf("ping database: %w", err))
	}
	return nil
}

// acquire borrows a connection, waiting at most acquireTimeout. Nothing has
// been sent for the request yet, so any failure here is ErrUnavailable.
func (db *DB) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	actx, cancel := context.WithTimeout(ctx, db.acquireTimeout)
	defer cancel()
	conn, err := db.pool.Acquire(actx)
	if err == nil {
		return conn, nil
	}
	if ctx.Err() != nil {
		// The caller gave up (client went away); not the database's fault.
		return nil, fmt.Errorf("acquire connection: %w", ctx.Err())
	}
	return nil, fmt.Errorf("acquire connection: %w: %w", ErrUnavailable, err)
}
