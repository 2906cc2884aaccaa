package httpapi

import (
	"context"
	stdpbkdf2 "crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"healthcare/internal/apitest"
	"healthcare/internal/database"
)

func storedHash(t *testing.T, h *harness, username string) string {
	t.Helper()
	var hash string
	if err := h.tdb.Pool.QueryRow(context.Background(),
		`select password_hash from app.users where username = $1`, username).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	return hash
}

// A login whose stored hash was made with other argon2 parameters than the
// server's (ARGON2_* changed between two logins) stores a fresh hash in the
// server's parameters; a failed login changes nothing.
func TestLoginUpgradesTheHashWhenTheParametersChange(t *testing.T) {
	t.Parallel()
	before := newHarness(t)
	ravi := before.Signup("ravi").Name
	first := storedHash(t, before, ravi)
	if !strings.Contains(first, "$m=64,t=1,p=1$") {
		t.Fatalf("hash at registration %q, want m=64,t=1,p=1", first)
	}
	// The same database, served with ARGON2_ITERATIONS=2, ARGON2_MEMORY_KIB=128.
	more := testParams
	more.Iterations, more.Memory = 2, 128
	after := newHarnessHashing(t, before.tdb, before.key, Options{}, database.Options{MaxConns: 4}, more)
	after.Expect(after.Do("POST", "/api/auth/login/", "", map[string]any{"username": ravi, "password": "wrong password"}), 401, "wrong password")
	if got := storedHash(t, after, ravi); got != first {
		t.Fatalf("a failed login changed the hash: %q -> %q", first, got)
	}
	after.Expect(after.Do("POST", "/api/auth/login/", "", map[string]any{"username": ravi, "password": apitest.Password}), 200, "login")
	second := storedHash(t, after, ravi)
	if !strings.HasPrefix(second, "$argon2id$v=19$m=128,t=2,p=1$") {
		t.Fatalf("hash after the login with new parameters %q, want m=128,t=2,p=1", second)
	}
	// A login in the current parameters keeps the hash as it is.
	after.Expect(after.Do("POST", "/api/auth/login/", "", map[string]any{"username": ravi, "password": apitest.Password}), 200, "login again")
	if got := storedHash(t, after, ravi); got != second {
		t.Fatalf("a login in the current parameters rehashed: %q -> %q", second, got)
	}
	// And back: the first server's parameters are the configured ones again.
	before.Expect(before.Do("POST", "/api/auth/login/", "", map[string]any{"username": ravi, "password": apitest.Password}), 200, "login with the old parameters")
	if got := storedHash(t, before, ravi); !strings.HasPrefix(got, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash after going back %q, want m=64,t=1,p=1", got)
	}
}

// A Django pbkdf2_sha256 hash logs in, and the login replaces it with
// argon2id in the server's parameters.
func TestLoginUpgradesADjangoHash(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	meera := h.Signup("meera").Name
	key, err := stdpbkdf2.Key(sha256.New, "old django password", []byte("s4ltFromDjang0"), 1000, 32)
	if err != nil {
		t.Fatal(err)
	}
	django := fmt.Sprintf("pbkdf2_sha256$1000$s4ltFromDjang0$%s", base64.StdEncoding.EncodeToString(key))
	if _, err := h.tdb.Pool.Exec(context.Background(), `update app.users set password_hash = $1 where username = $2`, django, meera); err != nil {
		t.Fatal(err)
	}
	h.Expect(h.Do("POST", "/api/auth/login/", "", map[string]any{"username": meera, "password": apitest.Password}), 401, "the password before the Django hash")
	h.Expect(h.Do("POST", "/api/auth/login/", "", map[string]any{"username": meera, "password": "old django password"}), 200, "Django password")
	if got := storedHash(t, h, meera); !strings.HasPrefix(got, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash after the login %q, want argon2id in the server's parameters", got)
	}
	h.Expect(h.Do("POST", "/api/auth/login/", "", map[string]any{"username": meera, "password": "old django password"}), 200, "login with the upgraded hash")
}
