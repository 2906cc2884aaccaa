package main

import (
	"bytes"
	"context"
	stdpbkdf2 "crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/apitest"
	"healthcare/internal/pgtest"
)

// TestImportDjangoAndUserCommands runs `import django` as an operator
// would (dry run, import, second run), logs in over REST with the old
// password, then gives the user whose password could not be carried over
// a new one and exercises deactivate/activate and grant-/revoke-admin,
// each an audit event.
func TestImportDjangoAndUserCommands(t *testing.T) {
	tdb := pgtest.New(t)
	ctx := context.Background()
	name := tdb.Name + "_django"
	if _, err := tdb.Pool.Exec(ctx, "create database "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = tdb.Pool.Exec(context.Background(), "drop database if exists "+pgx.Identifier{name}.Sanitize()+" with (force)")
	})
	djangoURL := tdb.SuperURLFor(name)
	src, err := pgx.Connect(ctx, djangoURL)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	oldPW := "old-" + rand.Text()
	salt := "s" + rand.Text()[:21]
	key, err := stdpbkdf2.Key(sha256.New, oldPW, []byte(salt), 5000, 32)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Exec(ctx, fmt.Sprintf(`
		create table auth_user (id serial primary key, password varchar(128) not null, last_login timestamptz,
		  is_superuser boolean not null, username varchar(150) not null unique, first_name varchar(150) not null default '',
		  last_name varchar(150) not null default '', email varchar(254) not null, is_staff boolean not null,
		  is_active boolean not null, date_joined timestamptz not null);
		create table core_doctor (id bigserial primary key, name varchar(100) not null, specialization varchar(100) not null);
		create table core_patient (id bigserial primary key, name varchar(100) not null, age integer not null,
		  gender varchar(10) not null, user_id integer not null references auth_user);
		create table core_patientdoctor (id bigserial primary key, patient_id bigint not null references core_patient,
		  doctor_id bigint not null references core_doctor);
		insert into auth_user (id, password, is_superuser, username, email, is_staff, is_active, date_joined) values
		  (3, '%s', false, 'asha', 'asha@example.com', false, true, now()),
		  (8, 'bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0', false, 'kim', '', false, true, now());
		insert into core_doctor (id, name, specialization) values (5, 'Dr. Rao', 'Cardiology');
		insert into core_patient (id, name, age, gender, user_id) values (17, 'Asha K', 34, 'F', 3);
		insert into core_patientdoctor (id, patient_id, doctor_id) values (21, 17, 5)`,
		fmt.Sprintf("pbkdf2_sha256$5000$%s$%s", salt, base64.StdEncoding.EncodeToString(key)))); err != nil {
		t.Fatal(err)
	}

	run := func(cmd func(context.Context, []string, func(string) string, io.Reader, io.Writer, io.Writer) error, stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		err := cmd(ctx, append(args, "--database-url", tdb.SuperURL), apitest.Env{}.Getenv, strings.NewReader(stdin), &out, io.Discard)
		return out.String(), err
	}
	out, err := run(runImport, "", "django", "--from", djangoURL, "--dry-run")
	if err != nil || !strings.Contains(out, "app.patients         would import 1 rows from core_patient (ids 17)") ||
		!strings.Contains(out, "auth_user id 8 kim: no login here verifies bcrypt_sha256") || !strings.Contains(out, "nothing was written") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	out, err = run(runImport, "", "django", "--from", djangoURL)
	if err != nil || !strings.Contains(out, "app.users            imported 2 rows from auth_user (ids 3, 8, 0 admins, 0 inactive)") ||
		!strings.Contains(out, "healthcare user set-password --user NAME --password-stdin") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	if _, err := run(runImport, "", "django", "--from", djangoURL); err == nil || !strings.Contains(err.Error(), "already holds an import") {
		t.Fatalf("second import: %v", err)
	}

	c := startServe(t, tdb)
	asha := c.Login("asha", oldPW)
	if p := c.Must("GET", "/api/patients/17/", asha.Access, nil, 200).JSON(t); p["name"] != "Asha K" {
		t.Fatalf("patient 17 = %v", p)
	}
	if m := c.Must("GET", "/api/mappings/21/", asha.Access, nil, 200).JSON(t); m["doctor"] != float64(5) {
		t.Fatalf("mapping 21 = %v", m)
	}
	var hash string
	if err := tdb.Pool.QueryRow(ctx, `select password_hash from app.users where id = 3`).Scan(&hash); err != nil || !strings.HasPrefix(hash, "$argon2id$v=19$m=7168,t=5,p=1$") {
		t.Fatalf("asha's hash after her login: %q, %v", hash, err)
	}

	// kim's password could not be carried over: an operator sets one.
	c.Must("POST", "/api/auth/login/", "", map[string]any{"username": "kim", "password": "anything at all"}, 401)
	if _, err := run(runUser, "short\n", "set-password", "--user", "kim", "--password-stdin"); err == nil || !strings.Contains(err.Error(), "at least 8") {
		t.Fatalf("a short password: %v", err)
	}
	newPW := "new-" + rand.Text()
	if out, err := run(runUser, newPW+"\n", "set-password", "--user", "KIM", "--password-stdin"); err != nil || !strings.Contains(out, "user kim (id 8) has a new password; 0 sessions ended") {
		t.Fatalf("set-password: %q, %v", out, err)
	}
	kim := c.Login("kim", newPW)

	// Deactivation ends asha's session at once; activation lets her back.
	if out, err := run(runUser, "", "deactivate", "--user", "asha"); err != nil || !strings.Contains(out, "is deactivated; 1 sessions ended") {
		t.Fatalf("deactivate: %q, %v", out, err)
	}
	c.Must("GET", "/api/patients/17/", asha.Access, nil, 401)
	c.Must("POST", "/api/auth/refresh/", "", map[string]any{"refresh": asha.Refresh}, 401)
	c.Must("POST", "/api/auth/login/", "", map[string]any{"username": "asha", "password": oldPW}, 401)
	if out, err := run(runUser, "", "deactivate", "--user", "asha"); err != nil || !strings.Contains(out, "already; nothing changed") {
		t.Fatalf("deactivate twice: %q, %v", out, err)
	}
	if _, err := run(runUser, "", "activate", "--user", "asha"); err != nil {
		t.Fatal(err)
	}
	c.Login("asha", oldPW)

	// grant-admin and revoke-admin take effect on the next request.
	if _, err := run(runUser, "", "grant-admin", "--user", "kim"); err != nil {
		t.Fatal(err)
	}
	c.Must("GET", "/api/patients/17/", kim.Access, nil, 200)
	if _, err := run(runUser, "", "revoke-admin", "--user", "kim"); err != nil {
		t.Fatal(err)
	}
	c.Must("GET", "/api/patients/17/", kim.Access, nil, 404)
	if _, err := run(runUser, "", "grant-admin", "--user", "nobody"); err == nil || !strings.Contains(err.Error(), `no user named "nobody"`) {
		t.Fatalf("an unknown user: %v", err)
	}

	var changes string
	if err := tdb.Pool.QueryRow(ctx, `select string_agg(detail->>'username' || ' ' || (detail->>'change'), ', ' order by id)
	                                    from audit.events where door = 'admin' and detail->>'object' = 'user' and action = 'update'`).Scan(&changes); err != nil {
		t.Fatal(err)
	}
	if changes != "kim set_password, asha deactivate, asha activate, kim grant_admin, kim revoke_admin" {
		t.Fatalf("audit events of the user commands: %s", changes)
	}
}
