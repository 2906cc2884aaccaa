package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/apitest"
	"healthcare/internal/config"
	"healthcare/internal/database"
	"healthcare/internal/dbadmin"
	"healthcare/internal/pgtest"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(holdDevDataEnv); dir != "" {
		holdDevData(dir) // a child of TestDevDataLockDiesWithItsHolder; never returns
	}
	pgtest.Main(m)
}

func TestEveryCommandHasHelp(t *testing.T) {
	for name := range commands {
		args := []string{name, "--help"}
		if name == "db-access" {
			args = []string{name, "grant", "--help"}
		}
		if name == "doctor" {
			args = []string{name, "link", "--help"}
		}
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := dispatch(context.Background(), args, apitest.Env{}.Getenv, strings.NewReader(""), &out, &errOut)
			if !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("--help returned %v, want flag.ErrHelp", err)
			}
			if exitCode(err) != 0 {
				t.Fatalf("--help exits %d", exitCode(err))
			}
			if !strings.Contains(errOut.String(), "Usage: healthcare "+name) {
				t.Fatalf("no usage line in %q", errOut.String())
			}
		})
	}
	var out bytes.Buffer
	if err := dispatch(context.Background(), []string{"--help"}, apitest.Env{}.Getenv, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for name := range commands {
		if !strings.Contains(out.String(), name) {
			t.Errorf("top-level help does not list %s", name)
		}
	}
}

func TestCommandLineErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string // in the error
		code int
	}{
		{"no command is a usage error", nil, "no command", 2},
		{"an unknown command is named", []string{"frobnicate"}, `unknown command "frobnicate"`, 2},
		{"an unknown flag is refused", []string{"serve", "--nope"}, "flag provided but not defined", 2},
		{"migrate alone is migrate up, which needs a connection", []string{"migrate"}, "MIGRATION_DATABASE_URL", 2},
		{"a flag after the action is parsed", []string{"migrate", "up", "--nope"}, "flag provided but not defined: -nope", 2},
		{"migrate refuses an unknown action", []string{"migrate", "--runtime-role", "x", "sideways"}, `unknown action "sideways"`, 2},
		{"migrate to needs a number", []string{"migrate", "to", "x"}, "not a version number", 2},
		{"migrate refuses to guess a connection", []string{"migrate", "up"}, "MIGRATION_DATABASE_URL", 2},
		{"db-access needs an action", []string{"db-access"}, "grant or revoke", 2},
		{"db-access grant needs a user", []string{"db-access", "grant", "--role", "x"}, "--user is required", 2},
		{"db-access grant needs a role", []string{"db-access", "grant", "--user", "x"}, "--role is required", 2},
		{"db-access takes its flags before the action too", []string{"db-access", "--user", "x", "grant"}, "--role is required", 2},
		{"db-access revoke after flags needs a connection", []string{"db-access", "--user", "x", "--drop-role", "revoke"}, "MIGRATION_DATABASE_URL", 2},
		{"doctor needs an action", []string{"doctor"}, "link or unlink", 2},
		{"doctor link needs a doctor", []string{"doctor", "link", "--user", "x"}, "--doctor ID is required", 2},
		{"doctor link needs a user", []string{"doctor", "--doctor", "3", "link"}, "--user is required", 2},
		{"doctor unlink takes no user", []string{"doctor", "unlink", "--doctor", "3", "--user", "x"}, "flag provided but not defined: -user", 2},
		{"doctor unlink needs a connection", []string{"doctor", "unlink", "--doctor", "3"}, "MIGRATION_DATABASE_URL", 2},
		{"createsuperuser needs a connection", []string{"createsuperuser", "--username", "a"}, "MIGRATION_DATABASE_URL", 2},
		{"serve without a secret key says which variable", []string{"serve", "--database-url", "postgres://x@127.0.0.1:1/x"}, "SECRET_KEY", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := dispatch(context.Background(), tc.args, apitest.Env{}.Getenv, strings.NewReader(""), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if got := exitCode(err); got != tc.code {
				t.Fatalf("exit code %d, want %d", got, tc.code)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := dispatch(context.Background(), []string{"version"}, apitest.Env{}.Getenv, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "healthcare ") {
		t.Fatalf("version printed %q", out.String())
	}
	// The test binary, like `go run`, has no VCS stamp: the commit comes
	// from git in the source folder.
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("no git checkout to compare with: %v", err)
	}
	if rev := strings.TrimSpace(string(head))[:12]; !strings.Contains(out.String(), " "+rev) {
		t.Fatalf("version printed %q, want the commit %s", out.String(), rev)
	}
	// An image build passes them with -ldflags.
	buildVersion, buildCommit = "v1.2.3", "0123456789abcdef0123"
	defer func() { buildVersion, buildCommit = "", "" }()
	if got := versionString(); !strings.HasPrefix(got, "healthcare v1.2.3 0123456789ab ") {
		t.Fatalf("with -ldflags: %q", got)
	}
}

const testSecret = "9d1f6b27e0c84a35b7e2f190c6d83a4e-test-only"

// startServe runs `serve` on 127.0.0.1:0 against db as the runtime login
// and returns a client for it once /healthz answers.
func startServe(t *testing.T, db *pgtest.DB) *apitest.Client {
	t.Helper()
	// migrate up grants this; the template was migrated by pgtest.
	if _, err := db.Pool.Exec(context.Background(), "grant select on "+database.VersionTable+" to "+dbadmin.APIGroup); err != nil {
		t.Fatal(err)
	}
	appURL := db.EnsureLogin(t, pgtest.AppRole, pgtest.APIGroup)
	ctx, cancel := context.WithCancel(context.Background())
	logs := &apitest.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, []string{"--addr", "127.0.0.1:0", "--database-url", appURL},
			apitest.Env{"SECRET_KEY": testSecret, "ARGON2_MEMORY_KIB": "7168", "SHUTDOWN_DRAIN": "0", "METRICS_ADDR": "127.0.0.1:0"}.Getenv, nil, io.Discard, logs)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop within 20s of cancel")
		}
	})
	addrRE := regexp.MustCompile(`"addr":"(http://[^"]+)"`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v\n%s", err, logs.String())
		default:
		}
		if m := addrRE.FindStringSubmatch(logs.String()); m != nil {
			resp, err := http.Get(m[1] + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return apitest.New(t, m[1])
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("serve did not become healthy:\n%s", logs.String())
	return nil
}

func TestServeEndToEndWithCreateSuperuser(t *testing.T) {
	db := pgtest.New(t)
	c := startServe(t, db)

	// The public directory answers without a token.
	var page struct{ Count int }
	c.Must("GET", "/api/doctors/", "", nil, 200).Decode(t, &page)

	// createsuperuser by flags, password on stdin, over the privileged URL.
	var out bytes.Buffer
	err := runCreateSuperuser(context.Background(),
		[]string{"--database-url", db.SuperURL, "--username", "root_admin", "--email", "root@example.com", "--password-stdin"},
		apitest.Env{}.Getenv, strings.NewReader("correct horse battery\n"), &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Superuser created successfully") {
		t.Fatalf("output %q", out.String())
	}
	var me struct {
		Username string
		IsAdmin  bool `json:"is_admin"`
	}
	c.Must("GET", "/api/auth/me/", c.Login("root_admin", "correct horse battery").Access, nil, 200).Decode(t, &me)
	if me.Username != "root_admin" || !me.IsAdmin {
		t.Fatalf("me = %+v, want root_admin with is_admin", me)
	}

	// The same username again is a clear error, not a second admin.
	err = runCreateSuperuser(context.Background(),
		[]string{"--database-url", db.SuperURL, "--username", "ROOT_admin", "--password-stdin"},
		apitest.Env{}.Getenv, strings.NewReader("another password\n"), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate admin: %v", err)
	}

	// Environment variables work for scripts, and a short password is refused.
	err = runCreateSuperuser(context.Background(), []string{"--database-url", db.SuperURL, "--no-input"},
		apitest.Env{"SUPERUSER_USERNAME": "envadmin", "SUPERUSER_PASSWORD": "short"}.Getenv, nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "at least 8") {
		t.Fatalf("short password: %v", err)
	}
}

func TestDBAccessGrantSeesOnlyOwnPatients(t *testing.T) {
	db := pgtest.New(t)
	c := startServe(t, db)
	carol, dave := c.Signup("carol"), c.Signup("dave")
	for _, u := range []apitest.User{carol, dave} {
		for i := 0; i < 2; i++ {
			c.Must("POST", "/api/patients/", u.Access, map[string]any{"name": fmt.Sprintf("%s patient %d", u.Name, i), "age": 30 + i}, 201)
		}
	}
	role := "cmdtest_" + strings.ToLower(strings.ReplaceAll(db.Name, "pgtest_", ""))
	var out bytes.Buffer
	err := runDBAccess(context.Background(),
		[]string{"grant", "--database-url", db.SuperURL, "--user", carol.Name, "--role", role, "--password-stdin"},
		apitest.Env{}.Getenv, strings.NewReader(db.LoginPassword(role)+"\n"), &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = runDBAccess(context.Background(), []string{"revoke", "--database-url", db.SuperURL, "--user", carol.Name, "--drop-role"},
			apitest.Env{}.Getenv, nil, io.Discard, io.Discard)
	})
	if !strings.Contains(out.String(), "created login "+role) {
		t.Fatalf("output %q", out.String())
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.LoginURL(role))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var body string
	if err := conn.QueryRow(ctx, "select api.list_patients()::text").Scan(&body); err != nil {
		t.Fatal(err)
	}
	var page struct {
		Count   int
		Results []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(body), &page); err != nil {
		t.Fatal(err)
	}
	if page.Count != 2 {
		t.Fatalf("linked login sees %d patients, want carol's 2: %s", page.Count, body)
	}
	for _, p := range page.Results {
		if !strings.HasPrefix(p.Name, carol.Name+" ") {
			t.Fatalf("linked login sees %q", p.Name)
		}
	}
	// Trying to become someone else changes nothing.
	var n int
	if err := conn.QueryRow(ctx, "select set_config('app.user_id', '1', false) is not null, (select count(*) from records.patients)").Scan(new(bool), &n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("after set app.user_id the login sees %d patients, want 2", n)
	}

	// A login that is already in healthcare_api can never be linked.
	db.EnsureLogin(t, pgtest.AppRole, pgtest.APIGroup)
	err = runDBAccess(ctx, []string{"grant", "--database-url", db.SuperURL, "--user", dave.Name, "--role", pgtest.AppRole},
		apitest.Env{}.Getenv, nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "cannot be a personal login") {
		t.Fatalf("linking a healthcare_api member: %v", err)
	}

	// A second login for carol: refused, saying how, until --replace,
	// which drops the first.
	second := role + "_2"
	t.Cleanup(func() { _, _ = db.Pool.Exec(context.Background(), "drop role if exists "+second) })
	grant := []string{"grant", "--database-url", db.SuperURL, "--user", carol.Name, "--role", second}
	err = runDBAccess(ctx, grant, apitest.Env{}.Getenv, nil, io.Discard, io.Discard)
	if !errors.Is(err, dbadmin.ErrAlreadyLinked) || !strings.Contains(err.Error(), "--replace") {
		t.Fatalf("a second login without --replace: %v", err)
	}
	out.Reset()
	if err := runDBAccess(ctx, append(grant, "--replace"), apitest.Env{}.Getenv, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "dropped the replaced login "+role) {
		t.Fatalf("output %q", out.String())
	}
	var exists bool
	if err := db.Pool.QueryRow(ctx, "select exists (select from pg_roles where rolname = $1)", role).Scan(&exists); err != nil || exists {
		t.Fatalf("the replaced login %s still exists (%v)", role, err)
	}
	// A session the old login still has open lost healthcare_user with it.
	if err := conn.QueryRow(ctx, "select count(*) from records.patients").Scan(&n); err == nil ||
		!strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("the replaced login's open session still reads records: %d, %v", n, err)
	}
}

