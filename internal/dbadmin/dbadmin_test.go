package dbadmin_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

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
		ctx := context.Background()
		_, _ = tdb.Pool.Exec(ctx, "update app.users set db_role = null where db_role = $1", role)
		var exists bool
		if tdb.Pool.QueryRow(ctx, "select exists (select from pg_roles where rolname = $1)", role).Scan(&exists) == nil && exists {
			_, _ = tdb.Pool.Exec(ctx, "drop owned by "+pgx.Identifier{role}.Sanitize())
		}
		_, _ = tdb.Pool.Exec(ctx, "drop role if exists "+pgx.Identifier{role}.Sanitize())
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
	pgtest.CreateUser(t, tdb.Pool, "grace")
	pgtest.CreateUser(t, tdb.Pool, "heidi")
	role := tempRole(t, tdb, "psql")

	g, err := dbadmin.GrantAccess(ctx, tdb.Pool, dbadmin.Grant{User: "GRACE", Role: role, Password: "pencil"})
	if err != nil || !g.Created || g.Replaced != "" {
		t.Fatalf("GrantAccess = %+v, %v; want created, nil", g, err)
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
	if g, err := dbadmin.GrantAccess(ctx, tdb.Pool, dbadmin.Grant{User: "grace", Role: role}); err != nil || g.Created {
		t.Fatalf("second GrantAccess = %+v, %v; want not created, nil", g, err)
	}
	if _, err := dbadmin.GrantAccess(ctx, tdb.Pool, dbadmin.Grant{User: "heidi", Role: role}); err == nil || !strings.Contains(err.Error(), "already linked to another user") {
		t.Fatalf("linking one login to two users: %v", err)
	}
	if _, err := dbadmin.GrantAccess(ctx, tdb.Pool, dbadmin.Grant{User: "nobody", Role: uniqueRole(tdb, "none")}); err == nil || !strings.Contains(err.Error(), `no user named "nobody"`) {
		t.Fatalf("linking to a missing user: %v", err)
	}
	if roleExists(t, tdb, uniqueRole(tdb, "none")) {
		t.Fatal("a failed grant left its role behind")
	}

	// Revoking unlinks the login and takes healthcare_user from it: an
	// unlinked member would still act as an anonymous user.
	r, err := dbadmin.RevokeAccess(ctx, tdb.Pool, "grace", false)
	if err != nil || r.Login != role || len(r.Earlier) != 0 {
		t.Fatalf("RevokeAccess = %+v, %v; want %q", r, err, role)
	}
	if !roleExists(t, tdb, role) || isMember(t, tdb, role, dbadmin.UserGroup) {
		t.Fatalf("after revoke: role exists %v, in healthcare_user %v; want true false", roleExists(t, tdb, role), isMember(t, tdb, role, dbadmin.UserGroup))
	}
	if _, err := dbadmin.RevokeAccess(ctx, tdb.Pool, "grace", false); err == nil || !strings.Contains(err.Error(), "no linked login") {
		t.Fatalf("revoking twice: %v", err)
	}
	// Granting again gives the membership back.
	if _, err := dbadmin.GrantAccess(ctx, tdb.Pool, dbadmin.Grant{User: "grace", Role: role}); err != nil {
		t.Fatal(err)
	}
	if !isMember(t, tdb, role, dbadmin.UserGroup) {
		t.Fatal("a grant of a revoked login did not restore healthcare_user")
	}
	if _, err := dbadmin.RevokeAccess(ctx, tdb.Pool, "grace", true); err != nil {
		t.Fatal(err)
	}
	if roleExists(t, tdb, role) {
		t.Fatalf("revoke with drop left role %s", role)
	}
}

