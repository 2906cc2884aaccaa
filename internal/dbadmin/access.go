package dbadmin

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/database"
)

// ErrAlreadyLinked is returned by GrantAccess when the user already has
// another login and Replace was not asked for.
var ErrAlreadyLinked = errors.New("the user already has a personal login")

// Grant asks GrantAccess for a personal login.
type Grant struct {
	// User is the app user's username (case-insensitive).
	User string
	// Role is the login to create, or an existing plain login to link.
	Role string
	// Password, when not empty, is set as the login's SCRAM verifier.
	Password string
	// Replace allows linking Role to a user who has another login: that
	// login is dropped in the same transaction.
	Replace bool
	// Limits are set on the login; zero fields take the HUMAN_* defaults.
	Limits SessionLimits
}

// Granted says what GrantAccess did.
type Granted struct {
	// Created is true when the login role was created.
	Created bool
	// Replaced is the login that was linked before and has been dropped.
	Replaced string
}

// loginComment marks a role as the personal login made for app user id of
// this database, so RevokeAccess finds it again after its link was
// replaced by hand. Roles are shared by every database of the cluster, and
// app user ids repeat across databases: the database's name keeps a revoke
// in one from taking another's login.
func loginComment(ctx context.Context, tx pgx.Tx, id int64) (string, error) {
	var db string
	if err := tx.QueryRow(ctx, "select pg_catalog.current_database()").Scan(&db); err != nil {
		return "", fmt.Errorf("name the database: %w", err)
	}
	return "healthcare login of app user " + strconv.FormatInt(id, 10) + " in database " + db, nil
}

// reportingComment marks a role as a reporting login made by GrantReporting.
const reportingComment = "healthcare reporting login"

// auditorComment marks a role as an audit login made by GrantAuditor.
const auditorComment = "healthcare audit login"

// GrantAccess gives the app user g.User a personal psql login, in one
// transaction: it creates g.Role (LOGIN, a member of UserGroup and
// nothing else) or checks an existing one and adds it to UserGroup, sets
// the password when given and the session limits, marks the role as that
// user's login (a comment) and links it to the user. A role that is more
// than a plain member of UserGroup (see plainRisks) is refused with
// ErrUnsafeRole. A user who already has another login is refused with
// ErrAlreadyLinked unless g.Replace, which drops that login.
func GrantAccess(ctx context.Context, q Querier, g Grant) (Granted, error) {
	var out Granted
	err := pgx.BeginFunc(ctx, q, func(tx pgx.Tx) error {
		facts, exists, err := lookUpRole(ctx, tx, g.Role, UserGroup)
		if err != nil {
			return err
		}
		if exists {
			if err := checkPlainLogin(facts, "personal login"); err != nil {
				return err
			}
		}
		id, linked, err := linkedLogin(ctx, tx, g.User)
		if err != nil {
			return err
		}
		if linked != nil && *linked != g.Role {
			if !g.Replace {
				return fmt.Errorf("%w: user %q is linked to login %s; replace it to link %s instead (%s is then dropped)",
					ErrAlreadyLinked, g.User, *linked, g.Role, *linked)
			}
			out.Replaced = *linked
		}
		limits := g.Limits
		if out.Created, err = EnsureLogin(ctx, tx, Login{Name: g.Role, Password: g.Password, Groups: []string{UserGroup}, Limits: &limits}); err != nil {
			return err
		}
		if err := boundAndCheck(ctx, tx, limits); err != nil {
			return err
		}
		comment, err := loginComment(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "comment on role "+ident(g.Role)+" is "+quoteLiteral(comment)); err != nil {
			return fmt.Errorf("mark %s as the login of %s: %w", g.Role, g.User, err)
		}
		if err := actAsOwner(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `select app.lock_for_admin('app.users', $1, 'no key update', $2)`, id, fmt.Sprintf("user %d", id)); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `update app.users set db_role = $2 where id = $1`, id, g.Role)
		if e, ok := database.AsError(err); ok && e.Kind == database.KindConflict && e.Constraint == "users_db_role_key" {
			return fmt.Errorf("login %s is already linked to another user", g.Role)
		}
		if err != nil {
			return fmt.Errorf("link %s to %s: %w", g.Role, g.User, err)
		}
		if _, err := tx.Exec(ctx, "reset role"); err != nil {
			return err
		}
		if out.Replaced != "" {
			if _, err := tx.Exec(ctx, "drop role if exists "+ident(out.Replaced)); err != nil {
				return fmt.Errorf("drop the replaced login %s: %w", out.Replaced, err)
			}
		}
		return nil
	})
	if err != nil {
		return Granted{}, err
	}
	return out, nil
}