// grant-reporting makes a reporting login with the HUMAN_* limits of the
// environment; revoke-reporting drops it.
// TestDoctorLinkOpensTheCareView: `healthcare doctor link` links a doctor
// record to an account, whose care view then holds the patient mapped to
// it; `unlink` empties it again.
func TestDoctorLinkOpensTheCareView(t *testing.T) {
	db := pgtest.New(t)
	c := startServe(t, db)
	owner, doc := c.Signup("owner"), c.Signup("drrao")
	patient := c.CreatePatient(owner, "Ravi Kumar", 42)
	doctor := c.CreateDoctor(owner, "Dr. Asha Rao", "Cardiology")
	c.Must("POST", "/api/mappings/", owner.Access, map[string]any{"patient": patient, "doctor": doctor}, 201)
	if ids := c.Must("GET", "/api/care/patients/", doc.Access, nil, 200).IDs(t); len(ids) != 0 {
		t.Fatalf("care view before linking: %v", ids)
	}
	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := dispatch(context.Background(), append(args, "--database-url", db.SuperURL), apitest.Env{}.Getenv, nil, &out, io.Discard); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out.String()
	}
	if out := run("doctor", "link", "--doctor", fmt.Sprint(doctor), "--user", doc.Name); !strings.Contains(out, "linked doctor "+fmt.Sprint(doctor)) {
		t.Fatalf("link printed %q", out)
	}
	if ids := c.Must("GET", "/api/care/patients/", doc.Access, nil, 200).IDs(t); len(ids) != 1 || ids[0] != patient {
		t.Fatalf("care view after linking: %v, want [%d]", ids, patient)
	}
	if out := run("doctor", "unlink", "--doctor", fmt.Sprint(doctor)); !strings.Contains(out, "unlinked doctor") {
		t.Fatalf("unlink printed %q", out)
	}
	c.Must("GET", fmt.Sprintf("/api/care/patients/%d/", patient), doc.Access, nil, 404)
}

