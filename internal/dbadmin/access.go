package dbadmin

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/database"
)

// GrantAccess gives the app user username a personal psql login: it
// creates role (LOGIN, a member of UserGroup and nothing else) or checks
// an existing one and adds it to UserGroup, sets the password when given,
// and links the role to the user, in one transaction. A role that could do
// more than the user (see checkPersonalLogin) is refused with
// ErrUnsafeRole. It reports whether the role was created.
func GrantAccess(ctx context.Context, q Querier, username, role, password string) (created bool, err error) {
	err = pgx.BeginFunc(ctx, q, func(tx pgx.Tx) error {
		facts, exists, err := lookUpRole(ctx, tx, role)
		if err != nil {
			return err
		}
		if exists {
			if err := checkPersonalLogin(facts); err != nil {
				return err
			}
		}
		if created, err = EnsureLogin(ctx, tx, Login{Name: role, Password: password, Groups: []string{UserGroup}}); err != nil {
			return err
		}
		if err := actAsOwner(ctx, tx); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `update app.users set db_role = $2 where lower(username) = lower($1)`, username, role)
		if e, ok := database.AsError(err); ok && e.Kind == database.KindConflict && e.Constraint == "users_db_role_key" {
			return fmt.Errorf("login %s is already linked to another user", role)
		}
		if err != nil {
			return fmt.Errorf("link %s to %s: %w", role, username, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("no user named %q", username)
		}
		return nil
	})
	return created, err
}

// RevokeAccess unlinks the user's personal login and, with drop, drops the
// role. It returns the role that was linked.
func RevokeAccess(ctx context.Context, q Querier, username string, drop bool) (string, error) {
	var role *string
	err := pgx.BeginFunc(ctx, q, func(tx pgx.Tx) error {
		if err := actAsOwner(ctx, tx); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `select db_role::text from app.users where lower(username) = lower($1)`, username).Scan(&role)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("no user named %q", username)
		}
		if err != nil {
			return err
		}
		if role == nil {
			return fmt.Errorf("user %q has no linked login", username)
		}
		if _, err := tx.Exec(ctx, `update app.users set db_role = null where lower(username) = lower($1)`, username); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "reset role"); err != nil {
			return err
		}
		if drop {
			if _, err := tx.Exec(ctx, "drop role if exists "+ident(*role)); err != nil {
				return fmt.Errorf("drop role %s: %w", *role, err)
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("revoke: %w", err)
	}
	return *role, nil
}

// CreateAdmin inserts an active admin account with an argon2id password
// hash (see internal/auth). The transaction acts as OwnerGroup, whose
// policy all_owner on app.users allows it; the database's own checks
// (username format, case-insensitive uniqueness, e-mail shape, hash
// prefix) still apply, and their violations come back as plain sentences.
func CreateAdmin(ctx context.Context, q Querier, username, email, hash string) (int64, error) {
	var id int64
	err := pgx.BeginFunc(ctx, q, func(tx pgx.Tx) error {
		if err := actAsOwner(ctx, tx); err != nil {
			return err
		}
		return tx.QueryRow(ctx,
			`insert into app.users (username, email, password_hash, is_admin) values ($1, $2, $3, true) returning id`,
			username, email, hash).Scan(&id)
	})
	if e, ok := database.AsError(err); ok {
		switch {
		case e.Kind == database.KindConflict:
			return 0, fmt.Errorf("a user named %q already exists", username)
		case e.Kind == database.KindInvalid:
			field := e.Field
			if field == "" {
				field = "value"
			}
			return 0, fmt.Errorf("invalid %s (constraint %s): usernames are 1-150 of letters, digits and _.@+-; e-mails need an @",
				field, e.Constraint)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("create superuser: %w", err)
	}
	return id, nil
}

// FieldError names the one field of a new account the database would
// refuse, with a message a person can act on.
type FieldError struct {
	Field   string // "username" or "email"
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// probeHash passes users_password_hash_check; it is never stored.
const probeHash = "$argon2id$v=19$m=64,t=1,p=1$cHJvYmU$cHJvYmU"

// CheckNewAdmin asks the database whether CreateAdmin would accept
// username and email, without creating anything (the insert is rolled
// back), so createsuperuser can say what is wrong before it asks for a
// password. It returns a *FieldError for a refused value, another error
// when the check itself fails.
func CheckNewAdmin(ctx context.Context, q Querier, username, email string) error {
	tx, err := q.Begin(ctx)
	if err != nil {
		return fmt.Errorf("check account: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := actAsOwner(ctx, tx); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `insert into app.users (username, email, password_hash, is_admin) values ($1, $2, $3, true)`,
		username, email, probeHash)
	if e, ok := database.AsError(err); ok {
		switch {
		case e.Kind == database.KindConflict:
			return &FieldError{"username", fmt.Sprintf("a user named %q already exists (usernames are unique regardless of case).", username)}
		case e.Constraint == "users_username_check":
			return &FieldError{"username", "enter a valid username: 1 to 150 ASCII letters, digits and @ . + - _ (no spaces)."}
		case e.Constraint == "users_email_check":
			return &FieldError{"email", "enter a valid e-mail address (name@domain, at most 254 characters), or leave it empty."}
		}
	}
	if err != nil {
		return fmt.Errorf("check account: %w", err)
	}
	return nil
}

// HasUsers reports whether any account exists (dev seeds only an empty
// database). It must run as a role that sees every account.
func HasUsers(ctx context.Context, q Querier) (bool, error) {
	var any bool
	if err := q.QueryRow(ctx, "select exists (select from app.users)").Scan(&any); err != nil {
		return false, fmt.Errorf("count users: %w", err)
	}
	return any, nil
}
