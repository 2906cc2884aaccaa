package pgcluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// tempBase is a fresh directory the server's user can pass through, also
// when the tests run as root and the server as postgres.
func tempBase(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pgc")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func startCluster(t *testing.T, opts Options) *Cluster {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return c
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestFindBinDirHoldsServerBinaries(t *testing.T) {
	dir, err := FindBinDir()
	if err != nil {
		t.Fatal(err)
	}
	if !hasServerBinaries(dir) {
		t.Fatalf("FindBinDir() = %s, which lacks initdb, pg_ctl or postgres", dir)
	}
}

func TestFindBinDirNamesThePackageWhenNothingIsInstalled(t *testing.T) {
	old := debianRoot
	debianRoot = t.TempDir()
	t.Cleanup(func() { debianRoot = old })
	t.Setenv("PATH", t.TempDir())
	_, err := FindBinDir()
	if err == nil || !strings.Contains(err.Error(), "apt-get install postgresql") {
		t.Fatalf("FindBinDir() error = %v, want one naming `apt-get install postgresql`", err)
	}
}

func TestFindBinDirPicksTheHighestDebianVersion(t *testing.T) {
	old := debianRoot
	debianRoot = t.TempDir()
	t.Cleanup(func() { debianRoot = old })
	t.Setenv("PATH", t.TempDir())
	for _, v := range []string{"9.6", "15", "13"} {
		bin := filepath.Join(debianRoot, v, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
			if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := FindBinDir()
	if want := filepath.Join(debianRoot, "15", "bin"); err != nil || got != want {
		t.Fatalf("FindBinDir() = %q, %v; want %q", got, err, want)
	}
}

func TestSocketClusterServesPostgres15AndSurvivesRestart(t *testing.T) {
	base := tempBase(t)
	data := filepath.Join(base, "data")
	c := startCluster(t, Options{DataDir: data, Settings: map[string]string{"fsync": "off", "max_connections": "30"}})
	ctx := context.Background()

	conn := connect(t, c.URL("postgres"))
	var version int
	var maxConns, listen string
	if err := conn.QueryRow(ctx, "select current_setting('server_version_num')::int, current_setting('max_connections'), current_setting('listen_addresses')").
		Scan(&version, &maxConns, &listen); err != nil {
		t.Fatal(err)
	}
	if version < 150000 {
		t.Errorf("server_version_num = %d, want >= 150000", version)
	}
	if maxConns != "30" {
		t.Errorf("max_connections = %s, want the extra setting 30", maxConns)
	}
	if listen != "" {
		t.Errorf("listen_addresses = %q, want socket only", listen)
	}
	if _, err := conn.Exec(ctx, "create table kept (v int); insert into kept values (42)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Running() {
		t.Fatal("Running() after Stop")
	}
	// A second Cluster on the same data reuses it instead of running initdb.
	port := c.Port()
	c2 := startCluster(t, Options{DataDir: data, SocketDir: c.SocketDir(), Port: port})
	var v int
	if err := connect(t, c2.URL("postgres")).QueryRow(ctx, "select v from kept").Scan(&v); err != nil || v != 42 {
		t.Fatalf("after restart: v = %d, err = %v; want the row written before", v, err)
	}
}

func TestTCPNeedsAPasswordWhileTheSocketTrusts(t *testing.T) {
	base := tempBase(t)
	const password = "test-only-superuser"
	c := startCluster(t, Options{DataDir: filepath.Join(base, "data"), ListenAddress: "127.0.0.1", SuperuserPassword: password})
	ctx := context.Background()

	var one int
	if err := connect(t, c.TCPURL("postgres", Superuser, password)).QueryRow(ctx, "select 1").Scan(&one); err != nil {
		t.Fatalf("TCP with the password: %v", err)
	}
	if conn, err := pgx.Connect(ctx, c.TCPURL("postgres", Superuser, "wrong")); err == nil {
		conn.Close(ctx)
		t.Fatal("TCP with a wrong password was accepted")
	}
	if conn, err := pgx.Connect(ctx, c.TCPURL("postgres", Superuser, "")); err == nil {
		conn.Close(ctx)
		t.Fatal("TCP without a password was accepted")
	}
	if err := connect(t, c.URL("postgres")).QueryRow(ctx, "select 1").Scan(&one); err != nil {
		t.Fatalf("socket without a password: %v", err)
	}
}

func TestStartFailureShowsTheServerLog(t *testing.T) {
	base := tempBase(t)
	c, err := New(Options{DataDir: filepath.Join(base, "data"), Settings: map[string]string{"no_such_setting_at_all": "1"}, StartTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Init(ctx); err != nil {
		t.Fatal(err)
	}
	err = c.Start(ctx)
	t.Cleanup(func() { c.Close(context.Background()) })
	if err == nil {
		t.Fatal("Start succeeded with an unknown setting")
	}
	if !strings.Contains(err.Error(), "no_such_setting_at_all") {
		t.Fatalf("Start error does not quote the server log:\n%v", err)
	}
}

func TestLongSocketDirIsRefused(t *testing.T) {
	base := tempBase(t)
	long := filepath.Join(base, strings.Repeat("s", 110-len(base)))
	c, err := New(Options{DataDir: filepath.Join(base, "data"), SocketDir: long})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err == nil || !strings.Contains(err.Error(), "107") {
		c.Stop(ctx)
		t.Fatalf("Start with a %d-byte socket dir: err = %v, want the length limit", len(long), err)
	}
}

func TestUnreachableParentIsExplained(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root runs the server as another user")
	}
	base := tempBase(t)
	closed := filepath.Join(base, "closed")
	if err := os.Mkdir(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{DataDir: filepath.Join(closed, "data")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Init(context.Background()); err == nil || !strings.Contains(err.Error(), "cannot enter "+closed) {
		t.Fatalf("Init under a 0700 root dir: err = %v, want it to name %s", err, closed)
	}
}
