package dbadmin

import (
	"context"
	"fmt"
)

// RefusalLinkProblem says why refusals at the psql door cannot be written
// to the audit trail through their own connection (migration 021): dblink
// missing from schema refusal_link, or healthcare_refusal_writer not a
// login. "" when both are in place (whether pg_hba.conf lets the writer in
// shows only when a refusal happens: the server log says so then).
func RefusalLinkProblem(ctx context.Context, q Querier) (string, error) {
	var dblink, login bool
	err := q.QueryRow(ctx, `
		select exists (select from pg_catalog.pg_extension e join pg_catalog.pg_namespace n on n.oid = e.extnamespace
		                where e.extname = 'dblink' and n.nspname = 'refusal_link'),
		       coalesce((select r.rolcanlogin from pg_catalog.pg_roles r where r.rolname = 'healthcare_refusal_writer'), false)`).Scan(&dblink, &login)
	if err != nil {
		return "", fmt.Errorf("check the refusal link: %w", err)
	}
	switch {
	case !dblink:
		return "dblink is not installed in schema refusal_link", nil
	case !login:
		return "healthcare_refusal_writer cannot log in", nil
	}
	return "", nil
}
