package dbadmin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/config"
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
// policies, and a table owner can disable them. For a login made for a
// person it also finds the other attributes (CREATEDB, REPLICATION), every
// role it can act as besides the groups in $3 (predefined pg_* roles
// included), the roles that can act as it, and what it owns or is named
// in (pg_shdepend covers every database and the shared catalogs).
const roleFactsSQL = `
select r.rolname::text,
       exists (select from pg_catalog.pg_roles s
                where s.rolsuper and pg_catalog.pg_has_role(r.oid, s.oid, 'MEMBER')),
       exists (select from pg_catalog.pg_roles s
                where s.rolbypassrls and pg_catalog.pg_has_role(r.oid, s.oid, 'MEMBER')),
       exists (select from pg_catalog.pg_roles s
                where s.rolcreaterole and pg_catalog.pg_has_role(r.oid, s.oid, 'MEMBER')),
       exists (select from pg_catalog.pg_roles s
                where s.rolcreatedb and pg_catalog.pg_has_role(r.oid, s.oid, 'MEMBER')),
       exists (select from pg_catalog.pg_roles s
                where s.rolreplication and pg_catalog.pg_has_role(r.oid, s.oid, 'MEMBER')),
       coalesce((select pg_catalog.array_agg(g.rolname::text order by g.rolname)
                   from pg_catalog.pg_roles g
                  where g.rolname = any($2::text[]) and pg_catalog.pg_has_role(r.oid, g.oid, 'MEMBER')), '{}'),
       coalesce((select pg_catalog.array_agg(g.rolname::text order by g.rolname)
                   from pg_catalog.pg_roles g
                  where g.oid <> r.oid and g.rolname <> all($3::text[])
                    and pg_catalog.pg_has_role(r.oid, g.oid, 'MEMBER')), '{}'),
       coalesce((select pg_catalog.array_agg(m.rolname::text order by m.rolname)
                   from pg_catalog.pg_roles m
                  where m.oid <> r.oid and not m.rolsuper
                    and pg_catalog.pg_has_role(m.oid, r.oid, 'MEMBER')), '{}'),
       (select pg_catalog.count(*) from pg_catalog.pg_shdepend d
         where d.refclassid = 'pg_catalog.pg_authid'::pg_catalog.regclass and d.refobjid = r.oid and d.deptype = 'o'),
       (select pg_catalog.count(*) from pg_catalog.pg_shdepend d
         where d.refclassid = 'pg_catalog.pg_authid'::pg_catalog.regclass and d.refobjid = r.oid and d.deptype <> 'o'),
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
	createDB, replication        bool
	groups                       []string // privileged groups it can act as
	otherRoles                   []string // roles it can act as besides the expected group
	members                      []string // roles (not superusers) that can act as it
	owns                         int64    // objects it owns, in any database
	namedIn                      int64    // grants, policies and the like that name it
	ownedTables                  string   // app tables it owns or can act as the owner of
}

// lookUpRole returns the facts about role ("" = the connected role), or
// found false when no such role exists. group is the one group the role
// is expected to be in (otherRoles leaves it out).
func lookUpRole(ctx context.Context, q Querier, role, group string) (f roleFacts, found bool, err error) {
	var name *string
	if role != "" {
		name = &role
	}
	err = q.QueryRow(ctx, roleFactsSQL, name, privilegedGroups, []string{group}).
		Scan(&f.name, &f.super, &f.bypassRLS, &f.createRole, &f.createDB, &f.replication,
			&f.groups, &f.otherRoles, &f.members, &f.owns, &f.namedIn, &f.ownedTables)
	if errors.Is(err, pgx.ErrNoRows) {
		return roleFacts{}, false, nil
	}
	if err != nil {
		return roleFacts{}, false, fmt.Errorf("look up role %s: %w", role, err)
	}
	return f, true, nil
}

// runtimeRisks lists how the server's login f could get around row-level
// security: as a superuser, with BYPASSRLS, or owning app tables.
func (f roleFacts) runtimeRisks() []string {
	var r []string
	if f.super {
		r = append(r, "is or can become a superuser")
	}
	if f.bypassRLS {
		r = append(r, "is or can become a role with BYPASSRLS")
	}
	if f.ownedTables != "" {
		r = append(r, "owns tables in schema app ("+f.ownedTables+")")
	}
	return r
}

// plainRisks lists everything that makes f more than a plain login of its
// one group (the group lookUpRole was given): any attribute beyond LOGIN,
// membership in any other role (the predefined pg_* roles run programs,
// read files or read every table; the privileged groups are trusted or
// own the policies), other roles able to act as it, and anything it owns
// or is granted by name. A person's login must be able to do exactly what
// the group allows and nothing else.
func (f roleFacts) plainRisks() []string {
	if f.super {
		// A superuser is a member of every role: listing them says nothing.
		return []string{"is or can become a superuser"}
	}
	var r []string
	for _, a := range []struct {
		has  bool
		name string
	}{{f.bypassRLS, "BYPASSRLS"}, {f.createRole, "CREATEROLE"}, {f.createDB, "CREATEDB"}, {f.replication, "REPLICATION"}} {
		if a.has {
			r = append(r, "is or can become a role with "+a.name)
		}
	}
	if len(f.otherRoles) > 0 {
		r = append(r, "is a member of "+strings.Join(f.otherRoles, ", "))
	}
	if len(f.members) > 0 {
		r = append(r, "can be acted as by "+strings.Join(f.members, ", "))
	}
	if f.owns > 0 {
		r = append(r, fmt.Sprintf("owns %d database objects", f.owns))
	}
	if f.namedIn > 0 {
		r = append(r, fmt.Sprintf("is named in %d grants or policies of its own", f.namedIn))
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
	f, found, err := lookUpRole(ctx, q, "", APIGroup)
	if err == nil && !found {
		err = errors.New("the connected role is not in pg_roles")
	}
	if err != nil {
		return fmt.Errorf("check runtime role: %w", err)
	}
	if r := f.runtimeRisks(); len(r) > 0 {
		return fmt.Errorf("%w: role %q %s; connect as a login role that is only a member of %s",
			ErrUnsafeRole, f.name, strings.Join(r, ", "), APIGroup)
	}
	return nil
}

// checkPlainLogin refuses a role that could do more than a plain member
// of group (see plainRisks); what is a login for.
func checkPlainLogin(f roleFacts, what string) error {
	if r := f.plainRisks(); len(r) > 0 {
		return fmt.Errorf("%w: role %q %s: it cannot be a %s", ErrUnsafeRole, f.name, strings.Join(r, ", "), what)
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
	// Limits, when set, are set on the role (ALTER ROLE ... SET): logins
	// made for people get them (HumanLimits).
	Limits *SessionLimits
}

// SessionLimits are the role-level defaults that keep a person's session
// from holding the database: its statement_timeout, lock_timeout and
// idle_in_transaction_session_timeout. A session may SET others; what
// bounds the harm is that such a login holds no table privilege and locks
// only its own rows (docs/design.md, "Sealed doors").
type SessionLimits struct {
	StatementTimeout         time.Duration
	LockTimeout              time.Duration
	IdleInTransactionTimeout time.Duration
	// Connections is the login's CONNECTION LIMIT (HUMAN_CONNECTION_LIMIT).
	Connections int
	// ConnectionReserve is what people's logins together leave to the
	// servers (SERVER_CONNECTION_RESERVE); negative means none.
	ConnectionReserve int
}

// HumanLimits are the limits the HUMAN_* settings of t ask for.
func HumanLimits(t config.Tools) SessionLimits {
	return SessionLimits{
		StatementTimeout:         t.HumanStatementTimeout,
		LockTimeout:              t.HumanLockTimeout,
		IdleInTransactionTimeout: t.HumanIdleInTransactionTimeout,
		Connections:              t.HumanConnectionLimit,
		ConnectionReserve:        cmp.Or(t.ServerConnectionReserve, -1),
	}
}

// connections are l's per-login limit and the servers' reserve, each zero
// one replaced by the default.
func (l SessionLimits) connections() (perLogin, reserve int) {
	d := HumanLimits(config.DefaultTools())
	perLogin, reserve = cmp.Or(l.Connections, d.Connections), cmp.Or(l.ConnectionReserve, d.ConnectionReserve)
	return max(perLogin, 1), max(reserve, 0)
}

// settings are l as PostgreSQL parameters, each zero one replaced by the
// HUMAN_* default.
func (l SessionLimits) settings() [][2]string {
	d := HumanLimits(config.DefaultTools())
	or := func(v, def time.Duration) string {
		if v <= 0 {
			v = def
		}
		return strconv.FormatInt(max(1, v.Milliseconds()), 10) + "ms"
	}
	return [][2]string{
		{"statement_timeout", or(l.StatementTimeout, d.StatementTimeout)},
		{"lock_timeout", or(l.LockTimeout, d.LockTimeout)},
		{"idle_in_transaction_session_timeout", or(l.IdleInTransactionTimeout, d.IdleInTransactionTimeout)},
	}
}

// setLimits sets l on role for every database, its connection limit
// included.
func setLimits(ctx context.Context, q Querier, role string, l SessionLimits) error {
	perLogin, _ := l.connections()
	if _, err := q.Exec(ctx, "alter role "+ident(role)+" connection limit "+strconv.Itoa(perLogin)); err != nil {
		return fmt.Errorf("set the connection limit of %s: %w", role, err)
	}
	for _, kv := range l.settings() {
		// Names and values are ours (a parameter name, digits and "ms").
		if _, err := q.Exec(ctx, "alter role "+ident(role)+" set "+kv[0]+" = '"+kv[1]+"'"); err != nil {
			return fmt.Errorf("set %s of %s: %w", kv[0], role, err)
		}
	}
	return nil
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
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return err
		}
		if l.Limits != nil {
			return setLimits(ctx, tx, l.Name, *l.Limits)
		}
		return nil
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
// l.Groups, l.Limits when set and, when a password is given, LOGIN with
// that password.
func EnsureLogin(ctx context.Context, q Querier, l Login) (created bool, err error) {
	if created, err = CreateLogin(ctx, q, l); err != nil || created {
		return created, err
	}
	if l.Limits != nil {
		if err := setLimits(ctx, q, l.Name, *l.Limits); err != nil {
			return false, err
		}
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
