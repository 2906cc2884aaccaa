package djangoimport_test

import (
	"context"
	stdpbkdf2 "crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
	"golang.org/x/crypto/argon2"

	"healthcare/internal/apitest"
	"healthcare/internal/auth"
	"healthcare/internal/database"
	"healthcare/internal/djangoimport"
	"healthcare/internal/httpapi"
	"healthcare/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// djangoSchema is the Django system's tables as Django's migrations create
// them in PostgreSQL (auth and contenttypes of Django 3.2-5.x, and the
// app's models: Patient, Doctor, PatientDoctor), for app label %[1]s.
const djangoSchema = `
create table if not exists django_content_type (
  id serial primary key, app_label varchar(100) not null, model varchar(100) not null,
  constraint django_content_type_app_label_model_76bd3d3b_uniq unique (app_label, model));
create table if not exists auth_user (
  id serial primary key, password varchar(128) not null, last_login timestamptz null,
  is_superuser boolean not null, username varchar(150) not null unique,
  first_name varchar(150) not null default '', last_name varchar(150) not null default '',
  email varchar(254) not null, is_staff boolean not null, is_active boolean not null,
  date_joined timestamptz not null);
create table %[1]s_doctor (id bigserial primary key, name varchar(255) not null, specialization varchar(255) not null);
create table %[1]s_patient (
  id bigserial primary key, name varchar(255) not null, age integer not null check (age >= 0),
  gender varchar(20) not null,
  user_id integer not null references auth_user (id) deferrable initially deferred);
create table %[1]s_patientdoctor (
  id bigserial primary key,
  patient_id bigint not null references %[1]s_patient (id) deferrable initially deferred,
  doctor_id bigint not null references %[1]s_doctor (id) deferrable initially deferred);
insert into django_content_type (app_label, model) values
  ('auth', 'user'), ('%[1]s', 'patient'), ('%[1]s', 'doctor'), ('%[1]s', 'patientdoctor') on conflict do nothing;
`

// django is a Django-shaped database of one test.
type django struct {
	URL  string
	Pool *pgx.Conn
}

// newDjango creates an empty database beside tdb with the Django tables of
// the given apps (none: only the tables, no app).
func newDjango(t *testing.T, tdb *pgtest.DB, apps ...string) *django {
	t.Helper()
	ctx := context.Background()
	name := tdb.Name + "_django"
	if _, err := tdb.Pool.Exec(ctx, "create database "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = tdb.Pool.Exec(context.Background(), "drop database if exists "+pgx.Identifier{name}.Sanitize()+" with (force)")
	})
	d := &django{URL: tdb.SuperURLFor(name)}
	conn, err := pgx.Connect(ctx, d.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	d.Pool = conn
	for _, app := range apps {
		d.exec(t, fmt.Sprintf(djangoSchema, app))
	}
	return d
}

func (d *django) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := d.Pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// pbkdf2SHA256 is Django's PBKDF2PasswordHasher.encode, computed with the
// standard library's PBKDF2.
func pbkdf2SHA256(t *testing.T, password string, iterations int) string {
	salt := randomSalt()
	key, err := stdpbkdf2.Key(sha256.New, password, []byte(salt), iterations, 32)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("pbkdf2_sha256$%d$%s$%s", iterations, salt, base64.StdEncoding.EncodeToString(key))
}

// djangoArgon2 is Django's Argon2PasswordHasher.encode: "argon2" and
// argon2-cffi's PHC string (argon2id over the salt's bytes; Django 3.2's
// 16-byte key, lighter memory than its 100 MiB to keep the test quick).
func djangoArgon2(password string) string {
	salt := randomSalt()
	key := argon2.IDKey([]byte(password), []byte(salt), 2, 512, 2, 16)
	return fmt.Sprintf("argon2$argon2id$v=19$m=512,t=2,p=2$%s$%s",
		base64.RawStdEncoding.EncodeToString([]byte(salt)), base64.RawStdEncoding.EncodeToString(key))
}

// randomSalt is a salt as Django makes them: 22 letters and digits.
func randomSalt() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 22)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// password is a fresh password for one fixture user.
func password() string { return "pw-" + rand.Text() }

// clinic is the fixture's people and records, with the ids Django gave
// them (gaps where records were deleted).
type clinic struct {
	adminPW, ashaPW, bilalPW, chenPW string
}