// linkedLogin returns the id of the app user named username and the login
// linked to it (nil when none). It acts as OwnerGroup and resets the role.
func linkedLogin(ctx context.Context, tx pgx.Tx, username string) (int64, *string, error) {
	if err := actAsOwner(ctx, tx); err != nil {
		return 0, nil, err
	}
	var id int64
	var role *string
	err := tx.QueryRow(ctx, `select id, db_role::text from app.users where lower(username) = lower($1)`, username).Scan(&id, &role)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, fmt.Errorf("no user named %q", username)
	}
	if err != nil {
		return 0, nil, err
	}
	if _, err := tx.Exec(ctx, "reset role"); err != nil {
		return 0, nil, err
	}
	return id, role, nil
}

// Revoked says what RevokeAccess did.
type Revoked struct {
	// Login is the login that was linked ("" when none was).
	Login string
	// Earlier are logins made for the user whose link had been replaced
	// (by hand: GrantAccess drops the one it replaces).
	Earlier []string
}

// RevokeAccess unlinks the user's personal login and takes UserGroup from
// it, so it can no longer act even as an anonymous user; with drop it
// drops the role instead. It does the same to every earlier login made
// for the user (marked by GrantAccess) that no user links to any more. It
// fails when there is nothing to revoke.
func RevokeAccess(ctx context.Context, q Querier, username string, drop bool) (Revoked, error) {
	var out Revoked
	err := pgx.BeginFunc(ctx, q, func(tx pgx.Tx) error {
		id, linked, err := linkedLogin(ctx, tx, username)
		if err != nil {
			return err
		}
		if linked != nil {
			out.Login = *linked
			if err := actAsOwner(ctx, tx); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `select app.lock_for_admin('app.users', $1, 'no key update', $2)`, id, fmt.Sprintf("user %d", id)); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `update app.users set db_role = null where id = $1`, id); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "reset role"); err != nil {
				return err
			}
		}
		if out.Earlier, err = earlierLogins(ctx, tx, id, out.Login, drop); err != nil {
			return err
		}
		if out.Login == "" && len(out.Earlier) == 0 {
			return fmt.Errorf("user %q has no linked login", username)
		}
		for _, role := range append([]string{out.Login}, out.Earlier...) {
			if role == "" {
				continue
			}
			// A linked role dropped by hand leaves nothing to revoke.
			stmt := "drop role if exists " + ident(role)
			if !drop {
				var exists bool
				if err := tx.QueryRow(ctx, "select exists (select from pg_catalog.pg_roles where rolname = $1)", role).Scan(&exists); err != nil {
					return err
				}
				if !exists {
					continue
				}
				stmt = "revoke " + ident(UserGroup) + " from " + ident(role)
			}
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("%s: %w", stmt, err)
			}
		}
		return nil
	})
	if err != nil {
		return Revoked{}, fmt.Errorf("revoke: %w", err)
	}
	return out, nil
}

