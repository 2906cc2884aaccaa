package dbadmin

import (
	"context"
	"fmt"
	"strings"
)

// quoteLiteral quotes a constant of this file as an SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// closedStatistics are the statistics views that count rows, scans and
// calls per table, index, function or database. Open to every login (as
// PostgreSQL ships them), they give a reporting or psql login the exact
// totals behind suppressed cells, and tell another user's patient id from
// a missing one by the rows a refused read fetched (docs/design.md,
// "Sealed doors"). pg_stat_activity stays: it shows other roles' sessions
// without their queries.
var closedStatistics = []string{
	"pg_stat_all_tables", "pg_stat_sys_tables", "pg_stat_user_tables",
	"pg_stat_xact_all_tables", "pg_stat_xact_sys_tables", "pg_stat_xact_user_tables",
	"pg_statio_all_tables", "pg_statio_sys_tables", "pg_statio_user_tables",
	"pg_stat_all_indexes", "pg_stat_sys_indexes", "pg_stat_user_indexes",
	"pg_statio_all_indexes", "pg_statio_sys_indexes", "pg_statio_user_indexes",
	"pg_statio_all_sequences", "pg_statio_sys_sequences", "pg_statio_user_sequences",
	"pg_stat_user_functions", "pg_stat_xact_user_functions",
	"pg_stat_database", "pg_stat_database_conflicts",
}

// TempFileLimit bounds the temporary files of one session in the product's
// database: a login's sort or hash cannot fill the disk the database
// shares. temp_file_limit is for superusers to set, so no login lifts it.
const TempFileLimit = "1GB"

// closeStatisticsSQL revokes the statistics views above and the functions
// under them (pg_stat_get_*, but those pg_stat_activity needs) from PUBLIC,
// leaving them to pg_read_all_stats (monitoring); takes large-object
// creation and import from PUBLIC; and sets the database's temp_file_limit.
// Privileges on pg_catalog objects are per database.
var closeStatisticsSQL = fmt.Sprintf(`
do $$
declare
  r record;
begin
  for r in select format('revoke all on pg_catalog.%%I from public; grant select on pg_catalog.%%I to pg_read_all_stats', v, v) as s
             from unnest(%s::text[]) v
           union all
           select format('revoke all on function %%s from public; grant execute on function %%s to pg_read_all_stats', p.oid::regprocedure, p.oid::regprocedure)
             from pg_catalog.pg_proc p
            where p.pronamespace = 'pg_catalog'::regnamespace
              and p.proname like 'pg\_stat\_get\_%%'
              and p.proname not like 'pg\_stat\_get\_activity%%' and p.proname not like 'pg\_stat\_get\_backend\_%%'
              and p.proname not in ('pg_stat_get_progress_info', 'pg_stat_get_wal_senders', 'pg_stat_get_wal_receiver',
                                    'pg_stat_get_subscription', 'pg_stat_get_replication_slot')
           union all
           select format('revoke all on function %%s from public', p.oid::regprocedure)
             from pg_catalog.pg_proc p
            where p.pronamespace = 'pg_catalog'::regnamespace
              and p.proname in ('lo_create', 'lo_creat', 'lo_import', 'lo_from_bytea')
  loop
    execute r.s;
  end loop;
  execute format('alter database %%I set temp_file_limit = %%L', current_database(), %s);
end
$$`, quoteLiteral("{"+strings.Join(closedStatistics, ",")+"}"), quoteLiteral(TempFileLimit))

// CloseStatistics closes the per-table statistics and large-object
// creation to the database's logins and bounds their temporary files, when
// q is a superuser's connection; it reports false, changing nothing, when
// it is not (the server then warns: StatisticsOpen). Migrate runs it.
func CloseStatistics(ctx context.Context, q Querier) (bool, error) {
	var super bool
	if err := q.QueryRow(ctx, `select rolsuper from pg_catalog.pg_roles where rolname = current_user`).Scan(&super); err != nil {
		return false, fmt.Errorf("close statistics: %w", err)
	}
	if !super {
		return false, nil
	}
	if _, err := q.Exec(ctx, closeStatisticsSQL); err != nil {
		return false, fmt.Errorf("close statistics: %w", err)
	}
	return true, nil
}

// StatisticsOpen reports whether every login of the database can still read
// the per-table statistics (CloseStatistics has not run as a superuser).
func StatisticsOpen(ctx context.Context, q Querier) (bool, error) {
	var open bool
	err := q.QueryRow(ctx, `select pg_catalog.has_table_privilege('public', 'pg_catalog.pg_stat_user_tables', 'select')`).Scan(&open)
	if err != nil {
		return false, fmt.Errorf("check statistics privileges: %w", err)
	}
	return open, nil
}