func TestDBAccessGrantReporting(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	role := "cmdreport_" + strings.ToLower(strings.ReplaceAll(db.Name, "pgtest_", ""))
	t.Cleanup(func() { _, _ = db.Pool.Exec(context.Background(), "drop role if exists "+role) })
	env := apitest.Env{"HUMAN_STATEMENT_TIMEOUT": "45s", "HUMAN_LOCK_TIMEOUT": "3s", "HUMAN_IDLE_IN_TRANSACTION_TIMEOUT": "2m"}
	var out bytes.Buffer
	err := runDBAccess(ctx, []string{"grant-reporting", "--database-url", db.SuperURL, "--role", role, "--password-stdin"},
		env.Getenv, strings.NewReader(db.LoginPassword(role)+"\n"), &out, io.Discard)
	if err != nil || !strings.Contains(out.String(), "created reporting login "+role) {
		t.Fatalf("grant-reporting: %v, output %q", err, out.String())
	}
	conn, err := pgx.Connect(ctx, db.LoginURL(role))
	if err != nil {
		t.Fatal(err)
	}
	var timeouts string
	var published int
	if err := conn.QueryRow(ctx, `select concat_ws(' ', current_setting('statement_timeout'), current_setting('lock_timeout'),
	        current_setting('idle_in_transaction_session_timeout')), (select count(*) from reporting.patients_by_age_band)`).Scan(&timeouts, &published); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if timeouts != "45s 3s 2min" {
		t.Fatalf("the reporting login's timeouts are %q; want 45s 3s 2min", timeouts)
	}
	if err := runDBAccess(ctx, []string{"revoke-reporting", "--database-url", db.SuperURL, "--role", role},
		apitest.Env{}.Getenv, nil, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	var exists bool
	if err := db.Pool.QueryRow(ctx, "select exists (select from pg_roles where rolname = $1)", role).Scan(&exists); err != nil || exists {
		t.Fatalf("revoke-reporting left %s (%v)", role, err)
	}
}

func TestServeRefusesSuperuser(t *testing.T) {
	db := pgtest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := runServe(ctx, []string{"--addr", "127.0.0.1:0", "--database-url", db.SuperURL},
		apitest.Env{"SECRET_KEY": testSecret}.Getenv, nil, io.Discard, io.Discard)
	if !errors.Is(err, dbadmin.ErrUnsafeRole) {
		t.Fatalf("serve as superuser returned %v, want ErrUnsafeRole", err)
	}
}

func TestServeRefusesUnmigratedDatabase(t *testing.T) {
	db := pgtest.New(t)
	appURL := db.EnsureLogin(t, pgtest.AppRole, pgtest.APIGroup)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, "grant select on "+database.VersionTable+" to "+dbadmin.APIGroup); err != nil {
		t.Fatal(err)
	}
	// Pretend the database is one migration behind this binary.
	if _, err := db.Pool.Exec(ctx, "update "+database.VersionTable+" set version = version - 1"); err != nil {
		t.Fatal(err)
	}
	err := runServe(ctx, []string{"--addr", "127.0.0.1:0", "--database-url", appURL},
		apitest.Env{"SECRET_KEY": testSecret}.Getenv, nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "migrate up") {
		t.Fatalf("serve on an old schema returned %v", err)
	}
}