// seedClinic fills the app's tables: an admin (superuser), asha
// (pbkdf2_sha256) with patients 3 and 17, bilal (Django argon2) with
// patient 18, chen (bcrypt_sha256: unusable), dora (unusable, inactive);
// doctors 2 and 9; mappings 4 (17-9), 11 (17-2), 12 (18-9).
func seedClinic(t *testing.T, d *django, app string) clinic {
	t.Helper()
	c := clinic{adminPW: password(), ashaPW: password(), bilalPW: password(), chenPW: password()}
	joined := time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC)
	d.exec(t, `insert into auth_user (id, password, is_superuser, username, email, is_staff, is_active, date_joined) values
	  (1, $1, true, 'clinic_admin', 'admin@clinic.example', true, true, $6),
	  (2, $2, false, 'asha', 'asha@example.com', false, true, $6 + interval '1 day'),
	  (4, $3, false, 'bilal', '', false, true, $6 + interval '2 days'),
	  (5, $4, false, 'chen', 'chen@example.com', false, true, $6 + interval '3 days'),
	  (6, $5, false, 'dora', 'dora@example.com', false, false, $6 + interval '4 days')`,
		pbkdf2SHA256(t, c.adminPW, 1000), pbkdf2SHA256(t, c.ashaPW, 260000), djangoArgon2(c.bilalPW),
		"bcrypt_sha256$$2b$12$"+strings.Repeat("x", 53), "!"+randomSalt(), joined)
	d.exec(t, fmt.Sprintf(`
	  insert into %[1]s_doctor (id, name, specialization) values (2, 'Dr. Rao', 'Cardiology'), (9, '  Dr. Iyer ', 'Dermatology');
	  insert into %[1]s_patient (id, name, age, gender, user_id) values
	    (3, 'Asha K', 34, 'F', 2), (17, 'Asha''s father', 71, 'male', 2), (18, 'Bilal A', 45, 'prefer not to say', 4);
	  insert into %[1]s_patientdoctor (id, patient_id, doctor_id) values (4, 17, 9), (11, 17, 2), (12, 18, 9);
	  select setval('%[1]s_patient_id_seq', 20), setval('auth_user_id_seq', 6);`, app))
	return c
}

// server serves tdb over REST on 127.0.0.1, as `serve` does.
func server(t *testing.T, tdb *pgtest.DB) *apitest.Client {
	t.Helper()
	db, err := database.Open(context.Background(), tdb.AppURL(), database.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	tokens, err := auth.NewTokens(auth.TokenOptions{Key: key, Issuer: "import-test", Audience: "import-test",
		AccessTTL: 5 * time.Minute, RefreshTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := auth.NewHasher(auth.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 2)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.NewServer(httpapi.Options{}, db, tokens, hasher, zerolog.Nop()))
	t.Cleanup(srv.Close)
	return apitest.New(t, srv.URL)
}

// importInto runs the import from d into tdb over connections of their
// own, as the command does.
func importInto(t *testing.T, tdb *pgtest.DB, d *django, opts djangoimport.Options) (djangoimport.Report, error) {
	t.Helper()
	return importAs(t, tdb.SuperURL, d, opts)
}

// importAs is importInto over the privileged connection targetURL.
func importAs(t *testing.T, targetURL string, d *django, opts djangoimport.Options) (djangoimport.Report, error) {
	t.Helper()
	ctx := context.Background()
	dst, err := pgx.Connect(ctx, targetURL)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close(ctx)
	src, err := pgx.Connect(ctx, d.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	return djangoimport.Import(ctx, dst, src, opts)
}

func count(t *testing.T, tdb *pgtest.DB, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := tdb.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// targetCounts is the rows of the four imported tables, the import
// records and the audit events.
func targetCounts(t *testing.T, tdb *pgtest.DB) string {
	t.Helper()
	var s string
	if err := tdb.Pool.QueryRow(context.Background(), `select format('users %s patients %s doctors %s mappings %s imports %s events %s',
	    (select count(*) from app.users), (select count(*) from app.patients), (select count(*) from app.doctors),
	    (select count(*) from app.patient_doctors), (select count(*) from app.imports), (select count(*) from audit.events))`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}
