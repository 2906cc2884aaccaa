package pgtest

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// FakeHash is an argon2id PHC string that passes users_password_hash_check.
// It is no hash of any password: nobody logs in with it. Tests that make
// accounts without logging in give them this one.
const FakeHash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"

// Querier runs the statements of the fixture helpers: a *pgxpool.Pool, a
// *pgx.Conn or a pgx.Tx. Superuser connections (DB.Pool) skip row-level
// security, so they can make any row.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// UserOption sets a column of the account CreateUser makes.
type UserOption func(*user)

type user struct {
	email   string
	isAdmin bool
	dbRole  string
}

// Email sets the account's e-mail address (default none).
func Email(email string) UserOption { return func(u *user) { u.email = email } }

// Admin makes the account an admin.
func Admin() UserOption { return func(u *user) { u.isAdmin = true } }

// DBRole links the account to a PostgreSQL login role, its psql door.
func DBRole(role string) UserOption { return func(u *user) { u.dbRole = role } }

// CreateUser inserts an active account named username with FakeHash into
// app.users over q and returns its id; a failure ends the test.
func CreateUser(t testing.TB, q Querier, username string, opts ...UserOption) int64 {
	t.Helper()
	var u user
	for _, o := range opts {
		o(&u)
	}
	var role any // NULL unless set
	if u.dbRole != "" {
		role = u.dbRole
	}
	var id int64
	if err := q.QueryRow(t.Context(),
		`insert into app.users (username, email, password_hash, is_admin, db_role)
		 values ($1, $2, $3, $4, $5) returning id`,
		username, u.email, FakeHash, u.isAdmin, role).Scan(&id); err != nil {
		t.Fatalf("pgtest: create user %q: %v", username, err)
	}
	return id
}

// CreateUsers inserts n accounts named prefix1 to prefixN with FakeHash in
// one statement over q and returns their ids in that order; a failure ends
// the test.
func CreateUsers(t testing.TB, q Querier, prefix string, n int) []int64 {
	t.Helper()
	rows, err := q.Query(t.Context(),
		`insert into app.users (username, password_hash)
		 select $1 || g, $2 from generate_series(1, $3::int) g order by g returning id`,
		prefix, FakeHash, n)
	if err != nil {
		t.Fatalf("pgtest: create %d users: %v", n, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatalf("pgtest: create %d users: %v", n, err)
	}
	return ids
}

// PgError returns the PostgreSQL error in err's chain, or the zero
// PgError (empty Code) when err is nil or holds none, so a test can compare
// its fields directly: pgtest.PgError(err).Code != "42501".
func PgError(err error) pgconn.PgError {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return *pgErr
	}
	return pgconn.PgError{}
}
