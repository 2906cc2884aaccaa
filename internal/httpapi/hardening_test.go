package httpapi

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"healthcare/internal/apitest"
	"healthcare/internal/database"
	"healthcare/internal/pgtest"
)

func TestResponseHardeningHeaders(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	u := h.Signup("hardened")
	tests := []struct {
		name    string
		method  string
		path    string
		token   string
		noStore bool
	}{
		{"an authenticated read is not stored", "GET", "/api/auth/me/", u.Access, true},
		{"an authenticated list is not stored", "GET", "/api/patients/", u.Access, true},
		{"a refused token is not stored", "GET", "/api/patients/", "not-a-token", true},
		{"a write is not stored", "POST", "/api/auth/login/", "", true},
		{"an anonymous directory read may be cached", "GET", "/api/doctors/", "", false},
		{"an unknown path", "GET", "/nope", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.method == "POST" {
				body = map[string]any{"username": u.Name, "password": "correct horse"}
			}
			r := h.Do(tt.method, tt.path, tt.token, body)
			if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", got)
			}
			if got := r.Header.Get("Server"); got != "" {
				t.Errorf("Server banner %q", got)
			}
			if got := r.Header.Get("Cache-Control") == "no-store"; got != tt.noStore {
				t.Errorf("Cache-Control = %q, want no-store: %v", r.Header.Get("Cache-Control"), tt.noStore)
			}
			if r.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("CORS header without any CORS configuration")
			}
		})
	}
}

func TestCORSIsOffByDefault(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.Do("OPTIONS", "/api/patients/", "", nil, "Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
	for k := range r.Header {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Errorf("preflight answered with %s: %q", k, r.Header.Get(k))
		}
	}
	r = h.Do("GET", "/api/doctors/", "", nil, "Origin", "https://evil.example")
	if v := r.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("Access-Control-Allow-Origin = %q", v)
	}
}

func TestCORSAllowList(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	const app = "https://app.example.com"
	h := newHarnessWith(t, tdb, newKey(), Options{CORSAllowedOrigins: []string{app, "http://localhost:3000"}}, database.Options{})

	// Preflight from a listed origin: answered before routing.
	r := h.Do("OPTIONS", "/api/patients/", "", nil, "Origin", app,
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization, content-type")
	if r.Status != http.StatusNoContent {
		t.Fatalf("preflight status %d", r.Status)
	}
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != app {
		t.Errorf("Allow-Origin = %q", got)
	}
	for _, want := range []string{"POST", "DELETE"} {
		if !strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), want) {
			t.Errorf("Allow-Methods %q lacks %s", r.Header.Get("Access-Control-Allow-Methods"), want)
		}
	}
	if !strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("Allow-Headers = %q", r.Header.Get("Access-Control-Allow-Headers"))
	}
	if !slices.Contains(r.Header.Values("Vary"), "Origin") {
		t.Errorf("Vary = %q", r.Header.Values("Vary"))
	}

	// A simple request from a listed origin.
	r = h.Do("GET", "/api/doctors/", "", nil, "Origin", app)
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != app || !slices.Contains(r.Header.Values("Vary"), "Origin") {
		t.Errorf("listed origin: Allow-Origin %q, Vary %q", got, r.Header.Values("Vary"))
	}
	if !strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "Retry-After") {
		t.Errorf("Expose-Headers = %q", r.Header.Get("Access-Control-Expose-Headers"))
	}
	if r.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Error("Allow-Credentials sent")
	}

	// An unlisted origin gets nothing, yet caches still learn the answer
	// depends on Origin.
	for _, origin := range []string{"https://evil.example", "https://app.example.com.evil.example", "null"} {
		r = h.Do("OPTIONS", "/api/patients/", "", nil, "Origin", origin, "Access-Control-Request-Method", "POST")
		if r.Header.Get("Access-Control-Allow-Origin") != "" || r.Header.Get("Access-Control-Allow-Methods") != "" {
			t.Errorf("unlisted origin %q was allowed", origin)
		}
		r = h.Do("GET", "/api/doctors/", "", nil, "Origin", origin)
		if r.Header.Get("Access-Control-Allow-Origin") != "" || !slices.Contains(r.Header.Values("Vary"), "Origin") {
			t.Errorf("unlisted origin %q: Allow-Origin %q, Vary %q", origin, r.Header.Get("Access-Control-Allow-Origin"), r.Header.Values("Vary"))
		}
	}
}

func TestCORSWildcardNeverAllowsCredentials(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, pgtest.New(t), newKey(), Options{CORSAllowedOrigins: []string{"*"}}, database.Options{})
	u := h.Signup("wild")
	for _, r := range []apitest.Response{
		h.Do("OPTIONS", "/api/patients/", "", nil, "Origin", "https://any.example", "Access-Control-Request-Method", "GET"),
		h.Do("GET", "/api/patients/", u.Access, nil, "Origin", "https://any.example"),
	} {
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("Allow-Origin = %q, want *", got)
		}
		if r.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Error("Allow-Credentials sent with *")
		}
	}
}
