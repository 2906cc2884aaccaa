package sql_test

// Every runtime grant is intended: sql/runtime_grants.txt names each
// schema, relation, column and function each runtime role (and PUBLIC) may
// use in our schemas, and the database must grant exactly that.

import (
	"os"
	"slices"
	"strings"
	"testing"

	"healthcare/internal/pgtest"
)

const grantsFile = "runtime_grants.txt"

// The roles a login can hold, and PUBLIC, which every login holds.
var grantees = []string{"public", "healthcare_api", "healthcare_user", "healthcare_reporting", "healthcare_auditor", "healthcare_refusal_writer"}

// runtimeGrants lists, one per line, what each grantee may do in our
// schemas and public, as "role privilege object". has_*_privilege counts
// what a role holds through PUBLIC and its own memberships.
func runtimeGrants(t *testing.T, db *pgtest.DB) []string {
	t.Helper()
	rows := queryStrings(t, db, `
		with r(role) as (select unnest($1::text[])),
		     s as (select oid, nspname from pg_namespace where nspname = any($2) or nspname = 'public')
		select r.role || ' ' || p.priv || ' schema ' || s.nspname
		  from r, s, unnest(array['USAGE', 'CREATE']) p(priv)
		 where pg_catalog.has_schema_privilege(r.role, s.oid, p.priv)
		union all
		select r.role || ' ' || p.priv || ' ' || c.oid::regclass::text
		  from r, s join pg_class c on c.relnamespace = s.oid,
		       unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p(priv)
		 where c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
		   and pg_catalog.has_table_privilege(r.role, c.oid, p.priv)
		union all
		select r.role || ' ' || p.priv || ' ' || c.oid::regclass::text || '(' || a.attname || ')'
		  from r, s join pg_class c on c.relnamespace = s.oid
		       join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped,
		       unnest(array['SELECT', 'INSERT', 'UPDATE', 'REFERENCES']) p(priv)
		 where c.relkind in ('r', 'p', 'v', 'm', 'f')
		   and not pg_catalog.has_table_privilege(r.role, c.oid, p.priv)
		   and pg_catalog.has_column_privilege(r.role, c.oid, a.attnum, p.priv)
		union all
		select r.role || ' EXECUTE ' || f.oid::regprocedure::text
		  from r, s join pg_proc f on f.pronamespace = s.oid
		 where pg_catalog.has_function_privilege(r.role, f.oid, 'EXECUTE')
		order by 1`, grantees, ourSchemas)
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r[0]
	}
	return out
}

func TestRuntimeGrantsMatchAllowList(t *testing.T) {
	t.Parallel()
	got := runtimeGrants(t, pgtest.New(t))
	if *update {
		body := "# What each runtime role may use, checked by TestRuntimeGrantsMatchAllowList\n" +
			"# against a migrated database. A grant missing here fails the test: add it\n" +
			"# here on purpose, in the same change as the migration.\n" +
			"# role privilege object\n" + strings.Join(got, "\n") + "\n"
		if err := os.WriteFile(grantsFile, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(grantsFile)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			want = append(want, l)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			t.Errorf("granted but not in %s: %s", grantsFile, g)
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("in %s but not granted: %s", grantsFile, w)
		}
	}
	// The leftovers of the old login: nobody at run time reads a hash or
	// starts a token family except through the throttled login.
	for _, g := range got {
		if strings.Contains(g, "app.user_credentials") || strings.Contains(g, "app.issue_refresh_token") {
			t.Errorf("runtime grant on a login internal: %s", g)
		}
	}
}