// A user has one login: linking another is refused unless asked to
// replace, and replacing drops the old one, so no login is left that is a
// member of healthcare_user without a user.
func TestGrantAccessReplacesOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	ctx := context.Background()
	pgtest.CreateUser(t, tdb.Pool, "judy")
	first, second := tempRole(t, tdb, "first"), tempRole(t, tdb, "second")
	if _, err := dbadmin.GrantAccess(ctx, tdb.Pool, dbadmin.Grant{User: "judy", Role: first}); err != nil {
		t.Fatal(err)
	}
	_, err := dbadmin.GrantAccess(ctx, tdb.Pool, dbadmin.Grant{User: "judy", Role: second})
	if !errors.Is(err, dbadmin.ErrAlreadyLinked) || !strings.Contains(err.Error(), "is linked to login "+first) {
		t.Fatalf("linking a second login without Replace = %v; want ErrAlreadyLinked naming %s", err, first)
	}
	if roleExists(t, tdb, second) || linkedTo(t, tdb, "judy") != first {
		t.Fatalf("a refused replace changed something: %s exists %v, judy linked to %q", second, roleExists(t, tdb, second), linkedTo(t, tdb, "judy"))
	}
	g, err := dbadmin.GrantAccess(ctx, tdb.Pool, dbadmin.Grant{User: "judy", Role: second, Replace: true})
	if err != nil || !g.Created || g.Replaced != first {
		t.Fatalf("GrantAccess with Replace = %+v, %v; want created, replaced %s", g, err, first)
	}
	if linkedTo(t, tdb, "judy") != second || roleExists(t, tdb, first) {
		t.Fatalf("after replace: judy linked to %q, old login exists %v; want %s, false", linkedTo(t, tdb, "judy"), roleExists(t, tdb, first), second)
	}
}

// A link replaced by hand (update app.users set db_role) leaves the old
// login behind; revoke finds it by the mark GrantAccess left on it.
func TestRevokeAccessFindsReplacedLogins(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	ctx := context.Background()
	pgtest.CreateUser(t, tdb.Pool, "kate")
	pgtest.CreateUser(t, tdb.Pool, "leo")
	old, current, leos := tempRole(t, tdb, "old"), tempRole(t, tdb, "current"), tempRole(t, tdb, "leos")
	for _, g := range []dbadmin.Grant{{User: "kate", Role: old}, {User: "leo", Role: leos}} {
		if _, err := dbadmin.GrantAccess(ctx, tdb.Pool, g); err != nil {
			t.Fatal(err)
		}
	}
	exec(t, tdb, "create role "+current+" login in role "+dbadmin.UserGroup)
	exec(t, tdb, "update app.users set db_role = '"+current+"' where username = 'kate'")

	r, err := dbadmin.RevokeAccess(ctx, tdb.Pool, "kate", false)
	if err != nil || r.Login != current || len(r.Earlier) != 1 || r.Earlier[0] != old {
		t.Fatalf("RevokeAccess = %+v, %v; want login %s and earlier [%s]", r, err, current, old)
	}
	for _, role := range []string{old, current} {
		if isMember(t, tdb, role, dbadmin.UserGroup) {
			t.Errorf("%s is still in healthcare_user", role)
		}
	}
	if !isMember(t, tdb, leos, dbadmin.UserGroup) || linkedTo(t, tdb, "leo") != leos {
		t.Fatal("revoking kate's logins touched leo's")
	}
	// With drop: both are gone, though neither is linked any more.
	r, err = dbadmin.RevokeAccess(ctx, tdb.Pool, "kate", true)
	if err != nil || r.Login != "" || len(r.Earlier) != 1 || r.Earlier[0] != old {
		t.Fatalf("RevokeAccess with drop = %+v, %v; want earlier [%s]", r, err, old)
	}
	if roleExists(t, tdb, old) || !roleExists(t, tdb, leos) {
		t.Fatalf("after revoke with drop: %s exists %v, %s exists %v", old, roleExists(t, tdb, old), leos, roleExists(t, tdb, leos))
	}
}

