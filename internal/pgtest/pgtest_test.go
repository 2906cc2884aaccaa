package pgtest

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/database"
	"healthcare/internal/dbadmin"
)

func TestMain(m *testing.M) { Main(m) }

func TestTemplateIsFullyMigrated(t *testing.T) {
	t.Parallel()
	db := New(t)
	latest, err := database.LatestVersion()
	if err != nil {
		t.Fatal(err)
	}
	if latest == 0 {
		t.Fatal("no embedded migrations")
	}
	var version int32
	if err := db.Pool.QueryRow(context.Background(), "select version from "+database.VersionTable).Scan(&version); err != nil {
		t.Fatalf("read %s: %v", database.VersionTable, err)
	}
	if version != latest {
		t.Fatalf("test database at migration %d, want the latest, %d", version, latest)
	}
}

func TestEachTestGetsItsOwnDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := New(t), New(t)
	if a.Name == b.Name {
		t.Fatalf("both databases are named %s", a.Name)
	}
	if _, err := a.Pool.Exec(ctx, "create table only_in_a (v int)"); err != nil {
		t.Fatal(err)
	}
	var inB bool
	if err := b.Pool.QueryRow(ctx, "select to_regclass('public.only_in_a') is not null").Scan(&inB); err != nil {
		t.Fatal(err)
	}
	if inB {
		t.Fatal("a table made in one test database is visible in another")
	}
	var current string
	if err := a.Pool.QueryRow(ctx, "select current_database()").Scan(&current); err != nil || current != a.Name {
		t.Fatalf("Pool is on %q (%v), want %q", current, err, a.Name)
	}
}

func TestDatabaseIsDroppedAfterTheTest(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("user", func(t *testing.T) { name = New(t).Name })
	keeper := New(t)
	var exists bool
	if err := keeper.Pool.QueryRow(context.Background(), "select exists (select from pg_database where datname = $1)", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Fatalf("database %s outlived its test", name)
	}
}

func TestAppPoolIsTheAPILoginWithoutPrivileges(t *testing.T) {
	t.Parallel()
	db := New(t)
	var session string
	var super, inAPI bool
	err := db.AppPool(t).QueryRow(context.Background(),
		`select session_user, rolsuper, pg_has_role(session_user, $1, 'member')
		   from pg_roles where rolname = session_user`, APIGroup).Scan(&session, &super, &inAPI)
	if err != nil {
		t.Fatal(err)
	}
	if session != AppRole || super || !inAPI {
		t.Fatalf("AppPool session_user=%s superuser=%v member of %s=%v; want %s, false, true", session, super, APIGroup, inAPI, AppRole)
	}
}

func TestEnsureLoginIsSafeToRace(t *testing.T) {
	t.Parallel()
	db := New(t)
	const role = "pgtest_race_login"
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- ensureLogin(context.Background(), db.srv.admin, role, db.LoginPassword(role), dbadmin.UserGroup)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.EnsureLogin(t, role, dbadmin.UserGroup))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var inUser bool
	if err := conn.QueryRow(ctx, "select pg_has_role(session_user, $1, 'member')", dbadmin.UserGroup).Scan(&inUser); err != nil || !inUser {
		t.Fatalf("login %s in healthcare_user = %v (%v), want true", role, inUser, err)
	}
}

func TestThrowawayClusterIsPostgres15(t *testing.T) {
	t.Parallel()
	db := New(t)
	if os.Getenv(EnvURL) != "" {
		if db.Cluster() != nil {
			t.Fatalf("Cluster() is not nil although %s chose the server", EnvURL)
		}
		t.Skipf("%s chose the server", EnvURL)
	}
	if db.Cluster() == nil {
		t.Fatal("Cluster() is nil although pgtest started one")
	}
	var version int
	var fsync string
	if err := db.Pool.QueryRow(context.Background(),
		"select current_setting('server_version_num')::int, current_setting('fsync')").Scan(&version, &fsync); err != nil {
		t.Fatal(err)
	}
	if version < 150000 || fsync != "off" {
		t.Fatalf("server_version_num=%d fsync=%s; want >= 150000 and off", version, fsync)
	}
}

func TestWithDatabaseKeepsTheServerAndChangesTheRest(t *testing.T) {
	tests := []struct {
		name string
		base string
	}{
		{name: "a URL with a socket host in the query", base: "postgres://postgres@/postgres?host=%2Ftmp%2Fx&port=5433&sslmode=disable"},
		{name: "a URL with user and password in the query", base: "postgresql://h:5433/other?user=root&password=pw&sslmode=disable"},
		{name: "a keyword/value string", base: "host=h port=5433 user=root password=pw dbname=other sslmode=disable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base, err := pgx.ParseConfig(tc.base)
			if err != nil {
				t.Fatal(err)
			}
			got, err := pgx.ParseConfig(withDatabase(tc.base, "db1", "al'ice", "p w"))
			if err != nil {
				t.Fatal(err)
			}
			if got.Host != base.Host || got.Port != base.Port || got.Database != "db1" || got.User != "al'ice" || got.Password != "p w" {
				t.Fatalf("got host=%s port=%d db=%s user=%s password=%s", got.Host, got.Port, got.Database, got.User, got.Password)
			}
			same, err := pgx.ParseConfig(withDatabase(tc.base, "db2", "", ""))
			if err != nil {
				t.Fatal(err)
			}
			if same.User != base.User || same.Password != base.Password || same.Database != "db2" {
				t.Fatalf("without a role: user=%s password=%s db=%s; want the base's user and password", same.User, same.Password, same.Database)
			}
		})
	}
}

// Not parallel: it stops the server every test of the package shares, and
// Go runs parallel tests only after the sequential ones.
func TestClusterRestartKeepsTheURLs(t *testing.T) {
	db := New(t)
	c := db.Cluster()
	if c == nil {
		t.Skipf("%s chose the server", EnvURL)
	}
	ctx := context.Background()
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Pool.Ping(ctx); err == nil {
		t.Fatal("Ping succeeded while the server was stopped")
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var one int
	if err := db.AppPool(t).QueryRow(ctx, "select 1").Scan(&one); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}
