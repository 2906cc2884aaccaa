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
	m, err := newMigrator(ctx, conn)
	if err != nil {
		return err
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

// lockHint adds what to do to a lock timeout.
func lockHint(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "55P03" {
		return fmt.Errorf("%w (another session holds a lock migrate needs for %s; "+
			"find it in pg_stat_activity with pg_blocking_pids, end it, and run migrate again)", err, migrateLockTimeout)
	}
	return err
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

// MigrationStatus reports the applied version and the latest embedded one.
func MigrationStatus(ctx context.Context, conn *pgx.Conn) (current, latest int32, err error) {
	m, err := newMigrator(ctx, conn)
	if err != nil {
		return 0, 0, err
	}
	current, err = m.GetCurrentVersion(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("read migration version: %w", err)
	}
	return current, int32(len(m.Migrations)), nil
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
