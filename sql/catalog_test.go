package sql_test

// Catalog guards: cheap queries over pg_catalog that catch a forgotten
// `force row level security`, an unpinned search_path, a function left
// executable by PUBLIC or a runtime role that could bypass the policies, the
// moment a migration introduces it. And the reporting door: what the views
// return, and that the way they read all rows opens nothing else.

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/dbadmin"
	"healthcare/internal/pgtest"
)

// runtimeRoles can be reached by a client: the three groups and the logins
// the tests make in them.
var runtimeRoles = []string{"healthcare_api", "healthcare_user", "healthcare_reporting",
	pgtest.AppRole, loginPsqlA, loginUnlinked, loginReporting}

// The schemas the migrations own.
var ourSchemas = []string{"app", "api", "records", "reporting", "audit", "fhir"}

func queryStrings(t *testing.T, db *pgtest.DB, sql string, args ...any) [][]string {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]string, error) {
		vals, err := r.Values()
		if err != nil {
			return nil, err
		}
		s := make([]string, len(vals))
		for i, v := range vals {
			if v == nil {
				s[i] = "NULL"
			} else {
				s[i] = fmt.Sprint(v)
			}
		}
		return s, nil
	})
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func TestEveryAppTableForcesRowLevelSecurity(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	rows := queryStrings(t, db, `
		select c.relname, c.relrowsecurity::text, c.relforcerowsecurity::text
		  from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
		 where n.nspname = 'app' and c.relkind in ('r', 'p')
		 order by 1`)
	if len(rows) < 5 {
		t.Fatalf("found %d tables in app, want at least users, patients, doctors, patient_doctors, refresh_tokens", len(rows))
	}
	for _, r := range rows {
		if r[1] != "true" || r[2] != "true" {
			t.Errorf("app.%s: row security enabled=%s forced=%s, want both true", r[0], r[1], r[2])
		}
	}
	// A policy granted to PUBLIC would apply to every role, current and future.
	for _, r := range queryStrings(t, db, `
		select c.relname || '.' || p.polname
		  from pg_catalog.pg_policy p
		  join pg_catalog.pg_class c on c.oid = p.polrelid
		  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
		 where n.nspname = 'app' and 0::oid = any (p.polroles)`) {
		t.Errorf("policy %s applies to PUBLIC; name the roles it is for", r[0])
	}
}

