package dbadmin_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/config"
	"healthcare/internal/database"
	"healthcare/internal/dbadmin"
	"healthcare/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// uniqueRole is a role name only this test database uses: roles are
// cluster-wide and shared by every test process.
func uniqueRole(tdb *pgtest.DB, what string) string {
	return "dbadmin_" + what + "_" + strings.TrimPrefix(tdb.Name, "pgtest_")
}

// tempRole is uniqueRole, dropped when the test ends.
func tempRole(t *testing.T, tdb *pgtest.DB, what string) string {
	role := uniqueRole(tdb, what)
	t.Cleanup(func() {
		_, _ = tdb.Pool.Exec(context.Background(), "update app.users set db_role = null where db_role = $1", role)
		_, _ = tdb.Pool.Exec(context.Background(), "drop role if exists "+pgx.Identifier{role}.Sanitize())
	})
	return role
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func addUser(t *testing.T, tdb *pgtest.DB, name string) {
	t.Helper()
	if _, err := tdb.Pool.Exec(context.Background(),
		`insert into app.users (username, email, password_hash) values ($1, '', '$argon2id$x')`, name); err != nil {
		t.Fatal(err)
	}
}

func TestCheckRuntimeLogin(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	ctx := context.Background()
	ownerURL := tdb.EnsureLogin(t, "healthcare_test_owner_login", dbadmin.OwnerGroup)
	bypassURL := tdb.EnsureLogin(t, "dbadmin_test_bypassrls", dbadmin.APIGroup)
	if _, err := tdb.Pool.Exec(ctx, "alter role dbadmin_test_bypassrls bypassrls"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		url    string
		reason string // "" = accepted
	}{
		{"the app role, a plain member of healthcare_api, is accepted", tdb.AppURL(), ""},
		{"a superuser is refused", tdb.SuperURL, "is or can become a superuser"},
		{"a member of the table owner role is refused", ownerURL, "owns tables in schema app (doctors, "},
		{"a role with BYPASSRLS is refused", bypassURL, "is or can become a role with BYPASSRLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := dbadmin.CheckRuntimeLogin(ctx, connect(t, tt.url))
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("CheckRuntimeLogin = %v; want nil", err)
				}
				return
			}
			if !errors.Is(err, dbadmin.ErrUnsafeRole) || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("CheckRuntimeLogin = %v; want ErrUnsafeRole saying %q", err, tt.reason)
			}
		})
	}
}

