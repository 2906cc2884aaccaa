package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/apitest"
	"healthcare/internal/pgtest"
)

// TestAuditCommands: seal, verify, show and prune over the privileged
// connection, and verify failing loudly after a superuser edits a sealed
// event with the triggers off.
func TestAuditCommands(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	owner := pgtest.CreateUser(t, db.Pool, "audited")
	if _, err := db.Pool.Exec(ctx, `
		insert into app.patients (owner_id, name, age, gender) values ($1, 'Audited Patient', 50, 'male')`, owner); err != nil {
		t.Fatal(err)
	}
	var patient string
	if err := db.Pool.QueryRow(ctx, `select id::text from app.patients`).Scan(&patient); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := runAudit(ctx, append(args, "--database-url", db.SuperURL), apitest.Env{}.Getenv, nil, &out, io.Discard)
		return out.String(), err
	}
	out, err := run("seal")
	if err != nil || !strings.Contains(out, "sealed 1 events; head ") {
		t.Fatalf("seal: %q, %v", out, err)
	}
	head := strings.TrimSpace(out[strings.Index(out, "head ")+5:])
	if out, err := run("verify"); err != nil || !strings.Contains(out, "ok: 1 seals cover 1 events; head "+head) {
		t.Fatalf("verify: %q, %v", out, err)
	}
	if out, err := run("show", "--patient", patient); err != nil || !strings.Contains(out, "admin") || !strings.Contains(out, "create") ||
		!strings.Contains(out, "Audited Patient") {
		t.Fatalf("show: %q, %v", out, err)
	}
	// The age is printed as it was given, not as a Go duration (52596h0m0s).
	if out, err := run("prune", "--older-than", "2y"); err != nil || !strings.Contains(out, "dropped 0 monthly partitions older than 2y:") {
		t.Fatalf("prune: %q, %v", out, err)
	}
	if out, err := run("prune"); err != nil || !strings.Contains(out, "older than 6y:") {
		t.Fatalf("prune with AUDIT_RETENTION's default: %q, %v", out, err)
	}
	if _, err := run("prune", "--older-than", "soon"); err == nil {
		t.Fatal("prune accepted an age without a number")
	}
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"set local session_replication_role = replica",
		`update audit.events set detail = jsonb_set(detail, '{after,age}', '49') where action = 'create'`} {
		if _, err := tx.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if out, err := run("verify"); err == nil || !strings.Contains(err.Error(), "seal 1") {
		t.Fatalf("verify after an edit: %q, %v; want an error naming seal 1", out, err)
	}
}

func TestDBAccessGrantAuditor(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	role := "cmdaudit_" + strings.ToLower(strings.ReplaceAll(db.Name, "pgtest_", ""))
	t.Cleanup(func() { _, _ = db.Pool.Exec(context.Background(), "drop role if exists "+role) })
	var out bytes.Buffer
	err := runDBAccess(ctx, []string{"grant-auditor", "--database-url", db.SuperURL, "--role", role, "--password-stdin"},
		apitest.Env{}.Getenv, strings.NewReader(db.LoginPassword(role)+"\n"), &out, io.Discard)
	if err != nil || !strings.Contains(out.String(), "created audit login "+role) {
		t.Fatalf("grant-auditor: %v, output %q", err, out.String())
	}
	conn, err := pgx.Connect(ctx, db.LoginURL(role))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `select count(*) from audit.events`).Scan(&n); err != nil {
		t.Fatalf("the audit login cannot read the trail: %v", err)
	}
	// `audit verify` works for the audit login (issue 24, finding 10).
	owner := pgtest.CreateUser(t, db.Pool, "verified")
	if _, err := db.Pool.Exec(ctx, `insert into app.patients (owner_id, name, age, gender) values ($1, 'Verified Patient', 40, 'male')`, owner); err != nil {
		t.Fatal(err)
	}
	if err := runAudit(ctx, []string{"seal", "--database-url", db.SuperURL}, apitest.Env{}.Getenv, nil, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	var verified bytes.Buffer
	if err := runAudit(ctx, []string{"verify", "--database-url", db.LoginURL(role)}, apitest.Env{}.Getenv, nil, &verified, io.Discard); err != nil ||
		!strings.Contains(verified.String(), "ok: 1 seals") {
		t.Fatalf("audit verify as the audit login: %q, %v", verified.String(), err)
	}
	for _, s := range []string{"select * from records.patients", "select api.list_patients()", "select * from reporting.patients_by_age_band", "select 1 from app.patients"} {
		if _, err := conn.Exec(ctx, s); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("the audit login ran %s: %v", s, err)
		}
	}
	conn.Close(ctx)
	if err := runDBAccess(ctx, []string{"revoke-auditor", "--database-url", db.SuperURL, "--role", role},
		apitest.Env{}.Getenv, nil, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	var exists bool
	if err := db.Pool.QueryRow(ctx, "select exists (select from pg_roles where rolname = $1)", role).Scan(&exists); err != nil || exists {
		t.Fatalf("revoke-auditor left %s (%v)", role, err)
	}
}

// migrate gives people's logins made before connection limits one (issue
// 24, finding 3). Not parallel: it bounds every person's login of the
// cluster.
func TestMigrateBoundsExistingPeoplesLogins(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	role := "cmdconns_" + strings.ToLower(strings.ReplaceAll(db.Name, "pgtest_", ""))
	if _, err := db.Pool.Exec(ctx, "create role "+role+" login in role healthcare_user"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = db.Pool.Exec(context.Background(), "drop role if exists "+role) })
	var out bytes.Buffer
	if err := runMigrate(ctx, []string{"up", "--database-url", db.SuperURL}, apitest.Env{}.Getenv, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var limit int
	if err := db.Pool.QueryRow(ctx, "select rolconnlimit from pg_roles where rolname = $1", role).Scan(&limit); err != nil || limit != 2 {
		t.Fatalf("connection limit of a person's login after migrate: %d (%v), want 2; output %q", limit, err, out.String())
	}
	if !strings.Contains(out.String(), "people's logins to 2 connections each") {
		t.Errorf("migrate did not say it bounded logins: %q", out.String())
	}
}
