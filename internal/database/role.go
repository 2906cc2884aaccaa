package database

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrUnsafeRole is returned by CheckRuntimeRole when the server's login role
// could get around row-level security.
var ErrUnsafeRole = errors.New("database role can bypass row-level security")

// roleCheckSQL looks at the connected role and every role it can act as
// (pg_has_role ... 'MEMBER' includes SET ROLE targets): a superuser or
// BYPASSRLS role skips policies, and a table owner can disable them.
const roleCheckSQL = `
select current_user::text,
       exists (select 1 from pg_catalog.pg_roles r
                where r.rolsuper and pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER')),
       exists (select 1 from pg_catalog.pg_roles r
                where r.rolbypassrls and pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER')),
       coalesce((select pg_catalog.string_agg(c.relname::text, ', ' order by c.relname)
                   from pg_catalog.pg_class c
                   join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                  where n.nspname = 'app' and c.relkind in ('r', 'p')
                    and pg_catalog.pg_has_role(current_user, c.relowner, 'MEMBER')), '')`

// CheckRuntimeRole fails closed at start-up: it returns ErrUnsafeRole, with
// the reasons, when the connected role is (or can become) a superuser, has
// BYPASSRLS, or owns a table in schema app. The server must connect as a
// plain member of healthcare_api; migrations use a separate connection.
func (db *DB) CheckRuntimeRole(ctx context.Context) error {
	var (
		role, owned   string
		super, bypass bool
	)
	err := db.pool.QueryRow(ctx, roleCheckSQL).Scan(&role, &super, &bypass, &owned)
	if err != nil {
		return fmt.Errorf("check runtime role: %w", err)
	}
	var reasons []string
	if super {
		reasons = append(reasons, "is or can become a superuser")
	}
	if bypass {
		reasons = append(reasons, "is or can become a role with BYPASSRLS")
	}
	if owned != "" {
		reasons = append(reasons, "owns tables in schema app ("+owned+")")
	}
	if len(reasons) > 0 {
		return fmt.Errorf("%w: role %q %s; connect as a login role that is only a member of healthcare_api",
			ErrUnsafeRole, role, strings.Join(reasons, ", "))
	}
	return nil
}