// earlierLogins are the roles marked as logins of app user id that no
// user links to, other than current: with all, every one; otherwise those
// still in UserGroup (the others were revoked already).
func earlierLogins(ctx context.Context, tx pgx.Tx, id int64, current string, all bool) ([]string, error) {
	if err := actAsOwner(ctx, tx); err != nil {
		return nil, err
	}
	comment, err := loginComment(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `
select r.rolname::text
  from pg_catalog.pg_roles r
  join pg_catalog.pg_shdescription d
    on d.objoid = r.oid and d.classoid = 'pg_catalog.pg_authid'::pg_catalog.regclass
 where d.description = $1 and r.rolname <> $2
   and not exists (select from app.users u where u.db_role = r.rolname)
   and ($3 or pg_catalog.pg_has_role(r.oid, $4::text, 'MEMBER'))
 order by 1`, comment, current, all, UserGroup)
	if err != nil {
		return nil, fmt.Errorf("find earlier logins: %w", err)
	}
	roles, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("find earlier logins: %w", err)
	}
	if _, err := tx.Exec(ctx, "reset role"); err != nil {
		return nil, err
	}
	return roles, nil
}

// GrantReporting creates the reporting login role (LOGIN, a member of
// ReportingGroup and nothing else), or checks an existing one and adds it
// to ReportingGroup, and sets the password when given and the session
// limits. A role that is more than a plain member of ReportingGroup is
// refused with ErrUnsafeRole. It reports whether the role was created.
func GrantReporting(ctx context.Context, q Querier, role, password string, limits SessionLimits) (created bool, err error) {
	return grantGroupLogin(ctx, q, ReportingGroup, reportingComment, "reporting login", role, password, limits)
}

// RevokeReporting drops the reporting login role, after checking that it
// is a plain member of ReportingGroup (so it never drops anything else).
func RevokeReporting(ctx context.Context, q Querier, role string) error {
	return revokeGroupLogin(ctx, q, ReportingGroup, "reporting login", role)
}

// GrantAuditor is GrantReporting for AuditorGroup: a login that reads the
// whole audit trail and nothing else.
func GrantAuditor(ctx context.Context, q Querier, role, password string, limits SessionLimits) (created bool, err error) {
	return grantGroupLogin(ctx, q, AuditorGroup, auditorComment, "audit login", role, password, limits)
}

// RevokeAuditor drops an audit login made by GrantAuditor.
func RevokeAuditor(ctx context.Context, q Querier, role string) error {
	return revokeGroupLogin(ctx, q, AuditorGroup, "audit login", role)
}

// grantGroupLogin makes or checks a login whose only membership is group.
func grantGroupLogin(ctx context.Context, q Querier, group, comment, what, role, password string, limits SessionLimits) (created bool, err error) {
	err = pgx.BeginFunc(ctx, q, func(tx pgx.Tx) error {
		facts, exists, err := lookUpRole(ctx, tx, role, group)
		if err != nil {
			return err
		}
		if exists {
			if err := checkPlainLogin(facts, what); err != nil {
				return err
			}
		}
		if created, err = EnsureLogin(ctx, tx, Login{Name: role, Password: password, Groups: []string{group}, Limits: &limits}); err != nil {
			return err
		}
		if err := boundAndCheck(ctx, tx, limits); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "comment on role "+ident(role)+" is '"+comment+"'"); err != nil {
			return fmt.Errorf("mark %s as a %s: %w", role, what, err)
		}
		return nil
	})
	return created, err
}

// revokeGroupLogin drops a login after checking that it is a plain member
// of group (so it never drops anything else).
func revokeGroupLogin(ctx context.Context, q Querier, group, what, role string) error {
	return pgx.BeginFunc(ctx, q, func(tx pgx.Tx) error {
		facts, exists, err := lookUpRole(ctx, tx, role, group)
		if err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("no role named %q", role)
		}
		var member bool
		if err := tx.QueryRow(ctx, "select pg_catalog.pg_has_role($1, $2, 'MEMBER')", role, group).Scan(&member); err != nil {
			return err
		}
		if !member {
			return fmt.Errorf("role %q is not a member of %s: not a %s", role, group, what)
		}
		if err := checkPlainLogin(facts, what); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "drop role "+ident(role)); err != nil {
			return fmt.Errorf("drop role %s: %w", role, err)
		}
		return nil
	})
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
