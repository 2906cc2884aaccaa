package sql_test

// The migrations as a whole: idempotent across runs and databases of one
// cluster (roles are cluster-wide), and the constraints they
// declare fail with the SQLSTATEs the REST layer maps to HTTP statuses.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/database"
	"healthcare/internal/pgtest"
)

func connect(t *testing.T, db *pgtest.DB, dbname string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(db.SuperURL)
	if err != nil {
		t.Fatal(err)
	}
	if dbname != "" {
		cfg.Database = dbname
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect to %s: %v", cfg.Database, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// schemaSnapshot renders everything the migrations define and that matters
// for security (objects, owners, RLS flags, ACLs, policies, function
// settings) as sorted lines, so two databases can be compared.
func schemaSnapshot(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `
		select 'rel ' || c.oid::regclass::text || ' ' || c.relkind::text || ' owner=' || pg_get_userbyid(c.relowner)
		       || ' rls=' || c.relrowsecurity::text || '/' || c.relforcerowsecurity::text
		       || ' acl=' || coalesce(c.relacl::text, '')
		  from pg_class c join pg_namespace n on n.oid = c.relnamespace
		 where n.nspname in ('app', 'api', 'reporting')
		union all
		select 'col ' || a.attrelid::regclass::text || '.' || a.attname || ' acl=' || a.attacl::text
		  from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
		 where n.nspname = 'app' and a.attacl is not null
		union all
		select 'fn ' || p.oid::regprocedure::text || ' owner=' || pg_get_userbyid(p.proowner)
		       || ' definer=' || p.prosecdef::text || ' config=' || coalesce(p.proconfig::text, '')
		       || ' acl=' || coalesce(p.proacl::text, '')
		  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
		 where n.nspname in ('app', 'api', 'reporting')
		union all
		select 'policy ' || polrelid::regclass::text || ' ' || polname || ' ' || polcmd::text
		       || ' to=' || polroles::regrole[]::text
		       || ' using=' || coalesce(pg_get_expr(polqual, polrelid), '')
		       || ' check=' || coalesce(pg_get_expr(polwithcheck, polrelid), '')
		  from pg_policy
		union all
		select 'schema ' || nspname || ' owner=' || pg_get_userbyid(nspowner) || ' acl=' || coalesce(nspacl::text, '')
		  from pg_namespace where nspname in ('app', 'api', 'reporting')
		order by 1`)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

func migrationVersion(t *testing.T, conn *pgx.Conn) int32 {
	t.Helper()
	var v int32
	if err := conn.QueryRow(context.Background(), "select version from "+database.VersionTable).Scan(&v); err != nil {
		t.Fatalf("read %s: %v", database.VersionTable, err)
	}
	return v
}

func diffLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") == strings.Join(want, "\n") {
		return
	}
	have := map[string]bool{}
	for _, l := range got {
		have[l] = true
	}
	had := map[string]bool{}
	for _, l := range want {
		had[l] = true
	}
	for _, l := range want {
		if !have[l] {
			t.Errorf("%s: missing %s", what, l)
		}
	}
	for _, l := range got {
		if !had[l] {
			t.Errorf("%s: unexpected %s", what, l)
		}
	}
	t.Fatalf("%s: schema differs (%d lines, want %d)", what, len(got), len(want))
}

func TestMigrateTwiceAndOnASecondDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	latest, err := database.LatestVersion()
	if err != nil || latest < 6 {
		t.Fatalf("latest embedded version %d, %v", latest, err)
	}

	t.Run("migrating an up-to-date database again is a no-op", func(t *testing.T) {
		conn := connect(t, db, "")
		before := schemaSnapshot(t, conn)
		if err := database.Migrate(ctx, conn); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		if v := migrationVersion(t, conn); v != latest {
			t.Fatalf("version %d, want %d", v, latest)
		}
		diffLines(t, "after a second migrate", schemaSnapshot(t, conn), before)
	})

	t.Run("a fresh database on a cluster that already has the roles migrates twice", func(t *testing.T) {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		name := "sqltest_fresh_" + hex.EncodeToString(b)
		// Not from the template: every migration runs from empty, and
		// 001 meets the roles the template's migration already created.
		if _, err := db.Pool.Exec(ctx, "create database "+name+" template template0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if _, err := db.Pool.Exec(context.Background(), "drop database if exists "+name+" with (force)"); err != nil {
				t.Errorf("drop %s: %v", name, err)
			}
		})
		conn := connect(t, db, name)
		for i := 1; i <= 2; i++ {
			if err := database.Migrate(ctx, conn); err != nil {
				t.Fatalf("migrate #%d of a fresh database: %v", i, err)
			}
		}
		if v := migrationVersion(t, conn); v != latest {
			t.Fatalf("version %d, want %d", v, latest)
		}
		// The same schema as the test template the tests run against.
		diffLines(t, "fresh database vs template", schemaSnapshot(t, conn), schemaSnapshot(t, connect(t, db, "")))
	})
}

