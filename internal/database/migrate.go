package database

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/tern/v2/migrate"

	healthcaresql "healthcare/sql"
)

// VersionTable is where tern records the applied migration version.
const VersionTable = "public.healthcare_schema_version"

// legacyVersionTable is where databases made before the migrations were
// folded into their final form (001-008) recorded their version. Its
// numbers mean other files, so such a database cannot be migrated.
const legacyVersionTable = "public.schema_version"

// ErrPredatesMigrations means the database was migrated by the history
// before the fold: its objects and version numbers do not match these
// migrations, and applying them would fail half way. Recreate it.
var ErrPredatesMigrations = errors.New("the database predates the current migrations")

// ErrDowngrade refuses a target below the applied version: migrations are
// forward-only, and a database goes back by restoring a backup.
var ErrDowngrade = errors.New("migrations are forward-only")

// migrateLockTimeout bounds every lock wait of a migration, tern's
// advisory lock included, so a session holding a table (or the lock) makes
// migrate fail naming the wait instead of hanging.
const migrateLockTimeout = "10s"

// ternLockKey is the advisory lock tern takes around a migration run.
const ternLockKey = int64(9628173550095224)

// newMigrator loads the embedded migrations for conn. Migrations run
// without tern's per-migration transactions: MigrateTo wraps all of them,
// and the definitions after them, in one.
func newMigrator(ctx context.Context, conn *pgx.Conn) (*migrate.Migrator, error) {
	m, err := migrate.NewMigratorEx(ctx, conn, VersionTable, &migrate.MigratorOptions{DisableTx: true})
	if err != nil {
		return nil, fmt.Errorf("create migrator: %w", err)
	}
	sub, err := fs.Sub(healthcaresql.Migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open embedded migrations: %w", err)
	}
	if err := m.LoadMigrations(sub); err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return m, nil
}

// Migrate applies every embedded migration not yet applied, then the
// definitions of sql/definitions that changed. conn must be the privileged
// (owner or superuser) connection: migrations create roles and objects
// that the server's runtime role must not be able to create.
func Migrate(ctx context.Context, conn *pgx.Conn) error {
	return MigrateTo(ctx, conn, -1)
}

