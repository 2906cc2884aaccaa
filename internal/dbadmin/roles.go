// Package dbadmin is the database administration the tools do over the
// privileged connection: migrating, creating login roles, linking and
// unlinking personal psql logins, creating admins, and checking that a
// login cannot get around row-level security. The commands in
// cmd/healthcare parse flags and call it; the test helpers (internal/pgtest)
// and the benchmark (cmd/bench) create their logins through it too, so a
// login is made, and judged safe, in one way only.
//
// Nothing here runs on the request path: the REST server reaches the
// database only through internal/database.
package dbadmin

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The group roles the migrations create (sql/migrations/001). No group can
// log in: every login role is a member of exactly one of the first four.
const (
	// OwnerGroup owns every schema, table and function.
	OwnerGroup = "healthcare_owner"
	// APIGroup is the REST server's login's group, the only role whose
	// app.user_id setting is trusted.
	APIGroup = "healthcare_api"
	// UserGroup is the group of personal psql logins linked to app users.
	UserGroup = "healthcare_user"
	// ReportingGroup is the group of reporting logins (reporting views only).
	ReportingGroup = "healthcare_reporting"
	// AuditorGroup is the group of audit logins: the whole audit trail,
	// nothing else (migration 013).
	AuditorGroup = "healthcare_auditor"
	// AuthGroup owns the security definer functions (internal).
	AuthGroup = "healthcare_auth"
	// ReporterGroup owns the reporting views (internal).
	ReporterGroup = "healthcare_reporter"
)

// AppLogin is the usual name of the server's login role, a plain member of
// APIGroup: DB_USER's default, the login `dev`, the tests and the
// benchmark create.
const AppLogin = "healthcare_app"

// privilegedGroups are the groups a personal login must not be able to act
// as: a member of APIGroup would have its app.user_id trusted (it could
// become anyone); the others own or read past the policies.
var privilegedGroups = []string{APIGroup, OwnerGroup, AuthGroup, ReporterGroup}

// Querier is what dbadmin runs statements on: *pgx.Conn, pgx.Tx,
// *pgxpool.Pool and *pgxpool.Conn all qualify. Functions that need a
// transaction begin one on it (a savepoint when it is a pgx.Tx).
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// ident quotes a role or database name for SQL text.
func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// actAsOwner makes the rest of tx run as OwnerGroup, whose policies (all_owner)
// let the tools manage accounts; runtime roles cannot.
func actAsOwner(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, "set local role "+ident(OwnerGroup)); err != nil {
		return fmt.Errorf("act as %s (is the database migrated, and may this login act as it?): %w", OwnerGroup, err)
	}
	return nil
}