// TestConstraintViolationsCarrySQLState: the database rejects invalid data
// itself, with the SQLSTATE (and constraint) internal/httpapi maps, through
// plain SQL; the api functions raise the custom class-R codes with COLUMN
// naming the field where one is at fault.
func TestConstraintViolationsCarrySQLState(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := strings.NewReplacer("{A}", id(f.userA), "{pA}", id(f.patientA), "{dA}", id(f.doctorA), "{dB}", id(f.doctorB), "{hash}", pgtest.FakeHash)
	plain := []struct {
		name, sql, code, constraint string
	}{
		{"a second mapping of the same pair is a unique violation", "insert into app.patient_doctors (patient_id, doctor_id) values ({pA}, {dA})", "23505", "patient_doctors_patient_id_doctor_id_key"},
		{"a username differing only in case is a unique violation", "insert into app.users (username, password_hash) values ('ALICE', '{hash}')", "23505", "users_username_lower_idx"},
		{"a mapping to a doctor that does not exist is a foreign key violation", "insert into app.patient_doctors (patient_id, doctor_id) values ({pA}, -1)", "23503", "patient_doctors_doctor_id_fkey"},
		{"a patient of an owner that does not exist is a foreign key violation", "insert into app.patients (owner_id, name, age) values (-1, 'Orphan', 40)", "23503", "patients_owner_id_fkey"},
		{"age 151 is a check violation", "insert into app.patients (owner_id, name, age) values ({A}, 'Old', 151)", "23514", "patients_age_check"},
		{"age -1 is a check violation", "insert into app.patients (owner_id, name, age) values ({A}, 'Unborn', -1)", "23514", "patients_age_check"},
		{"a blank name is a check violation", "insert into app.patients (owner_id, name, age) values ({A}, '', 40)", "23514", "patients_name_check"},
		{"an untrimmed name is a check violation", "insert into app.patients (owner_id, name, age) values ({A}, ' Ann ', 40)", "23514", "patients_name_check"},
		{"a 201-character name is a check violation", "insert into app.patients (owner_id, name, age) values ({A}, repeat('x', 201), 40)", "23514", "patients_name_check"},
		{"an untrimmed gender is a check violation", "insert into app.patients (owner_id, name, age, gender) values ({A}, 'Ann', 40, ' Male')", "23514", "patients_gender_check"},
		{"a 101-character gender is a check violation", "insert into app.patients (owner_id, name, age, gender) values ({A}, 'Ann', 40, repeat('x', 101))", "23514", "patients_gender_check"},
		{"the derived gender cannot be written", "insert into app.patients (owner_id, name, age, gender_fhir) values ({A}, 'Ann', 40, 'male')", "428C9", ""},
		{"a missing name is a not-null violation", "insert into app.patients (owner_id, name, age) values ({A}, null, 40)", "23502", ""},
		{"a blank specialization is a check violation", "insert into app.doctors (name, specialization) values ('Dr X', '')", "23514", "doctors_specialization_check"},
		{"an invalid e-mail is a check violation", "insert into app.users (username, email, password_hash) values ('carol', 'no-at-sign', '{hash}')", "23514", "users_email_check"},
		{"a plaintext password is a check violation", "insert into app.users (username, password_hash) values ('dave', 'hunter2')", "23514", "users_password_hash_check"},
	}
	for _, c := range plain {
		t.Run("as superuser, "+c.name, func(t *testing.T) {
			withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
				tx, err := conn.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = tx.Rollback(ctx) }()
				_, err = tx.Exec(ctx, r.Replace(c.sql))
				assertPgError(t, err, c.code, c.constraint)
			})
		})
	}
	// The psql door meets the same constraints (after its policies pass),
	// inside the definers it goes through.
	for _, c := range []struct{ name, sql, code, constraint string }{
		{"age 151 is a check violation", "insert into app.patients (name, age) values ('Old', 151)", "23514", "patients_age_check"},
		{"a blank name is a check violation", "insert into app.patients (name, age) values ('', 40)", "23514", "patients_name_check"},
		{"a second mapping of the same pair is a unique violation", "insert into app.patient_doctors (patient_id, doctor_id) values ({pA}, {dA})", "23505", "patient_doctors_patient_id_doctor_id_key"},
		{"a mapping to a doctor that does not exist is a foreign key violation", "insert into app.patient_doctors (patient_id, doctor_id) values ({pA}, -1)", "23503", "patient_doctors_doctor_id_fkey"},
	} {
		t.Run("as psql login of A, "+c.name, func(t *testing.T) {
			withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
				tx := asCaller(t, ctx, conn, f, &psqlA)
				defer func() { _ = tx.Rollback(ctx) }()
				_, _, err := execAs(ctx, tx, &psqlA, r.Replace(c.sql))
				assertPgError(t, err, c.code, c.constraint)
			})
		})
	}

	custom := []struct {
		name   string
		c      *caller
		sql    string
		code   string
		column string
	}{
		{"age 151 is RINVL on age", &apiA, "select api.create_patient('Ann', 151, 'f')", "RINVL", "age"},
		{"a blank name is RINVL on name", &apiA, "select api.create_patient('   ', 30, 'f')", "RINVL", "name"},
		{"a 201-character name is RINVL on name", &apiA, "select api.create_patient(repeat('x', 201), 30, 'f')", "RINVL", "name"},
		{"a 101-character gender is RINVL on gender", &apiA, "select api.create_patient('Ann', 30, repeat('x', 101))", "RINVL", "gender"},
		{"updating age to -1 is RINVL on age", &apiA, "select api.update_patient({pA}, null, -1, null)", "RINVL", "age"},
		{"limit 0 is RINVL on limit", &apiA, "select api.list_patients(0, 0)", "RINVL", "limit"},
		{"a negative offset is RINVL on offset", &apiA, "select api.list_doctors(null, null, 10, -1)", "RINVL", "offset"},
		{"a blank specialization is RINVL on specialization", &apiA, "select api.create_doctor('Dr X', ' ')", "RINVL", "specialization"},
		{"an invalid username is RINVL on username", &anonymous, "select api.register('bad name!', '', '{hash}')", "RINVL", "username"},
		{"an invalid e-mail is RINVL on email", &anonymous, "select api.register('carol', 'no-at-sign', '{hash}')", "RINVL", "email"},
		{"a taken username in another case is RCNFL on username", &anonymous, "select api.register('ALICE', '', '{hash}')", "RCNFL", "username"},
		{"a duplicate mapping is RCNFL on doctor", &apiA, "select api.create_mapping({pA}, {dA})", "RCNFL", "doctor"},
		{"mapping to a missing doctor is RNTFD on doctor", &apiA, "select api.create_mapping({pA}, -1)", "RNTFD", "doctor"},
		{"mapping a missing patient is RNTFD on patient", &apiA, "select api.create_mapping(-1, {dA})", "RNTFD", "patient"},
		{"a missing patient is RNTFD", &apiA, "select api.get_patient(-1)", "RNTFD", ""},
		{"a missing mapping is RNTFD", &apiA, "select api.delete_mapping(-1)", "RNTFD", ""},
		{"changing another user's doctor is RFRBD", &apiB, "select api.update_doctor({dA}, 'Dr Stolen', null)", "RFRBD", ""},
		{"an anonymous create is RUNAU", &anonymous, "select api.create_patient('Ann', 30, 'f')", "RUNAU", ""},
	}
	for _, c := range custom {
		t.Run(c.c.desc+": "+c.name, func(t *testing.T) {
			withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
				tx := asCaller(t, ctx, conn, f, c.c)
				defer func() { _ = tx.Rollback(ctx) }()
				var body []byte
				err := tx.QueryRow(ctx, r.Replace(c.sql)).Scan(&body)
				pgErr := pgtest.PgError(err)
				code, column := pgErr.Code, pgErr.ColumnName
				if err == nil {
					code, column = refusal(t, body)
				}
				if code != c.code || column != c.column {
					t.Fatalf("%v: SQLSTATE %q column %q, want %q column %q", err, code, column, c.code, c.column)
				}
			})
		})
	}
}

func assertPgError(t *testing.T, err error, code, constraint string) {
	t.Helper()
	if c := pgtest.PgError(err).Code; c != code {
		t.Fatalf("%v: SQLSTATE %q, want %q", err, c, code)
	}
	if got := pgtest.PgError(err).ConstraintName; got != constraint {
		t.Fatalf("%v: constraint %q, want %q", err, got, constraint)
	}
}
