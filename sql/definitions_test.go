package sql_test

// sql/definitions is the one home of every function, view, trigger, policy
// and grant: the database holds exactly what its files say, an upgrade
// ends where a fresh database does, and migrations only go forward.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"healthcare/internal/database"
	"healthcare/internal/dbadmin"
	"healthcare/internal/pgtest"
	healthcaresql "healthcare/sql"
)

// monthConstants are the functions audit.roll_current rewrites every month
// (the current partition's bounds): data, not definitions, so no file of
// sql/definitions holds them.
var monthConstants = []string{"audit.current_until", "audit.current_from"}

// definitionsSnapshot renders every definition of the product's schemas as
// PostgreSQL itself normalises it, with owners, grants and comments.
func definitionsSnapshot(t *testing.T, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) []string {
	t.Helper()
	rows, err := q.Query(context.Background(), `
		select 'function ' || p.oid::regprocedure::text || ' owner=' || pg_get_userbyid(p.proowner)
		       || ' acl=' || (select string_agg(x::text, ',' order by x::text) from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) x)
		       || ' comment=' || coalesce(obj_description(p.oid, 'pg_proc'), '')
		       || E'\n' || pg_get_functiondef(p.oid)
		  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
		 where n.nspname = any($1)
		union all
		select 'relation ' || c.oid::regclass::text || ' ' || c.relkind::text || ' owner=' || pg_get_userbyid(c.relowner)
		       || ' acl=' || (select string_agg(x::text, ',' order by x::text)
		                        from aclexplode(coalesce(c.relacl, acldefault(case c.relkind when 'S' then 's' else 'r' end::"char", c.relowner))) x)
		       || case when c.relkind = 'v' then ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '') || E'\n' || pg_get_viewdef(c.oid) else '' end
		  from pg_class c join pg_namespace n on n.oid = c.relnamespace
		 where n.nspname = any($1) and c.relkind in ('r', 'p', 'v', 'S') and not c.relispartition
		union all
		select 'column ' || a.attrelid::regclass::text || '.' || a.attname
		       || ' acl=' || (select string_agg(x::text, ',' order by x::text) from aclexplode(a.attacl) x)
		  from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
		 where n.nspname = any($1) and a.attacl is not null
		union all
		select 'policy ' || polrelid::regclass::text || '.' || polname || ' ' || polcmd::text || ' permissive=' || polpermissive::text
		       || ' to=' || polroles::regrole[]::text
		       || ' using=' || coalesce(pg_get_expr(polqual, polrelid), '')
		       || ' check=' || coalesce(pg_get_expr(polwithcheck, polrelid), '')
		       || ' comment=' || coalesce(obj_description(p.oid, 'pg_policy'), '')
		  from pg_policy p
		union all
		select 'trigger ' || pg_get_triggerdef(t.oid) || ' comment=' || coalesce(obj_description(t.oid, 'pg_trigger'), '')
		  from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
		 where n.nspname = any($1) and not t.tgisinternal and not c.relispartition
		order by 1`, ourSchemas)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// TestDefinitionsAreWhatTheFilesSay: inside a transaction that is rolled
// back, every policy, trigger and grant of the product's schemas is
// removed, sql/definitions is applied whole, and the result must be the
// database as migrated: a definition the files lack, a grant they do not
// make or a body that differs from its file all show as a difference.
func TestDefinitionsAreWhatTheFilesSay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	before := definitionsSnapshot(t, tx)
	if _, err := tx.Exec(ctx, strings.Replace(`
		do $$
		declare r record;
		begin
		  for r in select format('drop policy %I on %s', polname, polrelid::regclass) as s from pg_policy
		           union all
		           select format('drop trigger %I on %s', t.tgname, t.tgrelid::regclass)
		             from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
		            where n.nspname = any($1) and not t.tgisinternal and not c.relispartition
		           union all
		           select format('revoke all on function %s from public, %s', p.oid::regprocedure,
		                         (select string_agg(quote_ident(rolname), ', ') from pg_roles where rolname like 'healthcare%' and oid <> p.proowner))
		             from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = any($1)
		              and n.nspname || '.' || p.proname not in ('audit.current_until', 'audit.current_from')
		           union all
		           select format('revoke all on %s from public, %s', c.oid::regclass,
		                         (select string_agg(quote_ident(rolname), ', ') from pg_roles where rolname like 'healthcare%' and oid <> c.relowner))
		             from pg_class c join pg_namespace n on n.oid = c.relnamespace
		            where n.nspname = any($1) and c.relkind in ('r', 'p', 'v', 'S') and not c.relispartition
		  loop
		    execute r.s;
		  end loop;
		end
		$$`, "$1", "'{app,api,records,reporting,audit}'", -1)); err != nil {
		t.Fatalf("clear definitions: %v", err)
	}
	ran, err := database.ReapplyDefinitions(ctx, tx)
	if err != nil {
		t.Fatalf("apply sql/definitions: %v", err)
	}
	if ran < 100 {
		t.Fatalf("only %d blocks of sql/definitions ran; the file list no longer reaches them", ran)
	}
	// A function or view that no file defines was not rewritten by this
	// transaction.
	rows, err := tx.Query(ctx, `
		select 'function ' || p.oid::regprocedure::text
		  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
		 where n.nspname = any($1) and p.xmin::text::bigint <> pg_current_xact_id()::text::bigint % 4294967296
		   and n.nspname || '.' || p.proname <> all ($2)
		union all
		select 'view ' || c.oid::regclass::text
		  from pg_class c join pg_namespace n on n.oid = c.relnamespace join pg_rewrite r on r.ev_class = c.oid
		 where n.nspname = any($1) and c.relkind = 'v' and r.xmin::text::bigint <> pg_current_xact_id()::text::bigint % 4294967296`, ourSchemas, monthConstants)
	if err != nil {
		t.Fatal(err)
	}
	orphans, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range orphans {
		t.Errorf("%s is in the database but no file of sql/definitions defines it", o)
	}
	diffLines(t, "the database against sql/definitions", definitionsSnapshot(t, tx), before)
}

