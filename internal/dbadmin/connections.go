package dbadmin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// ErrConnectionBudget refuses a grant after which the connection limits of
// people's logins would add up to more than the cluster can give them
// while keeping the servers' reserve.
var ErrConnectionBudget = errors.New("people's logins would take connections the servers need")

// ConnectionBudget is the arithmetic of docs/operations.md ("Connections
// for people"): people's logins together may hold at most
// max_connections - superuser_reserved_connections - reserved_connections
// (PostgreSQL 16 on) - the servers' reserve.
type ConnectionBudget struct {
	MaxConnections    int
	SuperuserReserved int
	Reserved          int // reserved_connections; 0 before PostgreSQL 16
	ServerReserve     int // SERVER_CONNECTION_RESERVE
	// Logins are people's logins (members of healthcare_user,
	// healthcare_reporting or healthcare_auditor that can log in, not
	// superusers, not servers) and Total their connection limits added up.
	Logins, Total int
	// Bounded names the logins whose limit was set just now.
	Bounded []string
}

// Available is how many connections people's logins may hold together.
func (b ConnectionBudget) Available() int {
	return b.MaxConnections - b.SuperuserReserved - b.Reserved - b.ServerReserve
}

func (b ConnectionBudget) String() string {
	return fmt.Sprintf("%d people's logins may hold %d connections; %d are available to them "+
		"(max_connections %d - superuser_reserved_connections %d - reserved_connections %d - SERVER_CONNECTION_RESERVE %d)",
		b.Logins, b.Total, b.Available(), b.MaxConnections, b.SuperuserReserved, b.Reserved, b.ServerReserve)
}

// peoplesLoginsSQL lists people's logins and their connection limits.
// Superusers are members of every role, hence excluded by name; so are
// the servers' logins.
const peoplesLoginsSQL = `select coalesce(array_agg(r.rolname order by r.rolname), '{}'),
       coalesce(array_agg(r.rolconnlimit order by r.rolname), '{}')
  from pg_catalog.pg_roles r
 where r.rolcanlogin and not r.rolsuper
   and (pg_catalog.pg_has_role(r.oid, $1, 'member') or pg_catalog.pg_has_role(r.oid, $2, 'member')
        or pg_catalog.pg_has_role(r.oid, $3, 'member'))
   and not pg_catalog.pg_has_role(r.oid, $4, 'member')`

// BoundPeoplesConnections gives every person's login that has no
// connection limit, or a higher one, the limit l asks for (CONNECTION
// LIMIT), and returns the budget with every such login counted. It does
// not refuse anything: CheckConnectionBudget does.
func BoundPeoplesConnections(ctx context.Context, q Querier, l SessionLimits) (ConnectionBudget, error) {
	perLogin, reserve := l.connections()
	b := ConnectionBudget{ServerReserve: reserve}
	err := q.QueryRow(ctx, `select pg_catalog.current_setting('max_connections')::int,
		pg_catalog.current_setting('superuser_reserved_connections')::int,
		coalesce(pg_catalog.current_setting('reserved_connections', true)::int, 0)`).
		Scan(&b.MaxConnections, &b.SuperuserReserved, &b.Reserved)
	if err != nil {
		return b, fmt.Errorf("read the connection settings: %w", err)
	}
	var names []string
	var limits []int
	if err := q.QueryRow(ctx, peoplesLoginsSQL, UserGroup, ReportingGroup, AuditorGroup, APIGroup).Scan(&names, &limits); err != nil {
		return b, fmt.Errorf("list people's logins: %w", err)
	}
	type login struct {
		name  string
		limit int
	}
	logins := make([]login, len(names))
	for i := range names {
		logins[i] = login{names[i], limits[i]}
	}
	for _, x := range logins {
		if x.limit < 0 || x.limit > perLogin {
			if _, err := q.Exec(ctx, "alter role "+ident(x.name)+" connection limit "+strconv.Itoa(perLogin)); err != nil {
				return b, fmt.Errorf("limit the connections of %s: %w", x.name, err)
			}
			b.Bounded = append(b.Bounded, x.name)
			x.limit = perLogin
		}
		b.Logins++
		b.Total += x.limit
	}
	return b, nil
}

// CheckConnectionBudget refuses (ErrConnectionBudget) a budget whose
// logins may hold more connections than are available to them.
func CheckConnectionBudget(b ConnectionBudget) error {
	if b.Total <= b.Available() {
		return nil
	}
	return fmt.Errorf("%w: %s. Revoke logins nobody uses (db-access revoke), lower HUMAN_CONNECTION_LIMIT "+
		"and run db-access again, or raise max_connections", ErrConnectionBudget, b)
}

// boundAndCheck is what every grant does after making its login: bound
// every person's login and refuse the grant when they no longer fit.
func boundAndCheck(ctx context.Context, q Querier, l SessionLimits) error {
	b, err := BoundPeoplesConnections(ctx, q, l)
	if err != nil {
		return err
	}
	return CheckConnectionBudget(b)
}