// PostgreSQL keeps the verifier as given (it would hash anything else as
// a clear-text password), and the verifier is the password's.
func TestCreateLoginStoresTheVerifier(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	ctx := context.Background()
	role := tempRole(t, tdb, "scram")
	created, err := dbadmin.CreateLogin(ctx, tdb.Pool, dbadmin.Login{Name: role, Password: "pencil", Groups: []string{dbadmin.ReportingGroup}})
	if err != nil || !created {
		t.Fatalf("CreateLogin = %v, %v; want true, nil", created, err)
	}
	stored := func() string {
		var s string
		if err := tdb.Pool.QueryRow(ctx, "select rolpassword from pg_authid where rolname = $1", role).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	checkPassword := func(v, password string) {
		t.Helper()
		_, rest, _ := strings.Cut(v, ":")
		salt64, _, _ := strings.Cut(rest, "$")
		salt, err := base64.StdEncoding.DecodeString(salt64)
		if err != nil {
			t.Fatalf("stored %q: %v", v, err)
		}
		if want, _ := dbadmin.VerifierWithSalt(password, salt); v != want {
			t.Fatalf("stored verifier %q is not the verifier of %q (%q)", v, password, want)
		}
	}
	checkPassword(stored(), "pencil")
	var login, inGroup, super bool
	if err := tdb.Pool.QueryRow(ctx, "select rolcanlogin, rolsuper, pg_has_role(oid, $2, 'member') from pg_roles where rolname = $1",
		role, dbadmin.ReportingGroup).Scan(&login, &super, &inGroup); err != nil || !login || super || !inGroup {
		t.Fatalf("login %v superuser %v in group %v (%v); want true false true", login, super, inGroup, err)
	}

	// Again: left alone. EnsureLogin: new password, and the group.
	if created, err := dbadmin.CreateLogin(ctx, tdb.Pool, dbadmin.Login{Name: role, Password: "other"}); err != nil || created {
		t.Fatalf("second CreateLogin = %v, %v; want false, nil", created, err)
	}
	checkPassword(stored(), "pencil")
	if _, err := tdb.Pool.Exec(ctx, "revoke "+dbadmin.ReportingGroup+" from "+role); err != nil {
		t.Fatal(err)
	}
	if created, err := dbadmin.EnsureLogin(ctx, tdb.Pool, dbadmin.Login{Name: role, Password: "other", Groups: []string{dbadmin.ReportingGroup}}); err != nil || created {
		t.Fatalf("EnsureLogin of an existing role = %v, %v; want false, nil", created, err)
	}
	checkPassword(stored(), "other")
	if err := tdb.Pool.QueryRow(ctx, "select pg_has_role($1, $2, 'member')", role, dbadmin.ReportingGroup).Scan(&inGroup); err != nil || !inGroup {
		t.Fatalf("EnsureLogin did not restore membership: %v %v", inGroup, err)
	}
}

// Test processes race to create the same login; exactly one wins and
// nobody fails, also inside a caller's transaction.
func TestCreateLoginIsSafeToRace(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	ctx := context.Background()
	role := tempRole(t, tdb, "race")
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := pgx.BeginFunc(ctx, tdb.Pool, func(tx pgx.Tx) error {
				created, err := dbadmin.CreateLogin(ctx, tx, dbadmin.Login{Name: role, Groups: []string{dbadmin.UserGroup}})
				if created {
					mu.Lock()
					wins++
					mu.Unlock()
				}
				if err != nil {
					return err
				}
				_, err = tx.Exec(ctx, "select 1") // the transaction is still usable
				return err
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d creators reported creating the role; want 1", wins)
	}
}

func TestGrantAndRevokeAccess(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	ctx := context.Background()
	addUser(t, tdb, "grace")
	addUser(t, tdb, "heidi")
	role := tempRole(t, tdb, "psql")

	created, err := dbadmin.GrantAccess(ctx, tdb.Pool, "GRACE", role, "pencil")
	if err != nil || !created {
		t.Fatalf("GrantAccess = %v, %v; want true, nil", created, err)
	}
	var linked string
	var inUser, inAPI bool
	if err := tdb.Pool.QueryRow(ctx, `select db_role::text, pg_has_role(db_role, $1, 'member'), pg_has_role(db_role, $2, 'member')
	    from app.users where username = 'grace'`, dbadmin.UserGroup, dbadmin.APIGroup).Scan(&linked, &inUser, &inAPI); err != nil {
		t.Fatal(err)
	}
	if linked != role || !inUser || inAPI {
		t.Fatalf("grace's login %q in healthcare_user %v in healthcare_api %v; want %q true false", linked, inUser, inAPI, role)
	}
	// Granting again links the existing role.
	if created, err := dbadmin.GrantAccess(ctx, tdb.Pool, "grace", role, ""); err != nil || created {
		t.Fatalf("second GrantAccess = %v, %v; want false, nil", created, err)
	}
	if _, err := dbadmin.GrantAccess(ctx, tdb.Pool, "heidi", role, ""); err == nil || !strings.Contains(err.Error(), "already linked to another user") {
		t.Fatalf("linking one login to two users: %v", err)
	}
	if _, err := dbadmin.GrantAccess(ctx, tdb.Pool, "nobody", uniqueRole(tdb, "none"), ""); err == nil || !strings.Contains(err.Error(), `no user named "nobody"`) {
		t.Fatalf("linking to a missing user: %v", err)
	}
	var exists bool
	if err := tdb.Pool.QueryRow(ctx, "select exists (select from pg_roles where rolname = $1)", uniqueRole(tdb, "none")).Scan(&exists); err != nil || exists {
		t.Fatalf("a failed grant left its role behind (%v)", err)
	}

	got, err := dbadmin.RevokeAccess(ctx, tdb.Pool, "grace", false)
	if err != nil || got != role {
		t.Fatalf("RevokeAccess = %q, %v; want %q", got, err, role)
	}
	if _, err := dbadmin.RevokeAccess(ctx, tdb.Pool, "grace", false); err == nil || !strings.Contains(err.Error(), "no linked login") {
		t.Fatalf("revoking twice: %v", err)
	}
	if _, err := dbadmin.GrantAccess(ctx, tdb.Pool, "grace", role, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := dbadmin.RevokeAccess(ctx, tdb.Pool, "grace", true); err != nil {
		t.Fatal(err)
	}
	if err := tdb.Pool.QueryRow(ctx, "select exists (select from pg_roles where rolname = $1)", role).Scan(&exists); err != nil || exists {
		t.Fatalf("revoke with drop left role %s (%v)", role, err)
	}
}

func TestGrantAccessRefusesPrivilegedRoles(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	ctx := context.Background()
	addUser(t, tdb, "ivan")
	createRole := tempRole(t, tdb, "createrole")
	if _, err := tdb.Pool.Exec(ctx, "create role "+createRole+" login createrole"); err != nil {
		t.Fatal(err)
	}
	tdb.EnsureLogin(t, "healthcare_test_owner_login", dbadmin.OwnerGroup)
	tests := []struct{ name, role, reason string }{
		{"the server's login", pgtest.AppRole, "is a member of healthcare_api"},
		{"a member of the owner group", "healthcare_test_owner_login", dbadmin.OwnerGroup},
		{"a role with CREATEROLE", createRole, "CREATEROLE"},
		{"a superuser", "postgres", "superuser"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dbadmin.GrantAccess(ctx, tdb.Pool, "ivan", tt.role, "")
			if !errors.Is(err, dbadmin.ErrUnsafeRole) || !strings.Contains(err.Error(), tt.reason) ||
				!strings.Contains(err.Error(), "cannot be a personal login") {
				t.Fatalf("GrantAccess(%s) = %v; want ErrUnsafeRole saying %q", tt.role, err, tt.reason)
			}
		})
	}
	var linked *string
	if err := tdb.Pool.QueryRow(ctx, "select db_role::text from app.users where username = 'ivan'").Scan(&linked); err != nil || linked != nil {
		t.Fatalf("a refused grant linked %v (%v)", linked, err)
	}
}

func TestCreateAdmin(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	ctx := context.Background()
	if any, err := dbadmin.HasUsers(ctx, tdb.Pool); err != nil || any {
		t.Fatalf("HasUsers on a fresh database = %v, %v", any, err)
	}
	const hash = "$argon2id$v=19$m=7168,t=5,p=1$c2FsdA$a2V5"
	id, err := dbadmin.CreateAdmin(ctx, tdb.Pool, "root", "root@example.com", hash)
	if err != nil || id <= 0 {
		t.Fatalf("CreateAdmin = %d, %v", id, err)
	}
	var admin bool
	if err := tdb.Pool.QueryRow(ctx, "select is_admin and is_active from app.users where id = $1", id).Scan(&admin); err != nil || !admin {
		t.Fatalf("created user is_admin and is_active = %v (%v)", admin, err)
	}
	if any, err := dbadmin.HasUsers(ctx, tdb.Pool); err != nil || !any {
		t.Fatalf("HasUsers after CreateAdmin = %v, %v", any, err)
	}
	for _, tt := range []struct{ name, username, email, hash, want string }{
		{"the same name in other case", "ROOT", "", hash, `a user named "ROOT" already exists`},
		{"a bad username", "no spaces", "", hash, "invalid username (constraint users_username_check)"},
		{"a bad e-mail", "mallory", "no-at-sign", hash, "invalid email (constraint users_email_check)"},
		{"a hash that is not argon2id", "mallory", "", "plain", "invalid password (constraint users_password_hash_check)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := dbadmin.CreateAdmin(ctx, tdb.Pool, tt.username, tt.email, tt.hash); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("CreateAdmin = %v; want an error saying %q", err, tt.want)
			}
		})
	}
}

