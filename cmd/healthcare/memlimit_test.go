package main

import (
	"os"
	"path/filepath"
	"testing"

	"healthcare/internal/config"
)

// The limit follows the login settings wherever they come from, the .env
// file included: sized for fewer hashes than may run, the collector would
// run without end.
func TestMemoryLimitFollowsTheLoginSettings(t *testing.T) {
	dotenv := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(dotenv, []byte("LOGIN_CONCURRENCY=3\nARGON2_MEMORY_KIB=9216\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(name string) string {
		switch name {
		case "SECRET_KEY":
			return testSecret
		case "DATABASE_URL":
			return "postgres://x@127.0.0.1:1/x"
		}
		return ""
	}
	cfg, err := config.Load(getenv, dotenv)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := memoryLimit(cfg), int64(15<<20+3*9216<<10); got != want {
		t.Fatalf("memory limit with 3 hashes of 9 MiB from .env = %d, want %d", got, want)
	}
	cfg, err = config.Load(getenv, "")
	if err != nil {
		t.Fatal(err)
	}
	want := int64(15<<20) + int64(config.DefaultLoginConcurrency())*7168<<10
	if got := memoryLimit(cfg); got != want {
		t.Fatalf("default memory limit = %d, want %d", got, want)
	}
}
