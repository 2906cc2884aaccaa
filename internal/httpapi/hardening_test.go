package httpapi

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"healthcare/internal/database"
	"healthcare/internal/pgtest"
)

func TestResponseHardeningHeaders(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	u := h.signup("hardened")
	tests := []struct {
		name    string
		method  string
		path    string
		token   string
		noStore bool
	}{
		{"an authenticated read is not stored", "GET", "/api/auth/me/", u.access, true},
		{"an authenticated list is not stored", "GET", "/api/patients/", u.access, true},
		{"a refused token is not stored", "GET", "/api/patients/", "not-a-token", true},
		{"a write is not stored", "POST", "/api/auth/login/", "", true},
		{"an anonymous directory read may be cached", "GET", "/api/doctors/", "", false},
		{"an unknown path", "GET", "/nope", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.method == "POST" {
				body = map[string]any{"username": u.name, "password": "correct horse"}
			}
			r := h.do(tt.method, tt.path, tt.token, body)
			if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", got)
			}
			if got := r.header.Get("Server"); got != "" {
				t.Errorf("Server banner %q", got)
			}
			if got := r.header.Get("Cache-Control") == "no-store"; got != tt.noStore {
				t.Errorf("Cache-Control = %q, want no-store: %v", r.header.Get("Cache-Control"), tt.noStore)
			}
			if r.header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("CORS header without any CORS configuration")
			}
		})
	}
}

func TestCORSIsOffByDefault(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.do("OPTIONS", "/api/patients/", "", nil, "Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
	for k := range r.header {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Errorf("preflight answered with %s: %q", k, r.header.Get(k))
		}
	}
	r = h.do("GET", "/api/doctors/", "", nil, "Origin", "https://evil.example")
	if v := r.header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("Access-Control-Allow-Origin = %q", v)
	}
}

func TestCORSAllowList(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	const app = "https://app.example.com"
	h := newHarnessWith(t, tdb, newKey(), Options{CORSAllowedOrigins: []string{app, "http://localhost:3000"}}, database.Options{})

	// Preflight from a listed origin: answered before routing.
	r := h.do("OPTIONS", "/api/patients/", "", nil, "Origin", app,
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization, content-type")
	if r.status != http.StatusNoContent {
		t.Fatalf("preflight status %d", r.status)
	}
	if got := r.header.Get("Access-Control-Allow-Origin"); got != app {
		t.Errorf("Allow-Origin = %q", got)
	}
	for _, want := range []string{"POST", "DELETE"} {
		if !strings.Contains(r.header.Get("Access-Control-Allow-Methods"), want) {
			t.Errorf("Allow-Methods %q lacks %s", r.header.Get("Access-Control-Allow-Methods"), want)
		}
	}
	if !strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("Allow-Headers = %q", r.header.Get("Access-Control-Allow-Headers"))
	}
	if !slices.Contains(r.header.Values("Vary"), "Origin") {
		t.Errorf("Vary = %q", r.header.Values("Vary"))
	}

	// A simple request from a listed origin.
	r = h.do("GET", "/api/doctors/", "", nil, "Origin", app)
	if got := r.header.Get("Access-Control-Allow-Origin"); got != app || !slices.Contains(r.header.Values("Vary"), "Origin") {
		t.Errorf("listed origin: Allow-Origin %q, Vary %q", got, r.header.Values("Vary"))
	}
	if !strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "Retry-After") {
		t.Errorf("Expose-Headers = %q", r.header.Get("Access-Control-Expose-Headers"))
	}
	if r.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Error("Allow-Credentials sent")
	}

	// An unlisted origin gets nothing, yet caches still learn the answer
	// depends on Origin.
	for _, origin := range []string{"https://evil.example", "https://app.example.com.evil.example", "null"} {
		r = h.do("OPTIONS", "/api/patients/", "", nil, "Origin", origin, "Access-Control-Request-Method", "POST")
		if r.header.Get("Access-Control-Allow-Origin") != "" || r.header.Get("Access-Control-Allow-Methods") != "" {
			t.Errorf("unlisted origin %q was allowed", origin)
		}
		r = h.do("GET", "/api/doctors/", "", nil, "Origin", origin)
		if r.header.Get("Access-Control-Allow-Origin") != "" || !slices.Contains(r.header.Values("Vary"), "Origin") {
			t.Errorf("unlisted origin %q: Allow-Origin %q, Vary %q", origin, r.header.Get("Access-Control-Allow-Origin"), r.header.Values("Vary"))
		}
	}
}

func TestCORSWildcardNeverAllowsCredentials(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, pgtest.New(t), newKey(), Options{CORSAllowedOrigins: []string{"*"}}, database.Options{})
	u := h.signup("wild")
	for _, r := range []response{
		h.do("OPTIONS", "/api/patients/", "", nil, "Origin", "https://any.example", "Access-Control-Request-Method", "GET"),
		h.do("GET", "/api/patients/", u.access, nil, "Origin", "https://any.example"),
	} {
		if got := r.header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("Allow-Origin = %q, want *", got)
		}
		if r.header.Get("Access-Control-Allow-Credentials") != "" {
			t.Error("Allow-Credentials sent with *")
		}
	}
}