func TestFunctionsAreOwnedPinnedAndNotPublic(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	rows := queryStrings(t, db, `
		select n.nspname, p.oid::regprocedure::text, p.prosecdef::text,
		       coalesce(array_to_string(p.proconfig, ';'), ''),
		       pg_catalog.pg_get_userbyid(p.proowner)::text,
		       exists (select from pg_catalog.aclexplode(coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) a
		                where a.grantee = 0 and a.privilege_type = 'EXECUTE')::text
		  from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
		 where n.nspname = any ($1)
		 order by 1, 2`, ourSchemas)
	if len(rows) < 30 {
		t.Fatalf("found only %d functions in app/api", len(rows))
	}
	definers := 0
	for _, r := range rows {
		schema, fn, definer, config, owner, public := r[0], r[1], r[2] == "true", r[3], r[4], r[5] == "true"
		if public {
			t.Errorf("%s is executable by PUBLIC", fn)
		}
		if schema == "api" && !definer {
			t.Errorf("%s is security invoker; api functions are definers owned by healthcare_access, so no login needs a privilege on the app tables", fn)
		}
		if !definer {
			want := "healthcare_owner"
			switch {
			case schema == "audit":
				want = "healthcare_audit"
			case fn == "app.current_user_id()" || fn == "app.current_user_is_admin()":
				// Inlinable plain SQL since the identity is checked once per
				// request; they keep the owner they had as definers.
				want = "healthcare_auth"
			}
			if owner != want {
				t.Errorf("%s is owned by %s, want %s", fn, owner, want)
			}
			continue
		}
		definers++
		if !slices.Contains(strings.Split(config, ";"), "search_path=pg_catalog, pg_temp") {
			t.Errorf("%s is security definer with settings %q, want search_path=pg_catalog, pg_temp pinned", fn, config)
		}
		// Each definer is owned by a role nobody can log in as, whose
		// narrow grants and policies bound what it can do.
		wantOwner := map[string][]string{
			"app":       {"healthcare_auth", "healthcare_access", "healthcare_reporter"},
			"api":       {"healthcare_access"},
			"reporting": {"healthcare_reporter"},
			"audit":     {"healthcare_audit"},
			"fhir":      {"healthcare_access"},
		}[schema]
		if fn == "api.require_session(uuid)" || fn == "api.begin_request(text,text,text,uuid,text,text,text,text)" {
			// The api functions that read tokens and accounts themselves
			// (each request's identity statement: one definer call, not
			// two; require_session for servers of the previous release).
			wantOwner = []string{"healthcare_auth"}
		}
		if fn == "app.record_refusal_elsewhere(bigint,text,text,bigint,jsonb)" {
			// The one function that may open dblink's connection back to
			// the database, for a psql refusal's event (migration 021).
			wantOwner = []string{"healthcare_refusal_link"}
		}
		if !slices.Contains(wantOwner, owner) {
			t.Errorf("%s is security definer owned by %s, want one of %v", fn, owner, wantOwner)
		}
	}
	if definers == 0 {
		t.Fatal("no security definer function found; app.lookup_user_id() must be one")
	}
	// The account and token definers read hashes and tokens: the REST
	// server's group alone may run them, directly or through api.
	db.EnsureLogin(t, loginPsqlA, "healthcare_user")
	db.EnsureLogin(t, loginReporting, "healthcare_reporting")
	for _, fn := range []string{
		"app.register_user(text,text,text)", "app.user_credentials(text)",
		"app.issue_refresh_token(bigint,uuid,uuid,timestamp with time zone)",
		"app.rotate_refresh_token(uuid,uuid,timestamp with time zone)", "app.revoke_refresh_token(uuid)",
		"app.login_attempt(text,text,integer,integer,integer,integer)", "app.end_user_sessions(bigint)",
		"app.complete_login(text,text,bigint,uuid,uuid,timestamp with time zone,text,text)",
		"api.register(text,text,text)", "api.login_attempt(text,text,integer,integer,integer,integer)", "api.require_session(uuid)",
		"api.begin_request(text,text,text,uuid,text,text,text,text)",
		"api.complete_login(text,text,bigint,uuid,uuid,timestamp with time zone,text,text)",
		"api.rotate_refresh_token(uuid,uuid,timestamp with time zone)", "api.revoke_refresh_token(uuid)",
	} {
		for _, role := range []string{"healthcare_user", "healthcare_reporting", "healthcare_reporter", loginPsqlA, loginReporting} {
			var can bool
			if err := db.Pool.QueryRow(context.Background(), "select pg_catalog.has_function_privilege($1, $2, 'execute')", role, fn).Scan(&can); err != nil {
				t.Fatalf("%s for %s: %v", fn, role, err)
			}
			if can {
				t.Errorf("%s may execute %s", role, fn)
			}
		}
	}
}

func TestRuntimeRolesCannotBypassPolicies(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	db.EnsureLogin(t, loginPsqlA, "healthcare_user")
	db.EnsureLogin(t, loginUnlinked, "healthcare_user")
	db.EnsureLogin(t, loginReporting, "healthcare_reporting")
	names := append([]string{}, runtimeRoles...)
	rows := queryStrings(t, db, `
		select rolname::text, rolsuper::text, rolbypassrls::text, rolcreaterole::text, rolcreatedb::text
		  from pg_catalog.pg_roles
		 where rolname like 'healthcare\_%' or rolname = any ($1)
		 order by 1`, names)
	if len(rows) < len(runtimeRoles)+3 {
		t.Fatalf("found roles %v, want the six healthcare_ roles and the test logins", rows)
	}
	for _, r := range rows {
		if r[1] != "false" || r[2] != "false" || r[3] != "false" || r[4] != "false" {
			t.Errorf("role %s: superuser=%s bypassrls=%s createrole=%s createdb=%s, want all false", r[0], r[1], r[2], r[3], r[4])
		}
	}
	// What a role can become counts as much as what it is: pg_has_role
	// MEMBER covers every role reachable by SET ROLE.
	for _, role := range runtimeRoles {
		for _, r := range queryStrings(t, db, `
			select 'superuser or bypassrls role ' || r.rolname
			  from pg_catalog.pg_roles r
			 where (r.rolsuper or r.rolbypassrls) and pg_catalog.pg_has_role($1, r.oid, 'MEMBER')
			union all
			select 'owner of relation ' || n.nspname || '.' || c.relname
			  from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
			 where n.nspname = any ($2) and pg_catalog.pg_has_role($1, c.relowner, 'MEMBER')
			union all
			select 'owner of function ' || p.oid::regprocedure::text
			  from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
			 where n.nspname = any ($2) and pg_catalog.pg_has_role($1, p.proowner, 'MEMBER')
			union all
			select 'owner of schema ' || n.nspname
			  from pg_catalog.pg_namespace n
			 where n.nspname = any ($2) and pg_catalog.pg_has_role($1, n.nspowner, 'MEMBER')`, role, ourSchemas) {
			t.Errorf("runtime role %s can act as %s", role, r[0])
		}
	}
	// The internal roles that read beyond the caller's rows are reachable
	// from the owner alone (migrations hand objects to them).
	for _, r := range queryStrings(t, db, `
		select g.rolname || ' has member ' || m.rolname
		  from pg_catalog.pg_auth_members am
		  join pg_catalog.pg_roles g on g.oid = am.roleid
		  join pg_catalog.pg_roles m on m.oid = am.member
		 where g.rolname in ('healthcare_auth', 'healthcare_reporter', 'healthcare_owner')
		   and m.rolname <> 'healthcare_owner' and not m.rolsuper`) {
		t.Errorf("%s: only healthcare_owner (and a migrating superuser) may be a member", r[0])
	}
}

