package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape status %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestRequestsLoginsAndBoundedLabels(t *testing.T) {
	m := New(nil)
	m.ObserveRequest("GET", "/api/patients/:id/", 200, 3*time.Millisecond)
	m.ObserveRequest("GET", "/api/patients/:id/", 200, 3*time.Millisecond)
	m.ObserveRequest("BREW", "", 404, time.Millisecond)
	m.ObserveRequest("POST", LoginRoute, 401, time.Millisecond)
	m.ObserveRequest("POST", LoginRoute, 401, time.Millisecond)
	m.ObserveRequest("POST", LoginRoute, 429, time.Millisecond)
	m.ObserveRequest("POST", "/api/auth/refresh/", 401, time.Millisecond) // not a login
	out := scrape(t, m)
	for _, want := range []string{
		`healthcare_http_requests_total{method="GET",route="/api/patients/:id/",status="200"} 2`,
		`healthcare_http_requests_total{method="OTHER",route="unmatched",status="404"} 1`,
		`healthcare_http_request_duration_seconds_bucket{method="GET",route="/api/patients/:id/",le="0.005"} 2`,
		`healthcare_login_failures_total 2`,
		`healthcare_login_throttled_total 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(out, "BREW") {
		t.Error("an arbitrary method became a label value")
	}
}

func TestPoolStatistics(t *testing.T) {
	// A pool that never connects (lazy, unreachable) still has statistics.
	pool, err := pgxpool.New(t.Context(), "postgres://nobody@127.0.0.1:1/x?pool_max_conns=7")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	out := scrape(t, New(pool.Stat))
	for _, want := range []string{"healthcare_db_pool_max_conns 7", "healthcare_db_pool_acquired_conns 0",
		"healthcare_db_pool_canceled_acquires_total 0", "healthcare_db_pool_empty_acquire_wait_seconds_total"} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
