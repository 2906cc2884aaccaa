package database

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
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

// newMigrator loads the embedded migrations for conn.
func newMigrator(ctx context.Context, conn *pgx.Conn) (*migrate.Migrator, error) {
	m, err := migrate.NewMigrator(ctx, conn, VersionTable)
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

// Migrate applies every embedded migration not yet applied. conn must be the
// privileged (owner or superuser) connection: migrations create roles and
// objects that the server's runtime role must not be able to create.
func Migrate(ctx context.Context, conn *pgx.Conn) error {
	return MigrateTo(ctx, conn, -1)
}

// MigrateTo migrates up or down to version target; a negative target means
// the latest embedded version.
func MigrateTo(ctx context.Context, conn *pgx.Conn, target int32) error {
	if err := checkNotLegacy(ctx, conn); err != nil {
		return err
	}
	m, err := newMigrator(ctx, conn)
	if err != nil {
		return err
	}
	if target < 0 {
		err = m.Migrate(ctx)
	} else {
		err = m.MigrateTo(ctx, target)
	}
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
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
