package dbadmin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/database"
)

// ErrUnsafeRole is returned when a login could get around row-level
// security: the server's login at start-up (CheckRuntimeLogin), or a role
// about to become a personal login (GrantAccess).
var ErrUnsafeRole = errors.New("database role can bypass row-level security")

// roleFactsSQL looks at one role ($1, or current_user when null) and every
// role it can act as (pg_has_role ... 'MEMBER' includes SET ROLE targets):
// a superuser or BYPASSRLS role skips policies, a CREATEROLE role can grant
// itself any group, members of the groups in $2 are trusted or own the
// policies, and a table owner can disable them.
const roleFactsSQL = `
select r.rolname::text,
       exists (select from pg_catalog.pg_roles s
                where s.rolsuper and pg_catalog.pg_has_role(r.oid, s.oid, 'MEMBER')),
       exists (select from pg_catalog.pg_roles s
                where s.rolbypassrls and pg_catalog.pg_has_role(r.oid, s.oid, 'MEMBER')),
       exists (select from pg_catalog.pg_roles s
                where s.rolcreaterole and pg_catalog.pg_has_role(r.oid, s.oid, 'MEMBER')),
       coalesce((select pg_catalog.array_agg(g.rolname::text order by g.rolname)
                   from pg_catalog.pg_roles g
                  where g.rolname = any($2::text[]) and pg_catalog.pg_has_role(r.oid, g.oid, 'MEMBER')), '{}'),
       coalesce((select pg_catalog.string_agg(c.relname::text, ', ' order by c.relname)
                   from pg_catalog.pg_class c
                   join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                  where n.nspname = 'app' and c.relkind in ('r', 'p')
                    and pg_catalog.pg_has_role(r.oid, c.relowner, 'MEMBER')), '')
  from pg_catalog.pg_roles r
 where r.rolname = coalesce($1::text, current_user::text)`

// roleFacts is what roleFactsSQL found out about one role.
type roleFacts struct {
	name                         string
	super, bypassRLS, createRole bool
	groups                       []string // privileged groups it can act as
	ownedTables                  string   // app tables it owns or can act as the owner of
}

// lookUpRole returns the facts about role ("" = the connected role), or
// found false when no such role exists.
func lookUpRole(ctx context.Context, q Querier, role string) (f roleFacts, found bool, err error) {
	var name *string
	if role != "" {
		name = &role
	}
	err = q.QueryRow(ctx, roleFactsSQL, name, privilegedGroups).
		Scan(&f.name, &f.super, &f.bypassRLS, &f.createRole, &f.groups, &f.ownedTables)
	if errors.Is(err, pgx.ErrNoRows) {
		return roleFacts{}, false, nil
	}
	if err != nil {
		return roleFacts{}, false, fmt.Errorf("look up role %s: %w", role, err)
	}
	return f, true, nil
}

// risks lists how f could get around row-level security: as a superuser,
// with BYPASSRLS, or owning app tables. For a personal login it adds
// CREATEROLE (it could grant itself any group) and membership in a
// privileged group, which a runtime login needs.
func (f roleFacts) risks(personal bool) []string {
	var r []string
	if f.super {
		r = append(r, "is or can become a superuser")
	}
	if f.bypassRLS {
		r = append(r, "is or can become a role with BYPASSRLS")
	}
	if personal && f.createRole {
		r = append(r, "is or can become a role with CREATEROLE")
	}
	if personal && len(f.groups) > 0 {
		r = append(r, "is a member of "+strings.Join(f.groups, ", "))
	}
	if f.ownedTables != "" {
		r = append(r, "owns tables in schema app ("+f.ownedTables+")")
	}
	return r
}