// A personal login may do what healthcare_user allows and nothing more:
// every extra attribute, membership, member, owned object or direct grant
// is refused, and nothing is linked.
func TestGrantAccessRefusesPrivilegedRoles(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	ctx := context.Background()
	pgtest.CreateUser(t, tdb.Pool, "ivan")
	tdb.EnsureLogin(t, "healthcare_test_owner_login", dbadmin.OwnerGroup)
	role := func(what, options string, then ...string) string {
		r := tempRole(t, tdb, what)
		exec(t, tdb, "create role "+r+" login "+options)
		for _, sql := range then {
			exec(t, tdb, strings.ReplaceAll(sql, "$ROLE", r))
		}
		return r
	}
	other := tempRole(t, tdb, "othergroup")
	exec(t, tdb, "create role "+other+" nologin")
	actor := tempRole(t, tdb, "actor")
	exec(t, tdb, "create role "+actor+" login")
	program := role("program", "in role pg_execute_server_program")
	tests := []struct{ name, role, reason string }{
		{"the server's login", pgtest.AppRole, "is a member of healthcare_api"},
		{"a member of the owner group", "healthcare_test_owner_login", dbadmin.OwnerGroup},
		{"a superuser", "postgres", "superuser"},
		{"a role with CREATEROLE", role("createrole", "createrole"), "CREATEROLE"},
		{"a role with CREATEDB", role("createdb", "createdb"), "CREATEDB"},
		{"a role with REPLICATION", role("replication", "replication"), "REPLICATION"},
		{"a role with BYPASSRLS", role("bypassrls", "bypassrls"), "BYPASSRLS"},
		{"a member of pg_execute_server_program", program, "is a member of pg_execute_server_program"},
		{"a member of pg_read_all_data", role("readall", "in role pg_read_all_data"), "is a member of pg_read_all_data"},
		{"a member of pg_write_server_files", role("writefiles", "in role pg_write_server_files"), "is a member of pg_write_server_files"},
		{"a member of another role as well", role("twogroups", "in role "+dbadmin.UserGroup+", "+other), "is a member of " + other},
		{"a role others can act as", role("hasmembers", "", "grant $ROLE to "+actor), "can be acted as by " + actor},
		{"a role that owns a table", role("owner", "", "create table public.$ROLE ()", "alter table public.$ROLE owner to $ROLE"), "owns 1 database objects"},
		{"a role granted a table privilege by name", role("granted", "", "grant select on app.doctors to $ROLE"), "is named in 1 grants"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dbadmin.GrantAccess(ctx, tdb.Pool, dbadmin.Grant{User: "ivan", Role: tt.role})
			if !errors.Is(err, dbadmin.ErrUnsafeRole) || !strings.Contains(err.Error(), tt.reason) ||
				!strings.Contains(err.Error(), "cannot be a personal login") {
				t.Fatalf("GrantAccess(%s) = %v; want ErrUnsafeRole saying %q", tt.role, err, tt.reason)
			}
		})
	}
	if linked := linkedTo(t, tdb, "ivan"); linked != "" {
		t.Fatalf("a refused grant linked %s", linked)
	}
	// The same checks guard reporting logins.
	if _, err := dbadmin.GrantReporting(ctx, tdb.Pool, program, "", dbadmin.SessionLimits{}); !errors.Is(err, dbadmin.ErrUnsafeRole) ||
		!strings.Contains(err.Error(), "cannot be a reporting login") {
		t.Fatalf("GrantReporting(a member of pg_execute_server_program) = %v", err)
	}
}

