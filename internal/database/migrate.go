package database

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/tern/v2/migrate"

	healthcaresql "healthcare/sql"
)

// VersionTable is where tern records the applied migration version.
const VersionTable = "public.schema_version"

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