func TestObjectsHaveTheirIntendedOwners(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	rows := queryStrings(t, db, `
		select n.nspname, c.relname, c.relkind::text, pg_catalog.pg_get_userbyid(c.relowner)::text
		  from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
		 where n.nspname = any ($1) and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
		union all
		select n.nspname, '', 'schema', pg_catalog.pg_get_userbyid(n.nspowner)::text
		  from pg_catalog.pg_namespace n where n.nspname = any ($1)
		order by 1, 2`, ourSchemas)
	views := 0
	for _, r := range rows {
		schema, name, kind, owner := r[0], r[1], r[2], r[3]
		want := "healthcare_owner"
		if schema == "reporting" && kind == "v" {
			want = "healthcare_reporter" // reads all rows through its own narrow policies
			views++
		}
		if schema == "audit" && kind != "schema" {
			// The trail belongs to a role nobody can log in as or become
			// at run time: its triggers refuse changes even to it.
			want = "healthcare_audit"
		}
		if owner != want {
			t.Errorf("%s.%s (%s) is owned by %s, want %s", schema, name, kind, owner, want)
		}
	}
	if views != len(reportingViews) {
		t.Errorf("found %d reporting views, want %d", views, len(reportingViews))
	}
}

// TestReportingLoginReachesNothingElse: the reporting login is refused every
// table and function in app and api (what its views publish is tested in
// reporting_test.go).
func TestReportingLoginReachesNothingElse(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	db.EnsureLogin(t, loginReporting, "healthcare_reporting")
	// Nothing in app or api, whichever table or function it tries.
	var probes []string
	for _, r := range queryStrings(t, db, `
		select 'select * from ' || c.oid::regclass::text || ' limit 1'
		  from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
		 where n.nspname = 'app' and c.relkind in ('r', 'p', 'v')`) {
		probes = append(probes, r[0])
	}
	probes = append(probes, "select api.list_doctors(null, null, 1, 0)", "select api.me()",
		"select app.current_user_id()", "select app.normalize_gender('m')")
	for _, p := range probes {
		t.Run("reporting login is refused: "+p, func(t *testing.T) {
			withConn(t, &fixture{db: db}, func(ctx context.Context, conn *pgx.Conn) {
				tx := asCaller(t, ctx, conn, nil, &reporting)
				defer func() { _ = tx.Rollback(ctx) }()
				_, err := tx.Exec(ctx, p)
				if code := pgtest.PgError(err).Code; code != "42501" {
					t.Fatalf("%v, want 42501", err)
				}
			})
		})
	}
	t.Run("reporting login cannot set role healthcare_reporter", func(t *testing.T) {
		withConn(t, &fixture{db: db}, func(ctx context.Context, conn *pgx.Conn) {
			tx := asCaller(t, ctx, conn, nil, &reporting)
			defer func() { _ = tx.Rollback(ctx) }()
			_, err := tx.Exec(ctx, "set role healthcare_reporter")
			if code := pgtest.PgError(err).Code; code != "42501" {
				t.Fatalf("%v, want 42501", err)
			}
		})
	})
}

// identifying matches a column that could hold a name, a username or an
// e-mail address, or secrets.
var identifying = regexp.MustCompile(`(?i)name|mail|user|password|hash|jti|token`)