// Every login made for a person gets role-level statement_timeout,
// lock_timeout and idle_in_transaction_session_timeout: the HUMAN_*
// defaults, or the limits asked for, and they hold.
func TestLoginsForPeopleGetSessionLimits(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	ctx := context.Background()
	pgtest.CreateUser(t, tdb.Pool, "mia")
	pgtest.CreateUser(t, tdb.Pool, "ned")
	show := func(t *testing.T, role string) [3]string {
		t.Helper()
		conn := connect(t, tdb.LoginURL(role))
		var got [3]string
		if err := conn.QueryRow(ctx, "select current_setting('statement_timeout'), current_setting('lock_timeout'), current_setting('idle_in_transaction_session_timeout')").
			Scan(&got[0], &got[1], &got[2]); err != nil {
			t.Fatal(err)
		}
		return got
	}
	defaults := [3]string{"30s", "2s", "1min"}

	t.Run("a personal login, with the defaults", func(t *testing.T) {
		role := tempRole(t, tdb, "limits_psql")
		if _, err := dbadmin.GrantAccess(ctx, tdb.Pool, dbadmin.Grant{User: "mia", Role: role, Password: tdb.LoginPassword(role)}); err != nil {
			t.Fatal(err)
		}
		if got := show(t, role); got != defaults {
			t.Fatalf("statement, lock, idle-in-transaction timeouts = %v; want %v", got, defaults)
		}
	})
	t.Run("an existing role linked, with limits asked for", func(t *testing.T) {
		role := tempRole(t, tdb, "limits_existing")
		exec(t, tdb, "create role "+role+" login")
		limits := dbadmin.SessionLimits{StatementTimeout: 1500 * time.Millisecond, LockTimeout: 250 * time.Millisecond, IdleInTransactionTimeout: 4 * time.Second}
		if _, err := dbadmin.GrantAccess(ctx, tdb.Pool, dbadmin.Grant{User: "ned", Role: role, Password: tdb.LoginPassword(role), Limits: limits}); err != nil {
			t.Fatal(err)
		}
		if got, want := show(t, role), [3]string{"1500ms", "250ms", "4s"}; got != want {
			t.Fatalf("timeouts = %v; want %v", got, want)
		}
	})
	t.Run("a reporting login", func(t *testing.T) {
		role := tempRole(t, tdb, "limits_report")
		created, err := dbadmin.GrantReporting(ctx, tdb.Pool, role, tdb.LoginPassword(role), dbadmin.SessionLimits{})
		if err != nil || !created {
			t.Fatalf("GrantReporting = %v, %v", created, err)
		}
		if got := show(t, role); got != defaults {
			t.Fatalf("timeouts = %v; want %v", got, defaults)
		}
		if !isMember(t, tdb, role, dbadmin.ReportingGroup) || isMember(t, tdb, role, dbadmin.UserGroup) {
			t.Fatal("a reporting login is not a plain member of healthcare_reporting")
		}
		if err := dbadmin.RevokeReporting(ctx, tdb.Pool, role); err != nil || roleExists(t, tdb, role) {
			t.Fatalf("RevokeReporting = %v; role exists %v", err, roleExists(t, tdb, role))
		}
		if err := dbadmin.RevokeReporting(ctx, tdb.Pool, pgtest.AppRole); err == nil || !roleExists(t, tdb, pgtest.AppRole) {
			t.Fatalf("RevokeReporting of the server's login = %v", err)
		}
	})
	t.Run("they hold", func(t *testing.T) {
		role := tempRole(t, tdb, "limits_hold")
		limits := dbadmin.SessionLimits{StatementTimeout: 200 * time.Millisecond, LockTimeout: 100 * time.Millisecond, IdleInTransactionTimeout: 300 * time.Millisecond}
		if _, err := dbadmin.GrantReporting(ctx, tdb.Pool, role, tdb.LoginPassword(role), limits); err != nil {
			t.Fatal(err)
		}
		conn := connect(t, tdb.LoginURL(role))
		start := time.Now()
		_, err := conn.Exec(ctx, "select pg_sleep(5)")
		if e, ok := database.AsError(err); !ok || e.Code != "57014" || time.Since(start) > 3*time.Second {
			t.Fatalf("a 5 s statement: %v after %v; want query_canceled by statement_timeout", err, time.Since(start))
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if _, err := tx.Exec(ctx, "select 1"); err == nil {
			t.Fatal("a transaction left idle for 1 s still works")
		}
	})
}

func exec(t *testing.T, tdb *pgtest.DB, sql string) {
	t.Helper()
	if _, err := tdb.Pool.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func roleExists(t *testing.T, tdb *pgtest.DB, role string) bool {
	t.Helper()
	var exists bool
	if err := tdb.Pool.QueryRow(context.Background(), "select exists (select from pg_roles where rolname = $1)", role).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	return exists
}

func isMember(t *testing.T, tdb *pgtest.DB, role, group string) bool {
	t.Helper()
	var member bool
	if err := tdb.Pool.QueryRow(context.Background(), "select pg_has_role($1, $2, 'member')", role, group).Scan(&member); err != nil {
		t.Fatal(err)
	}
	return member
}

// linkedTo is the login linked to the app user ("" when none).
func linkedTo(t *testing.T, tdb *pgtest.DB, username string) string {
	t.Helper()
	var linked *string
	if err := tdb.Pool.QueryRow(context.Background(), "select db_role::text from app.users where username = $1", username).Scan(&linked); err != nil {
		t.Fatal(err)
	}
	if linked == nil {
		return ""
	}
	return *linked
}

func TestCreateAdmin(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	ctx := context.Background()
	if any, err := dbadmin.HasUsers(ctx, tdb.Pool); err != nil || any {
		t.Fatalf("HasUsers on a fresh database = %v, %v", any, err)
	}
	const hash = pgtest.FakeHash
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
	// The grant the error names (migration 008's) gives the read access back.
	exec("grant select on " + database.VersionTable + " to " + dbadmin.APIGroup)
	if err := dbadmin.CheckMigrated(ctx, app); err != nil {
		t.Fatalf("CheckMigrated after the grant = %v", err)
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

// TestLinkAndUnlinkDoctor: the privileged connection links a doctor record
// to an account by username (one record per account) and unlinks it; the
// account's care view follows.
func TestLinkAndUnlinkDoctor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tdb := pgtest.New(t)
	pgtest.CreateUser(t, tdb.Pool, "drrao")
	pgtest.CreateUser(t, tdb.Pool, "alice")
	var d1, d2, patient, rao int64
	for _, s := range []struct {
		dst *int64
		sql string
	}{
		{&d1, `insert into app.doctors (name, specialization) values ('Dr. Asha Rao', 'Cardiology') returning id`},
		{&d2, `insert into app.doctors (name, specialization) values ('Dr. Lena Fischer', 'Pediatrics') returning id`},
		{&patient, `insert into app.patients (owner_id, name, age) select id, 'Ravi Kumar', 42 from app.users where username = 'alice' returning id`},
		{&rao, `select id from app.users where username = 'drrao'`},
	} {
		if err := tdb.Pool.QueryRow(ctx, s.sql).Scan(s.dst); err != nil {
			t.Fatalf("%s: %v", s.sql, err)
		}
	}
	if _, err := tdb.Pool.Exec(ctx, `insert into app.patient_doctors (patient_id, doctor_id) values ($1, $2)`, patient, d1); err != nil {
		t.Fatal(err)
	}
	// What drrao's care view holds, asked as the REST server asks it.
	app := tdb.AppPool(t)
	care := func() string {
		t.Helper()
		var out string
		err := pgx.BeginFunc(ctx, app, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "select set_config('app.user_id', $1::bigint::text, true)", rao); err != nil {
				return err
			}
			return tx.QueryRow(ctx, "select (api.list_care_patients(50, 0) ->> 'count')").Scan(&out)
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := care(); got != "0" {
		t.Fatalf("care view before linking: %s patients", got)
	}
	link, err := dbadmin.LinkDoctor(ctx, tdb.Pool, d1, "DrRao")
	if err != nil {
		t.Fatal(err)
	}
	if link.Doctor != d1 || link.UserID != rao || link.User != "drrao" || link.Name != "Dr. Asha Rao" {
		t.Fatalf("link %+v", link)
	}
	if got := care(); got != "1" {
		t.Fatalf("care view after linking: %s patients, want 1", got)
	}
	for _, c := range []struct {
		doctor int64
		user   string
		want   string
	}{
		{d2, "drrao", "linked to doctor"},
		{d1, "nobody", "no user named"},
		{987654, "alice", "no doctor with id"},
	} {
		if _, err := dbadmin.LinkDoctor(ctx, tdb.Pool, c.doctor, c.user); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("link %d to %s: %v, want %q", c.doctor, c.user, err, c.want)
		}
	}
	// Linking again to the same account is a no-op.
	if _, err := dbadmin.LinkDoctor(ctx, tdb.Pool, d1, "drrao"); err != nil {
		t.Fatal(err)
	}
	un, err := dbadmin.UnlinkDoctor(ctx, tdb.Pool, d1)
	if err != nil || un.User != "drrao" {
		t.Fatalf("unlink: %+v, %v", un, err)
	}
	if got := care(); got != "0" {
		t.Fatalf("care view after unlinking: %s patients, want 0", got)
	}
	if un, err := dbadmin.UnlinkDoctor(ctx, tdb.Pool, d1); err != nil || un.UserID != 0 {
		t.Fatalf("unlinking an unlinked doctor: %+v, %v", un, err)
	}
	if _, err := dbadmin.UnlinkDoctor(ctx, tdb.Pool, 987654); err == nil || !strings.Contains(err.Error(), "no doctor with id") {
		t.Fatalf("unlinking a missing doctor: %v", err)
	}
}

// Finding 3 of issue 24: people's logins get a connection limit when
// granted, existing ones without one get it too, and a grant after which
// they could together take the servers' reserve is refused and leaves
// nothing behind. Not parallel: it counts every person's login of the
// cluster, which parallel tests would change under it.
func TestPeoplesLoginsHaveBoundedConnections(t *testing.T) {
	tdb := pgtest.New(t)
	ctx := context.Background()
	limits := dbadmin.SessionLimits{Connections: 2}
	connLimit := func(role string) int {
		t.Helper()
		var n int
		if err := tdb.Pool.QueryRow(ctx, "select rolconnlimit from pg_roles where rolname = $1", role).Scan(&n); err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		return n
	}
	pgtest.CreateUser(t, tdb.Pool, "olga")
	// Dropped when the test ends: its comment names app user 1, which
	// other tests' databases have too.
	role := tempRole(t, tdb, "conns")
	if _, err := dbadmin.GrantAccess(ctx, tdb.Pool, dbadmin.Grant{User: "olga", Role: role, Password: tdb.LoginPassword(role), Limits: limits}); err != nil {
		t.Fatal(err)
	}
	if n := connLimit(role); n != 2 {
		t.Fatalf("granted login's connection limit = %d, want 2", n)
	}
	// PostgreSQL enforces it: a third session of the login is refused.
	var conns []*pgx.Conn
	defer func() {
		for _, c := range conns {
			_ = c.Close(ctx)
		}
	}()
	for i := range 3 {
		c, err := pgx.Connect(ctx, tdb.LoginURL(role))
		if i < 2 && err != nil {
			t.Fatalf("session %d: %v", i+1, err)
		}
		if i == 2 {
			if err == nil || !strings.Contains(err.Error(), "too many connections") {
				t.Fatalf("third session of a login limited to 2: %v", err)
			}
			break
		}
		conns = append(conns, c)
	}

	// A login made by hand before limits existed is bounded by the next grant.
	old := uniqueRole(tdb, "oldconns")
	if _, err := tdb.Pool.Exec(ctx, "create role "+old+" login in role healthcare_reporting"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = tdb.Pool.Exec(context.Background(), "drop role if exists "+old) })
	auditor := uniqueRole(tdb, "audconns")
	if _, err := dbadmin.GrantAuditor(ctx, tdb.Pool, auditor, "", limits); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = tdb.Pool.Exec(context.Background(), "drop role if exists "+auditor) })
	if n := connLimit(old); n != 2 {
		t.Fatalf("existing person's login without a limit: connection limit %d after a grant, want 2", n)
	}

	// A reserve that leaves people exactly what they hold now: one more
	// login does not fit, and the refused grant creates nothing.
	b, err := dbadmin.BoundPeoplesConnections(ctx, tdb.Pool, limits)
	if err != nil {
		t.Fatal(err)
	}
	tight := limits
	tight.ConnectionReserve = b.MaxConnections - b.SuperuserReserved - b.Reserved - b.Total
	if tight.ConnectionReserve <= 0 {
		t.Fatalf("budget %v leaves no room to test with", b)
	}
	extra := uniqueRole(tdb, "overconns")
	_, err = dbadmin.GrantReporting(ctx, tdb.Pool, extra, "", tight)
	if !errors.Is(err, dbadmin.ErrConnectionBudget) || !strings.Contains(err.Error(), "SERVER_CONNECTION_RESERVE") {
		t.Fatalf("grant beyond the budget = %v, want ErrConnectionBudget with the arithmetic", err)
	}
	t.Logf("refused: %v", err)
	var exists bool
	if err := tdb.Pool.QueryRow(ctx, "select exists (select from pg_roles where rolname = $1)", extra).Scan(&exists); err != nil || exists {
		t.Fatalf("the refused login exists: %v %v", exists, err)
	}
	// With room for it, the same grant goes through.
	tight.ConnectionReserve -= 2
	if _, err := dbadmin.GrantReporting(ctx, tdb.Pool, extra, "", tight); err != nil {
		t.Fatalf("grant within the budget: %v", err)
	}
	t.Cleanup(func() { _, _ = tdb.Pool.Exec(context.Background(), "drop role if exists "+extra) })
}
