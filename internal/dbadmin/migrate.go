package dbadmin

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"healthcare/internal/database"
)

// Migrate migrates conn's database up or down to version target (negative:
// the latest embedded version). conn must be the privileged connection: a
// superuser, or a CREATEROLE role that is a member of OwnerGroup. Migration
// 008 lets APIGroup read the version table, which the server checks at
// start-up (CheckMigrated).
func Migrate(ctx context.Context, conn *pgx.Conn, target int32) error {
	if err := database.MigrateTo(ctx, conn, target); err != nil {
		return err
	}
	_, err := CloseStatistics(ctx, conn)
	return err
}

// CheckMigrated refuses a database whose migration version differs from
// the latest one embedded in this binary: an older schema lacks functions
// the handlers call, a newer one may have changed them. It runs as the
// server's runtime login, on one connection of pool.
func CheckMigrated(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("check migrations: %w", err)
	}
	defer conn.Release()
	// The runtime role may not create the version table (tern would try),
	// so look before asking the migrator.
	var exists, readable bool
	err = conn.QueryRow(ctx, `select c.oid is not null,
	        c.oid is not null and pg_catalog.has_table_privilege(c.oid, 'select')
	   from (select pg_catalog.to_regclass($1) as oid) c`, database.VersionTable).Scan(&exists, &readable)
	if err != nil {
		return fmt.Errorf("check migrations: %w", err)
	}
	if !exists {
		return errors.New("the database is not migrated: run `healthcare migrate up` with the privileged connection")
	}
	if !readable {
		return fmt.Errorf("check migrations: the runtime role cannot read %s: run `healthcare migrate up` "+
			"(migration 008 grants select on it to %s) or `grant select on %s to %s`",
			database.VersionTable, APIGroup, database.VersionTable, APIGroup)
	}
	current, latest, err := database.MigrationStatus(ctx, conn.Conn())
	if err != nil {
		return fmt.Errorf("check migrations: %w", err)
	}
	if current != latest {
		return fmt.Errorf("database is at migration version %d but this binary needs version %d: run `healthcare migrate up` with the privileged connection", current, latest)
	}
	return nil
}

// CreateDatabase creates the database name unless it exists. conn must be
// connected to another database of the server (usually postgres).
func CreateDatabase(ctx context.Context, q Querier, name string) error {
	var exists bool
	if err := q.QueryRow(ctx, "select exists (select from pg_catalog.pg_database where datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := q.Exec(ctx, "create database "+ident(name)); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}