// CheckRuntimeLogin fails closed at start-up: it returns ErrUnsafeRole,
// with the reasons, when the connected role is (or can become) a
// superuser, has BYPASSRLS, or owns a table in schema app. The server
// must connect as a plain member of APIGroup; migrations use a separate
// connection.
func CheckRuntimeLogin(ctx context.Context, q Querier) error {
	f, found, err := lookUpRole(ctx, q, "")
	if err == nil && !found {
		err = errors.New("the connected role is not in pg_roles")
	}
	if err != nil {
		return fmt.Errorf("check runtime role: %w", err)
	}
	if r := f.risks(false); len(r) > 0 {
		return fmt.Errorf("%w: role %q %s; connect as a login role that is only a member of %s",
			ErrUnsafeRole, f.name, strings.Join(r, ", "), APIGroup)
	}
	return nil
}

// checkPersonalLogin refuses a role that could do more than its linked
// user (see risks).
func checkPersonalLogin(f roleFacts) error {
	if r := f.risks(true); len(r) > 0 {
		return fmt.Errorf("%w: role %q %s: it cannot be a personal login", ErrUnsafeRole, f.name, strings.Join(r, ", "))
	}
	return nil
}

// Login describes a login role.
type Login struct {
	// Name is the role's name.
	Name string
	// Password, when not empty, is set as a SCRAM-SHA-256 verifier; an
	// empty one sets none (the role then logs in only where the server
	// trusts the connection).
	Password string
	// Groups are the group roles it is a member of.
	Groups []string
}

// CreateLogin creates the login role when it does not exist: LOGIN, no
// superuser, createdb, createrole or bypassrls, a member of l.Groups. An
// existing role is left as it is. Creators racing in several processes
// are fine: the losers report created false.
func CreateLogin(ctx context.Context, q Querier, l Login) (created bool, err error) {
	var exists bool
	if err := q.QueryRow(ctx, "select exists (select from pg_catalog.pg_roles where rolname = $1)", l.Name).Scan(&exists); err != nil {
		return false, fmt.Errorf("look up role %s: %w", l.Name, err)
	}
	if exists {
		return false, nil
	}
	stmt := "create role " + ident(l.Name) + " login nosuperuser nocreatedb nocreaterole nobypassrls"
	if l.Password != "" {
		pw, err := passwordClause(l.Password)
		if err != nil {
			return false, err
		}
		stmt += pw
	}
	if len(l.Groups) > 0 {
		stmt += " in role " + identList(l.Groups)
	}
	// In a transaction of its own (a savepoint inside the caller's), so a
	// concurrent creator's win rolls back only this statement.
	err = pgx.BeginFunc(ctx, q, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, stmt)
		return err
	})
	if database.IsKind(err, database.KindConflict) {
		return false, nil // created concurrently by another process
	}
	if err != nil {
		return false, fmt.Errorf("create role %s: %w", l.Name, err)
	}
	return true, nil
}

// EnsureLogin is CreateLogin, and for an existing role: membership in
// l.Groups and, when a password is given, LOGIN with that password.
func EnsureLogin(ctx context.Context, q Querier, l Login) (created bool, err error) {
	if created, err = CreateLogin(ctx, q, l); err != nil || created {
		return created, err
	}
	if len(l.Groups) > 0 {
		if _, err := q.Exec(ctx, "grant "+identList(l.Groups)+" to "+ident(l.Name)); err != nil {
			return false, fmt.Errorf("grant %s to %s: %w", strings.Join(l.Groups, ", "), l.Name, err)
		}
	}
	if l.Password != "" {
		pw, err := passwordClause(l.Password)
		if err != nil {
			return false, err
		}
		if _, err := q.Exec(ctx, "alter role "+ident(l.Name)+" login"+pw); err != nil {
			return false, fmt.Errorf("set password of %s: %w", l.Name, err)
		}
	}
	return false, nil
}

// passwordClause is " password '<verifier>'". The verifier's alphabet
// (base64, digits, '$' and ':') needs no quoting.
func passwordClause(password string) (string, error) {
	v, err := scramVerifier(password)
	if err != nil {
		return "", fmt.Errorf("password verifier: %w", err)
	}
	return " password '" + v + "'", nil
}

func identList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = ident(n)
	}
	return strings.Join(q, ", ")
}