// TestReportingExposesNoIdentifiers checks by catalog what the views show and
// what they read, and that their owner's way to all rows opens nothing else.
func TestReportingExposesNoIdentifiers(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	db.EnsureLogin(t, loginReporting, "healthcare_reporting")
	cols := queryStrings(t, db, `
		select c.relname, a.attname
		  from pg_catalog.pg_attribute a
		  join pg_catalog.pg_class c on c.oid = a.attrelid
		  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
		 where n.nspname = 'reporting' and a.attnum > 0 and not a.attisdropped`)
	if len(cols) == 0 {
		t.Fatal("no reporting view columns found")
	}
	for _, c := range cols {
		if identifying.MatchString(c[1]) {
			t.Errorf("reporting.%s exposes column %s", c[0], c[1])
		}
	}
	// Each view is a scan of a definer function owned by healthcare_reporter
	// (what it reads is bounded by the column grants below).
	deps := queryStrings(t, db, `
		select distinct v.relname, f.oid::regprocedure::text, pg_catalog.pg_get_userbyid(f.proowner)::text, f.prosecdef::text
		  from pg_catalog.pg_rewrite r
		  join pg_catalog.pg_class v on v.oid = r.ev_class
		  join pg_catalog.pg_namespace n on n.oid = v.relnamespace
		  join pg_catalog.pg_depend d on d.classid = 'pg_catalog.pg_rewrite'::regclass and d.objid = r.oid
		  join pg_catalog.pg_proc f on d.refclassid = 'pg_catalog.pg_proc'::regclass and f.oid = d.refobjid
		 where n.nspname = 'reporting'`)
	if len(deps) != len(reportingViews) {
		t.Fatalf("reporting views depend on %v, want one function each", deps)
	}
	for _, d := range deps {
		if d[2] != "healthcare_reporter" || d[3] != "true" {
			t.Errorf("reporting.%s reads %s owned by %s (definer %s), want a definer owned by healthcare_reporter", d[0], d[1], d[2], d[3])
		}
	}
	// healthcare_reporter reads exactly these columns, writes nothing but
	// the releases it computes from them (app.release_reports), and owns
	// nothing but the views.
	wantCols := []string{
		"app.doctors.id", "app.doctors.specialization",
		"app.patient_doctors.doctor_id", "app.patient_doctors.patient_id", "app.patient_doctors.record_key",
		"app.patients.age", "app.patients.gender_fhir", "app.patients.id", "app.patients.owner_id", "app.patients.record_key",
		"app.reporting_releases.id", "app.reporting_releases.mappings_per_doctor", "app.reporting_releases.patients_by_age_band",
		"app.reporting_releases.patients_per_specialization", "app.reporting_releases.released_at",
		"app.reporting_settings.min_cell", "app.reporting_settings.release_interval", "app.reporting_settings.singleton",
	}
	var readable []string
	for _, r := range queryStrings(t, db, `
		select c.oid::regclass::text || '.' || a.attname
		  from pg_catalog.pg_class c
		  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
		  join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
		 where n.nspname = 'app' and c.relkind in ('r', 'p')
		   and pg_catalog.has_column_privilege('healthcare_reporter', c.oid, a.attnum, 'SELECT')
		 order by 1`) {
		readable = append(readable, r[0])
	}
	if !slices.Equal(readable, wantCols) {
		t.Errorf("healthcare_reporter can read %v, want exactly %v", readable, wantCols)
	}
	for _, r := range queryStrings(t, db, `
		select c.oid::regclass::text || ' ' || p.priv
		  from pg_catalog.pg_class c
		  join pg_catalog.pg_namespace n on n.oid = c.relnamespace,
		       unnest(array['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p(priv)
		 where n.nspname = 'app' and c.relkind in ('r', 'p')
		   and pg_catalog.has_table_privilege('healthcare_reporter', c.oid, p.priv)
		   and (c.oid, p.priv) <> ('app.reporting_releases'::regclass, 'INSERT')`) {
		t.Errorf("healthcare_reporter has %s", r[0])
	}
	for _, r := range queryStrings(t, db, `
		select polname || ' on ' || polrelid::regclass::text || ' for ' || polcmd::text
		  from pg_catalog.pg_policy
		 where 'healthcare_reporter'::regrole = any (polroles) and polcmd <> 'r'
		   and (polrelid, polcmd) <> ('app.reporting_releases'::regclass, 'a')`) {
		t.Errorf("healthcare_reporter policy %s is not select-only", r[0])
	}
	// The reporting group: select on the views, nothing in app or api.
	for _, v := range reportingViews {
		for _, priv := range []string{"SELECT", "INSERT", "UPDATE", "DELETE"} {
			var has bool
			if err := db.Pool.QueryRow(context.Background(), "select pg_catalog.has_table_privilege('healthcare_reporting', $1, $2)", v, priv).Scan(&has); err != nil {
				t.Fatal(err)
			}
			if has != (priv == "SELECT") {
				t.Errorf("healthcare_reporting %s on %s: %v", priv, v, has)
			}
		}
	}
	for _, s := range []string{"app", "api"} {
		for _, role := range []string{"healthcare_reporting", loginReporting} {
			var has bool
			if err := db.Pool.QueryRow(context.Background(), "select pg_catalog.has_schema_privilege($1, $2, 'USAGE')", role, s).Scan(&has); err != nil {
				t.Fatal(err)
			}
			if has {
				t.Errorf("%s has usage on schema %s", role, s)
			}
		}
	}
}

