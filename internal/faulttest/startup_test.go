package faulttest

import (
	"strings"
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
// version is the binary's; /metrics counts requests and logins.
func TestReadyzAndMetrics(t *testing.T) {
	tdb := pgtest.New(t)
	s := start(t, baseEnv(tdb.AppURL()))
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
	out := string(s.Must("GET", "/metrics", "", nil, 200).Body)
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
}