// MigrateTo migrates up to version target; a negative target means the
// latest embedded version. At the latest version it also applies
// sql/definitions. Migrations and definitions commit together or not at
// all, so no caller ever sees a function without its new table or the
// other way round. A target below the applied version is ErrDowngrade.
func MigrateTo(ctx context.Context, conn *pgx.Conn, target int32) error {
	if err := checkNotLegacy(ctx, conn); err != nil {
		return err
	}
	// Who blocks this connection, seen from a second one, for the message
	// of a lock timeout.
	watch := watchBlockers(ctx, conn.Config(), conn.PgConn().PID())
	defer watch.stop()
	lockHint := func(err error) error { return lockHint(err, watch) }
	// tern takes its advisory lock for the session as it starts, before
	// the transaction below; bound that wait too.
	m, err := withSessionLockTimeout(ctx, conn, func() (*migrate.Migrator, error) { return newMigrator(ctx, conn) })
	if err != nil {
		return lockHint(err)
	}
	latest := int32(len(m.Migrations))
	if target < 0 {
		target = latest
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	setTimeout := func() error {
		_, err := tx.Exec(ctx, "select pg_catalog.set_config('lock_timeout', $1, true)", migrateLockTimeout)
		return err
	}
	if err := setTimeout(); err != nil {
		return err
	}
	// Held to the commit, so a second migrate waits for this one's result
	// rather than for tern's session lock, which tern releases earlier.
	if _, err := tx.Exec(ctx, "select pg_catalog.pg_advisory_xact_lock($1)", ternLockKey); err != nil {
		return fmt.Errorf("migrate: wait for another migration: %w", lockHint(err))
	}
	current, err := m.GetCurrentVersion(ctx)
	if err != nil {
		return fmt.Errorf("read migration version: %w", err)
	}
	if target < current {
		return fmt.Errorf("%w: the database is at version %d and cannot go back to %d; "+
			"restore a backup taken before the upgrade instead (deploy/ha/backup)", ErrDowngrade, current, target)
	}
	// tern resets every setting after each migration.
	migrated := false
	m.OnStart = func(int32, string, string, string) {
		migrated = true
		_ = setTimeout()
	}
	if err := m.MigrateTo(ctx, target); err != nil {
		return fmt.Errorf("migrate: %w", lockHint(err))
	}
	if target == latest {
		if err := setTimeout(); err != nil {
			return err
		}
		if _, err := applyDefinitions(ctx, tx, false, migrated); err != nil {
			return lockHint(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}

// withSessionLockTimeout runs f with the session's lock_timeout at
// migrateLockTimeout, and puts the caller's back after.
func withSessionLockTimeout[T any](ctx context.Context, conn *pgx.Conn, f func() (T, error)) (T, error) {
	var zero T
	var old string
	if err := conn.QueryRow(ctx, "select pg_catalog.current_setting('lock_timeout'), pg_catalog.set_config('lock_timeout', $1, false)",
		migrateLockTimeout).Scan(&old, nil); err != nil {
		return zero, fmt.Errorf("set lock_timeout: %w", err)
	}
	v, err := f()
	if _, rerr := conn.Exec(ctx, "select pg_catalog.set_config('lock_timeout', $1, false)", old); rerr != nil && err == nil {
		return zero, fmt.Errorf("reset lock_timeout: %w", rerr)
	}
	return v, err
}

// lockHint adds to a lock timeout the sessions that blocked migrate, as
// the watch saw them (pid, user, application, state and since when), and
// what to do.
func lockHint(err error, watch *blockerWatch) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "55P03" {
		return err
	}
	if who := blockersText(watch.stop()); who != "" {
		return fmt.Errorf("%w (migrate waited %s for a lock: %s; then run migrate again)", err, migrateLockTimeout, who)
	}
	return fmt.Errorf("%w (another session holds a lock migrate needs for %s; "+
		"find it in pg_stat_activity with pg_blocking_pids, end it, and run migrate again)", err, migrateLockTimeout)
}

// checkNotLegacy returns ErrPredatesMigrations for a database that has the
// old version table and not the current one.
func checkNotLegacy(ctx context.Context, conn *pgx.Conn) error {
	var legacy bool
	err := conn.QueryRow(ctx, `select pg_catalog.to_regclass($1) is not null and pg_catalog.to_regclass($2) is null`,
		legacyVersionTable, VersionTable).Scan(&legacy)
	if err != nil {
		return fmt.Errorf("check migration history: %w", err)
	}
	if legacy {
		return fmt.Errorf("%w (it has %s, not %s)", ErrPredatesMigrations, legacyVersionTable, VersionTable)
	}
	return nil
}

// MigrationStatus reports the applied version (0 before the first
// migrate) and the latest embedded one. It reads the version table and
// takes no lock: tern's migrator would wait, without a time limit, for its
// advisory lock, which any login can hold, and serve checks the version
// at start.
func MigrationStatus(ctx context.Context, conn *pgx.Conn) (current, latest int32, err error) {
	latest, err = LatestVersion()
	if err != nil {
		return 0, 0, err
	}
	var exists bool
	if err := conn.QueryRow(ctx, "select pg_catalog.to_regclass($1) is not null", VersionTable).Scan(&exists); err != nil {
		return 0, 0, fmt.Errorf("read migration version: %w", err)
	}
	if !exists {
		return 0, latest, nil
	}
	if err := conn.QueryRow(ctx, "select version from "+VersionTable).Scan(&current); err != nil {
		return 0, 0, fmt.Errorf("read migration version: %w", err)
	}
	return current, latest, nil
}

// LatestVersion is the number of embedded migrations, the version a fully
// migrated database reports.
func LatestVersion() (int32, error) {
	names, err := migrate.FindMigrations(mustSub())
	if err != nil {
		return 0, fmt.Errorf("find migrations: %w", err)
	}
	return int32(len(names)), nil
}

func mustSub() fs.FS {
	sub, err := fs.Sub(healthcaresql.Migrations, "migrations")
	if err != nil {
		panic(err) // the embed pattern guarantees the folder exists
	}
	return sub
}