// TestPlainFunctionsNameTheirRelations: a function that is not a security
// definer and pins no search_path runs under its caller's path, where a
// psql login's temporary table would be found before a table named without
// its schema. Such functions carry no settings because a SET clause costs
// every call a setting saved and restored; in return, each names every
// table and view it reads or writes with its schema.
func TestPlainFunctionsNameTheirRelations(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	rows := queryStrings(t, db, `
		select p.oid::regprocedure::text, p.prosrc
		  from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
		 where n.nspname = any ($1) and not p.prosecdef
		   and not coalesce(p.proconfig::text, '') like '%search_path%'
		 order by 1`, ourSchemas)
	if len(rows) < 5 {
		t.Fatalf("found only %d plain functions; the query no longer matches", len(rows))
	}
	// A relation after from, join, update, insert into or delete from,
	// without a schema: not followed by a dot or an opening parenthesis
	// (a set-returning function).
	relRe := regexp.MustCompile(`(?i)\b(from|join|update|insert\s+into|delete\s+from)\s+([a-z_][a-z0-9_]*)\b\s*([.(]?)`)
	strRe := regexp.MustCompile(`'(?:[^']|'')*'|--[^\n]*`)
	distinctFromRe := regexp.MustCompile(`(?i)\bis\s+(not\s+)?distinct\s+from\b`)
	for _, r := range rows {
		fn, src := r[0], strRe.ReplaceAllString(r[1], "''")
		src = distinctFromRe.ReplaceAllString(src, "is distinct")
		for _, m := range relRe.FindAllStringSubmatch(src, -1) {
			name := strings.ToLower(m[2])
			if m[3] != "" || name == "lateral" || name == "only" {
				continue
			}
			t.Errorf("%s names relation %q without its schema and pins no search_path", fn, name)
		}
	}
}

// TestStatisticsAreClosedToLogins: a reporting or psql login reads no
// exact count from the statistics views or the functions under them
// (finding: the totals behind suppressed cells, and an existence oracle
// from the rows a refused read fetched), creates no large object, and
// cannot lift the database's temp_file_limit.
func TestStatisticsAreClosedToLogins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	// As migrate does; a database cloned from the migrated template has its
	// privileges but not its settings (temp_file_limit).
	if closed, err := dbadmin.CloseStatistics(ctx, db.Pool); err != nil || !closed {
		t.Fatalf("close statistics as a superuser: %t, %v", closed, err)
	}
	for _, c := range []struct{ login, group string }{
		{loginReporting, "healthcare_reporting"}, {loginPsqlA, "healthcare_user"},
	} {
		conn, err := pgx.Connect(ctx, db.EnsureLogin(t, c.login, c.group))
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			"select sum(n_live_tup) from pg_stat_user_tables",
			"select count(*) from pg_stat_xact_user_tables",
			"select pg_stat_get_live_tuples('app.patients'::regclass)",
			"select pg_stat_get_xact_tuples_fetched('app.patients'::regclass)",
			"select sum(tup_inserted) from pg_stat_database",
			"select lo_create(0)",
			"set temp_file_limit = -1",
		} {
			if _, err := conn.Exec(ctx, q); err == nil || pgtest.PgError(err).Code != "42501" {
				t.Errorf("%s: %s: %v, want permission denied", c.login, q, err)
			}
		}
		var limit string
		if err := conn.QueryRow(ctx, "show temp_file_limit").Scan(&limit); err != nil || limit != "1GB" {
			t.Errorf("%s: temp_file_limit %q (%v), want 1GB", c.login, limit, err)
		}
		// What stays: one's own sessions in pg_stat_activity.
		var n int
		if err := conn.QueryRow(ctx, "select count(*) from pg_stat_activity where pid = pg_backend_pid()").Scan(&n); err != nil || n != 1 {
			t.Errorf("%s: pg_stat_activity: %d, %v", c.login, n, err)
		}
		_ = conn.Close(ctx)
	}
}