// TestEachFunctionHasOneHome: every function of the product's schemas is
// created in exactly one place of hand-written SQL, sql/definitions;
// migrations after the fold's history (016 on) create none.
func TestEachFunctionHasOneHome(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	createRe := regexp.MustCompile(`(?im)^\s*create\s+(or\s+replace\s+)?(function|view|policy|trigger)\s+([a-z0-9_."]+)`)
	homes := map[string][]string{}
	err := fs.WalkDir(healthcaresql.Definitions, "definitions", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(healthcaresql.Definitions, path)
		if err != nil {
			return err
		}
		for _, m := range createRe.FindAllStringSubmatch(string(b), -1) {
			if strings.ToLower(m[2]) == "function" {
				homes[strings.ToLower(m[3])] = append(homes[strings.ToLower(m[3])], path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = fs.WalkDir(healthcaresql.Migrations, "migrations", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.TrimPrefix(path, "migrations/") < "016" {
			return err
		}
		b, err := fs.ReadFile(healthcaresql.Migrations, path)
		if err != nil {
			return err
		}
		for _, m := range createRe.FindAllStringSubmatch(string(b), -1) {
			t.Errorf("%s creates %s %s: definitions live in sql/definitions, migrations only drop the ones create or replace cannot change", path, m[2], m[3])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range queryStrings(t, db, `
		select n.nspname || '.' || p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
		 where n.nspname = any($1) order by 1`, ourSchemas) {
		if slices.Contains(monthConstants, r[0]) {
			if files := homes[r[0]]; len(files) != 0 {
				t.Errorf("%s is rewritten by audit.roll_current every month; a file (%v) would set it back", r[0], files)
			}
			continue
		}
		if files := homes[r[0]]; len(files) != 1 {
			t.Errorf("function %s is created in %d places of sql/definitions (%v), want 1", r[0], len(files), files)
		}
	}
	if len(homes) < 80 {
		t.Fatalf("found %d functions in sql/definitions; the pattern no longer matches the files", len(homes))
	}
}

// freshDatabase creates an empty database on db's cluster for one test.
func freshDatabase(t *testing.T, db *pgtest.DB, prefix string) (name string, conn *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name = prefix + hex.EncodeToString(b)
	if _, err := db.Pool.Exec(ctx, "create database "+name+" template template0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = db.Pool.Exec(context.Background(), "drop database if exists "+name+" with (force)") })
	return name, connect(t, db, name)
}

// TestUpgradesEndWhereAFreshDatabaseDoes: a database left at 015 (the last
// release before sql/definitions) or at 008 (the fold) and then migrated up
// dumps exactly as the freshly migrated template does, owners and grants
// included; only the monthly audit partitions, which depend on the day,
// are left out of both.
func TestUpgradesEndWhereAFreshDatabaseDoes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	fresh := dumpSchema(t, db)
	hashes := func(conn *pgx.Conn) string {
		var s string
		if err := conn.QueryRow(ctx, "select string_agg(hash, ',' order by hash) from "+database.DefinitionsTable).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, from := range []int32{15, 8} {
		name, conn := freshDatabase(t, db, "sqltest_upgrade_")
		if err := database.MigrateTo(ctx, conn, from); err != nil {
			t.Fatalf("migrate to %d: %v", from, err)
		}
		if err := dbadmin.Migrate(ctx, conn, -1); err != nil {
			t.Fatalf("migrate up from %d: %v", from, err)
		}
		upgraded := dumpDatabase(t, db, db.SuperURLFor(name))
		if string(upgraded) != string(fresh) {
			diffLines(t, fmt.Sprintf("upgraded from %03d", from), strings.Split(string(upgraded), "\n"), strings.Split(string(fresh), "\n"))
		}
		if got, want := hashes(conn), hashes(connect(t, db, "")); got != want {
			t.Errorf("upgraded from %d: %s records other definitions than a fresh database", from, database.DefinitionsTable)
		}
	}
}

// TestMigrationsOnlyGoForward: a target below the applied version is
// refused with the way back (a backup) named, and changes nothing.
func TestMigrationsOnlyGoForward(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	conn := connect(t, db, "")
	before := schemaSnapshot(t, conn)
	err := database.MigrateTo(ctx, conn, 8)
	if !errors.Is(err, database.ErrDowngrade) || !strings.Contains(err.Error(), "deploy/ha/backup") {
		t.Fatalf("migrate to 8 from the latest: %v, want ErrDowngrade naming the backup", err)
	}
	diffLines(t, "after a refused downgrade", schemaSnapshot(t, conn), before)
}

// TestAnUnchangedDeployTakesNoLocks: migrating an up-to-date database runs
// no definition, so it finishes while another session holds every product
// table exclusively; a definition whose record is gone is applied again.
func TestAnUnchangedDeployTakesNoLocks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	holder, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Rollback(ctx) }()
	if _, err := holder.Exec(ctx, "lock table app.users, app.patients, app.doctors, app.patient_doctors, audit.events in access exclusive mode"); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, db, "")
	start := time.Now()
	if err := database.Migrate(ctx, conn); err != nil {
		t.Fatalf("migrate of an up-to-date database while the tables are locked: %v", err)
	}
	t.Logf("up-to-date migrate took %v with the tables locked", time.Since(start).Round(time.Millisecond))
	_ = holder.Rollback(ctx)

	// Forget one definition: the next migrate runs it again, and only it.
	var forgotten string
	if err := conn.QueryRow(ctx, "delete from "+database.DefinitionsTable+" where hash = (select min(hash) from "+database.DefinitionsTable+") returning hash").Scan(&forgotten); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "update "+database.DefinitionsTable+" set applied_at = '2000-01-01'"); err != nil {
		t.Fatal(err)
	}
	if err := database.Migrate(ctx, conn); err != nil {
		t.Fatal(err)
	}
	var reapplied []string
	rows, err := conn.Query(ctx, "select hash from "+database.DefinitionsTable+" where applied_at > '2000-01-01'")
	if err != nil {
		t.Fatal(err)
	}
	if reapplied, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if len(reapplied) != 1 || reapplied[0] != forgotten {
		t.Fatalf("re-applied %v, want just the forgotten %s", reapplied, forgotten)
	}
}

// TestTextLimitsLiveInTheirDomains: a text limit is written once, in its
// domain. Widening the domain (in a transaction rolled back) moves what
// app.check_text accepts and the limit its RINVL message names, with no
// function changed.
func TestTextLimitsLiveInTheirDomains(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	check := func(q interface {
		Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	}, n int, domain, field string) error {
		_, err := q.Exec(ctx, "select app.check_text(repeat('x', $1), $2::regtype, $3)", n, domain, field)
		return err
	}
	for _, c := range []struct {
		domain, constraint, field string
		limit                     int
		check                     string
	}{
		{"app.patient_name", "patients_name_check", "name", 200, "value = btrim(value) and length(value) between 1 and 250"},
		{"app.doctor_name", "doctors_name_check", "name", 200, "value = btrim(value) and length(value) between 1 and 250"},
		{"app.doctor_specialization", "doctors_specialization_check", "specialization", 100, "value = btrim(value) and length(value) between 1 and 250"},
		{"app.patient_gender", "patients_gender_check", "gender", 100, "value = btrim(value) and length(value) <= 250"},
	} {
		t.Run(c.domain, func(t *testing.T) {
			if err := check(db.Pool, c.limit, c.domain, c.field); err != nil {
				t.Fatalf("%d characters refused: %v", c.limit, err)
			}
			e := pgtest.PgError(check(db.Pool, c.limit+1, c.domain, c.field))
			if e.Code != "RINVL" || e.ColumnName != c.field || !strings.Contains(e.Message, fmt.Sprint(c.limit)) {
				t.Fatalf("%d characters: %+v, want RINVL on %s naming %d", c.limit+1, e, c.field, c.limit)
			}
			tx, err := db.Pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback(ctx) }()
			if _, err := tx.Exec(ctx, fmt.Sprintf("alter domain %s drop constraint %s; alter domain %s add constraint %s check (%s)",
				c.domain, c.constraint, c.domain, c.constraint, c.check)); err != nil {
				t.Fatal(err)
			}
			if err := check(tx, 250, c.domain, c.field); err != nil {
				t.Fatalf("250 characters refused after widening %s: %v", c.domain, err)
			}
			if e := pgtest.PgError(check(tx, 251, c.domain, c.field)); e.Code != "RINVL" || !strings.Contains(e.Message, "250") {
				t.Fatalf("251 characters after widening: %+v, want RINVL naming 250", e)
			}
		})
	}
}

// Finding 9 of issue 24: any login can take tern's advisory lock, and it
// is session-level, so no idle timeout ends it. migrate then fails within
// its lock timeout, naming the session that holds it: pid, user,
// application_name, state and since when.
func TestMigrateBlockedByAnAdvisoryLockNamesTheSession(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	const login = "sqltest_migrate_blocker"
	cfg, err := pgx.ParseConfig(db.EnsureLogin(t, login, "healthcare_user"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = "held-by-psql"
	holder, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	if _, err := holder.Exec(ctx, "select pg_advisory_lock(9628173550095224)"); err != nil {
		t.Fatal(err)
	}
	pid := holder.PgConn().PID()

	conn := connect(t, db, "")
	start := time.Now()
	err = database.Migrate(ctx, conn)
	took := time.Since(start)
	if err == nil {
		t.Fatal("migrate succeeded while another session held its advisory lock")
	}
	for _, want := range []string{fmt.Sprintf("pid %d", pid), `user "` + login + `"`, `application_name "held-by-psql"`,
		"idle since", fmt.Sprintf("pg_terminate_backend(%d)", pid)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("migrate's error does not say %s: %v", want, err)
		}
	}
	if took > time.Minute {
		t.Errorf("migrate failed only after %v", took)
	}
	t.Logf("migrate failed after %v: %v", took.Round(time.Millisecond), err)
	// Reading the version (serve does at start, and `migrate status`)
	// takes no lock, so the held lock does not stop it.
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if current, latest, err := database.MigrationStatus(sctx, conn); err != nil || current != latest {
		t.Fatalf("migration status while the lock is held: %d of %d, %v", current, latest, err)
	}
	// Once the session lets go, migrate goes through.
	if _, err := holder.Exec(ctx, "select pg_advisory_unlock_all()"); err != nil {
		t.Fatal(err)
	}
	if err := database.Migrate(ctx, conn); err != nil {
		t.Fatalf("migrate after the lock was released: %v", err)
	}
}

// Servers of the previous release send api.begin_request six arguments;
// during a rolling upgrade they keep working against the eight-argument
// function (migration 020), and the new arguments set the lock timeout and
// the client's request id apart from the server's.
func TestPreviousReleasesIdentityStatementStillWorks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	pool := db.AppPool(t)
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `select api.begin_request($1::text, $2::text, $3::text, $4::uuid, $5::text, $6::text)`,
		"", "old-server-1", "5000", nil, "127.0.0.1", "on"); err != nil {
		t.Fatalf("the previous release's identity statement: %v", err)
	}
	var request string
	if err := tx.QueryRow(ctx, "select current_setting('app.request_id')").Scan(&request); err != nil || request != "old-server-1" {
		t.Fatalf("app.request_id = %q, %v", request, err)
	}
	_ = tx.Rollback(ctx)

	tx, err = pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, database.IdentitySQL, "", "server-1", "5000", nil, "127.0.0.1", "on", "1000", "client-1"); err != nil {
		t.Fatal(err)
	}
	var lock, server, client string
	if err := tx.QueryRow(ctx, "select current_setting('lock_timeout'), current_setting('app.request_id'), current_setting('app.client_request_id')").
		Scan(&lock, &server, &client); err != nil || lock != "1s" || server != "server-1" || client != "client-1" {
		t.Fatalf("lock_timeout %q, request id %q, client request id %q (%v)", lock, server, client, err)
	}
}

// TestAPsqlLoginCannotMarkItsWritesAsFHIR: the FHIR door's mark on change
// events comes from app.via only at the REST door; a psql login that sets
// it itself writes events without it.
func TestAPsqlLoginCannotMarkItsWritesAsFHIR(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
		tx := asCaller(t, ctx, conn, f, &psqlA)
		defer func() { _ = tx.Rollback(ctx) }()
		if _, err := tx.Exec(ctx, "select set_config('app.via', 'fhir', true)"); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "select api.update_patient($1, null, 44, null)", f.patientA); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	})
	var via *string
	if err := f.db.Pool.QueryRow(context.Background(), `select detail->>'via' from audit.events
		where action = 'update' and patient_id = $1 order by id desc limit 1`, f.patientA).Scan(&via); err != nil {
		t.Fatal(err)
	}
	if via != nil {
		t.Fatalf("a psql login's own update is recorded as via %q", *via)
	}
}
