package httpapi

import (
	"context"
	"net/http"
	"testing"
	"time"

	"healthcare/internal/database"
	"healthcare/internal/pgtest"
)

// A statement that runs past DB_STATEMENT_TIMEOUT is cancelled by
// PostgreSQL and answered 503 problem+json with Retry-After, not left to
// hang. The test replaces api.me in its own database (as superuser, which
// keeps owner and grants) with a function that sleeps far longer.
func TestSlowStatementIsCutByStatementTimeout(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	_, err := tdb.Pool.Exec(context.Background(), `create or replace function api.me() returns json
		language sql volatile as $$ select pg_catalog.pg_sleep(60); select '{}'::json $$`)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessWith(t, tdb, newKey(), Options{}, database.Options{StatementTimeout: 300 * time.Millisecond})
	u := h.Signup("slow")
	start := time.Now()
	r := h.Do("GET", "/api/auth/me/", u.Access, nil)
	elapsed := time.Since(start)
	h.Expect(r, http.StatusServiceUnavailable, "slow statement")
	if p := r.JSON(t); p["code"] != "timeout" {
		t.Fatalf("problem code %v, want timeout", p["code"])
	}
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	if elapsed > 20*time.Second {
		t.Fatalf("answered after %v; the 60 s sleep was not cut", elapsed)
	}
	// The connection is usable again: the timeout ended only that statement.
	h.Expect(h.Do("GET", "/api/doctors/", "", nil), 200, "after the timeout")
}

// When every pool connection is busy, a request waits at most the acquire
// timeout and then gets 503 with Retry-After.
func TestExhaustedPoolAnswers503(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	h := newHarnessWith(t, tdb, newKey(), Options{},
		database.Options{MaxConns: 1, MinConns: 1, AcquireTimeout: 300 * time.Millisecond})
	held, err := h.db.Pool().Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := h.Do("GET", "/api/doctors/", "", nil)
	elapsed := time.Since(start)
	held.Release()
	h.Expect(r, http.StatusServiceUnavailable, "exhausted pool")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	if elapsed > 20*time.Second {
		t.Fatalf("answered after %v", elapsed)
	}
	h.Expect(h.Do("GET", "/api/doctors/", "", nil), 200, "after the connection came back")
}