func TestMigrateAndCheckMigrated(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	ctx := context.Background()
	app := tdb.AppPool(t)
	if err := dbadmin.CheckMigrated(ctx, app); err != nil {
		t.Fatalf("CheckMigrated on a migrated database = %v", err)
	}
	exec := func(sql string) {
		t.Helper()
		if _, err := tdb.Pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	exec("update " + database.VersionTable + " set version = version - 1")
	if err := dbadmin.CheckMigrated(ctx, app); err == nil || !strings.Contains(err.Error(), "migrate up") {
		t.Fatalf("CheckMigrated one version behind = %v", err)
	}
	exec("update " + database.VersionTable + " set version = version + 1")
	exec("revoke select on " + database.VersionTable + " from " + dbadmin.APIGroup)
	if err := dbadmin.CheckMigrated(ctx, app); err == nil || !strings.Contains(err.Error(), "cannot read "+database.VersionTable) {
		t.Fatalf("CheckMigrated without read access = %v", err)
	}
	// Migrate, even with nothing to apply, gives the read access back.
	if err := dbadmin.Migrate(ctx, connect(t, tdb.SuperURL), -1); err != nil {
		t.Fatal(err)
	}
	if err := dbadmin.CheckMigrated(ctx, app); err != nil {
		t.Fatalf("CheckMigrated after Migrate = %v", err)
	}
}

func TestCreateDatabase(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	ctx := context.Background()
	name := uniqueRole(tdb, "db")
	t.Cleanup(func() {
		_, _ = tdb.Pool.Exec(context.Background(), "drop database if exists "+pgx.Identifier{name}.Sanitize()+" with (force)")
	})
	for range 2 { // the second time it exists already
		if err := dbadmin.CreateDatabase(ctx, tdb.Pool, name); err != nil {
			t.Fatal(err)
		}
	}
	var exists bool
	if err := tdb.Pool.QueryRow(ctx, "select exists (select from pg_database where datname = $1)", name).Scan(&exists); err != nil || !exists {
		t.Fatalf("database %s exists = %v (%v)", name, exists, err)
	}
}

// config cannot import this package (it sits below database), so its
// DB_USER default spells the login name again: keep the two equal.
func TestAppLoginIsTheConfiguredDefault(t *testing.T) {
	u, err := url.Parse(config.Defaults().DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	if u.User.Username() != dbadmin.AppLogin {
		t.Fatalf("DB_USER defaults to %q, dbadmin.AppLogin is %q", u.User.Username(), dbadmin.AppLogin)
	}
}