// TestFlagsGoBeforeOrAfterTheVerb: parseFlags reads flags wherever they
// are, keeps the other arguments in order, and stops at "--".
func TestFlagsGoBeforeOrAfterTheVerb(t *testing.T) {
	for _, args := range [][]string{
		{"--database-url", "u", "--runtime-role", "r", "up"},
		{"up", "--database-url", "u", "--runtime-role", "r"},
		{"--database-url=u", "up", "-runtime-role", "r"},
	} {
		fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		u, r := fs.String("database-url", "", ""), fs.String("runtime-role", "", "")
		if err := parseFlags(fs, args); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		if *u != "u" || *r != "r" || strings.Join(fs.Args(), " ") != "up" {
			t.Fatalf("%q: database-url %q runtime-role %q args %q", args, *u, *r, fs.Args())
		}
	}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	v := fs.Bool("v", false, "")
	if err := parseFlags(fs, []string{"to", "-v", "3", "--", "-v", "4"}); err != nil {
		t.Fatal(err)
	}
	if !*v || strings.Join(fs.Args(), " ") != "to 3 -v 4" {
		t.Fatalf("v %v args %q", *v, fs.Args())
	}
}

// TestServeRefusesTheExampleSecrets: serve with .env copied from
// .env.example stops before connecting anywhere, naming SECRET_KEY and the
// database password and saying how to generate a key.
func TestServeRefusesTheExampleSecrets(t *testing.T) {
	example, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	if err := os.WriteFile(envFile, example, 0o600); err != nil {
		t.Fatal(err)
	}
	err = dispatch(context.Background(), []string{"serve"}, apitest.Env{}.Getenv, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || exitCode(err) != 1 {
		t.Fatalf("serve with the example's .env: %v", err)
	}
	for _, want := range []string{"SECRET_KEY", "placeholder", "openssl rand -hex 32", "healthcare secret", "DB_PASSWORD"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal %q does not mention %q", err, want)
		}
	}
	// healthcare secret makes a key serve accepts.
	var out bytes.Buffer
	if err := dispatch(context.Background(), []string{"secret"}, apitest.Env{}.Getenv, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if key := strings.TrimSpace(out.String()); len(key) != 64 || config.CheckSecretKey(key) != nil {
		t.Fatalf("healthcare secret printed %q (%v)", key, config.CheckSecretKey(key))
	}
}
