package faulttest

import (
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"healthcare/internal/dbadmin"
	"healthcare/internal/pgtest"
)

// The server fails closed: a role that could get around row-level
// security never serves, and says why.
func TestServeRefusesRolesThatBypassRLS(t *testing.T) {
	tdb := pgtest.New(t)
	bypassURL := tdb.EnsureLogin(t, "faulttest_bypassrls", dbadmin.APIGroup)
	if _, err := tdb.Pool.Exec(ctx(t), "alter role faulttest_bypassrls bypassrls"); err != nil {
		t.Fatal(err)
	}
	ownerURL := tdb.EnsureLogin(t, "faulttest_owner", dbadmin.OwnerGroup)
	tests := []struct {
		name, url, reason string
	}{
		{"a superuser", tdb.SuperURL, "superuser"},
		{"a role with BYPASSRLS", bypassURL, "BYPASSRLS"},
		{"a member of the table owner role", ownerURL, "owns tables in schema app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := run(t, baseEnv(tt.url))
			if err == nil {
				t.Fatalf("serve started as %s at %s", tt.name, s.url)
			}
			code, exited := s.wait(30 * time.Second)
			if !exited || code == 0 {
				t.Fatalf("exit code %d (exited %v), want non-zero", code, exited)
			}
			out := s.logs.String()
			if !strings.Contains(out, "can bypass row-level security") || !strings.Contains(out, tt.reason) {
				t.Fatalf("message does not say why:\n%s", out)
			}
		})
	}
}

// /readyz is 200 only while the database answers and its migration
// version is the binary's; /metrics, on its own listener and not on the
// API's port, counts requests and logins, stays up through the drain and
// stops with the server.
func TestReadyzAndMetrics(t *testing.T) {
	tdb := pgtest.New(t)
	env := baseEnv(tdb.AppURL())
	env["SHUTDOWN_DRAIN"] = "1s"
	s := start(t, env)
	if s.metricsURL == "" || strings.HasPrefix(s.metricsURL, s.url) {
		t.Fatalf("metrics at %q, API at %q: want a listener of its own\n%s", s.metricsURL, s.url, s.logs)
	}
	if r := s.Must("GET", "/metrics", "", nil, 404); r.Problem() != nil || r.JSON(t)["code"] != "not_found" {
		t.Fatalf("/metrics on the API's port: %s", r.Body)
	}
	s.Must("GET", "/healthz", "", nil, 200)
	s.Must("GET", "/readyz", "", nil, 200)

	if _, err := tdb.Pool.Exec(ctx(t), "update public.healthcare_schema_version set version = version - 1"); err != nil {
		t.Fatal(err)
	}
	r := s.Must("GET", "/readyz", "", nil, 503)
	if r.Problem() != nil || r.Header.Get("Retry-After") == "" {
		t.Fatalf("not ready answer: %v %s", r.Header, r.Body)
	}
	s.Must("GET", "/healthz", "", nil, 200) // alive, just not ready
	if _, err := tdb.Pool.Exec(ctx(t), "update public.healthcare_schema_version set version = version + 1"); err != nil {
		t.Fatal(err)
	}
	s.Must("GET", "/readyz", "", nil, 200)

	u := s.Signup("metrics_user")
	s.Must("POST", "/api/auth/login/", "", map[string]string{"username": u.Name, "password": "wrong"}, 401)
	s.Must("GET", "/api/doctors/", "", nil, 200)
	out := scrape(t, s.metricsURL)
	for _, want := range []string{
		`healthcare_http_requests_total{method="GET",route="/api/doctors/",status="200"} 1`,
		`healthcare_http_requests_total{method="GET",route="/readyz",status="503"} 1`,
		`healthcare_http_request_duration_seconds_count{method="POST",route="/api/auth/login/"} 2`,
		`healthcare_login_failures_total 1`,
		`healthcare_login_throttled_total 0`,
		`healthcare_db_pool_max_conns 8`,
		`healthcare_db_pool_acquires_total`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The API's 404 above is counted like any request, under no route.
	if strings.Contains(out, `route="/metrics"`) {
		t.Errorf("/metrics is a route of the API:\n%s", out)
	}
	// Anything else on the metrics listener is 404.
	if resp, err := http.Get(strings.TrimSuffix(s.metricsURL, "/metrics") + "/api/doctors/"); err != nil || resp.StatusCode != 404 {
		t.Errorf("the metrics listener serves the API: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// SIGTERM: metrics answer through the drain, and the listener is
	// closed once the process has stopped.
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Do("GET", "/readyz", "", nil).Status != 503 {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz did not turn 503 after SIGTERM\n%s", s.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out := scrape(t, s.metricsURL); !strings.Contains(out, `route="/readyz",status="503"`) {
		t.Errorf("metrics during the drain lack the draining /readyz:\n%s", out)
	}
	if code, exited := s.wait(30 * time.Second); !exited || code != 0 {
		t.Fatalf("exit code %d (exited %v) after SIGTERM\n%s", code, exited, s.logs)
	}
	if resp, err := http.Get(s.metricsURL); err == nil {
		resp.Body.Close()
		t.Fatalf("the metrics listener still answers after the server stopped: %s", resp.Status)
	}
}

// scrape GETs a metrics URL and returns the body, failing the test unless
// it is a 200.
func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %v\n%s", url, resp.Status, err, b)
	}
	return string(b)
}
