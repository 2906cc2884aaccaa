package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/rs/zerolog"

	"healthcare/internal/auth"
	"healthcare/internal/openapi"
	"healthcare/internal/openapi/openapitest"
)

var paramRE = regexp.MustCompile(`:([A-Za-z_]+)`)

// documentedAuth reads an operation's security requirements (its own, or
// the document's default) as an Auth.
func documentedAuth(doc *openapi3.T, op *openapi3.Operation) (Auth, bool) {
	reqs := doc.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	anonymous, bearer := len(reqs) == 0, false
	for _, req := range reqs {
		if len(req) == 0 {
			anonymous = true
		}
		if _, ok := req["bearerAuth"]; ok {
			bearer = true
		}
	}
	switch {
	case anonymous && bearer:
		return OptionalToken, true
	case anonymous:
		return Public, true
	case bearer:
		return TokenRequired, true
	}
	return 0, false
}

// TestEveryRouteIsDocumented compares the route table with openapi.yaml
// both ways: every route has an operation with the same operationId and
// the same token requirement, and every operation is a route.
func TestEveryRouteIsDocumented(t *testing.T) {
	doc, err := openapitest.Document()
	if err != nil {
		t.Fatal(err)
	}
	table := Routes()
	if len(table) == 0 {
		t.Fatal("the route table is empty")
	}
	served := map[string]bool{}
	for _, rt := range table {
		path := paramRE.ReplaceAllString(rt.Path, "{$1}")
		key := rt.Method + " " + path
		if served[key] {
			t.Errorf("%s is in the route table twice", key)
		}
		served[key] = true
		item := doc.Paths.Value(path)
		if item == nil || item.GetOperation(rt.Method) == nil {
			t.Errorf("%s is in the route table but has no operation in openapi.yaml", key)
			continue
		}
		op := item.GetOperation(rt.Method)
		if op.OperationID != rt.Operation {
			t.Errorf("%s: operationId %q in openapi.yaml, %q in the route table", key, op.OperationID, rt.Operation)
		}
		if got, ok := documentedAuth(doc, op); !ok || got != rt.Auth {
			t.Errorf("%s: openapi.yaml's security means %v, the route table says %v", key, got, rt.Auth)
		}
	}
	if !served["GET "+openapi.Path] {
		t.Errorf("GET %s (the document itself) is not in the route table", openapi.Path)
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !served[method+" "+path] {
				t.Errorf("%s %s is documented but not in the route table", method, path)
			}
		}
	}
}

// TestTheRouterServesTheTable checks what addRoutes made of each entry
// without a database: the route is found, and its Auth is enforced before
// the handler runs (no token where one is required, a bad token where one
// is optional: 401 either way).
func TestTheRouterServesTheTable(t *testing.T) {
	tokens, err := auth.NewTokens(auth.TokenOptions{Key: bytes.Repeat([]byte("k"), 32), Issuer: testIssuer,
		Audience: testAudience, AccessTTL: time.Minute, RefreshTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	router := newRouter()
	addRoutes(router, deps{tokens: tokens})
	for _, rt := range Routes() {
		path := paramRE.ReplaceAllString(rt.Path, "1")
		if h, _, _ := router.Lookup(rt.Method, path); h == nil {
			t.Errorf("%s %s (as %s) is not registered", rt.Method, rt.Path, path)
			continue
		}
		var header, want string
		switch rt.Auth {
		case TokenRequired:
			want = "not_authenticated"
		case OptionalToken:
			header, want = "Bearer not-a-token", "token_not_valid"
		default:
			continue
		}
		req := httptest.NewRequest(rt.Method, path, nil)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		rec := httptest.NewRecorder()
		router.ServeHTTP(rec, req)
		var p struct{ Code string }
		_ = json.Unmarshal(rec.Body.Bytes(), &p)
		if rec.Code != http.StatusUnauthorized || p.Code != want {
			t.Errorf("%s %s (%v): status %d code %q, want 401 %s", rt.Method, path, rt.Auth, rec.Code, p.Code, want)
		}
	}
}

func TestRoutingEdgeCases(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	u := h.Signup("ray")
	patient := h.CreatePatient(u, "Ray", 9)
	doctor := h.CreateDoctor(u, "Dr. Ray", "X")
	mapping := h.Expect(h.Do("POST", "/api/mappings/", u.Access, map[string]any{"patient": patient, "doctor": doctor}), 201, "map").ID(t, "id")

	t.Run("the patient segment under mappings lists a patient's doctors", func(t *testing.T) {
		r := h.Expect(h.Do("GET", fmt.Sprintf("/api/mappings/patient/%d/", patient), u.Access, nil), 200, "patient doctors")
		if ids := r.IDs(t); len(ids) != 1 || ids[0] != doctor {
			t.Fatalf("doctors = %s", r.Body)
		}
	})
	t.Run("a numeric mapping id still reaches the mapping", func(t *testing.T) {
		if got := h.Expect(h.Do("GET", fmt.Sprintf("/api/mappings/%d/", mapping), u.Access, nil), 200, "get mapping").ID(t, "id"); got != mapping {
			t.Fatalf("mapping id %d, want %d", got, mapping)
		}
	})
	t.Run("another word in place of patient is not found", func(t *testing.T) {
		h.Expect(h.Do("GET", fmt.Sprintf("/api/mappings/doctor/%d/", doctor), u.Access, nil), 404, "doctor segment")
	})
	t.Run("the bare patient segment is not found", func(t *testing.T) {
		h.Expect(h.Do("GET", "/api/mappings/patient/", u.Access, nil), 404, "bare patient")
	})
	t.Run("an unknown path is a 404 problem", func(t *testing.T) {
		h.Expect(h.Do("GET", "/api/nothing/", u.Access, nil), 404, "unknown")
	})
	t.Run("a wrong method is 405 with Allow", func(t *testing.T) {
		r := h.Expect(h.Do("DELETE", "/api/patients/", u.Access, nil), 405, "delete list")
		if allow := r.Header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
			t.Fatalf("Allow = %q", allow)
		}
	})
	t.Run("a missing trailing slash redirects to the seed's path", func(t *testing.T) {
		r := h.Do("GET", "/api/patients", u.Access, nil)
		if r.Status != http.StatusMovedPermanently || r.Header.Get("Location") != "/api/patients/" {
			t.Fatalf("status %d Location %q", r.Status, r.Header.Get("Location"))
		}
	})
	t.Run("a POST or PUT without the trailing slash names the right path", func(t *testing.T) {
		for _, c := range []struct{ method, path, right string }{
			{"POST", "/api/patients", "/api/patients/"},
			{"POST", "/api/auth/login", "/api/auth/login/"},
			{"PUT", "/api/doctors/7", "/api/doctors/7/"},
			{"DELETE", "/api/mappings/3", "/api/mappings/3/"},
		} {
			r := h.Do(c.method, c.path+"?x=1", u.Access, map[string]any{"name": "x"})
			if r.Status != http.StatusPermanentRedirect || r.Header.Get("Location") != c.right+"?x=1" {
				t.Fatalf("%s %s: status %d Location %q, want 308 to %s", c.method, c.path, r.Status, r.Header.Get("Location"), c.right)
			}
			if err := r.Problem(); err != nil {
				t.Fatalf("%s %s: %v", c.method, c.path, err)
			}
			p := r.JSON(t)
			if p["code"] != "trailing_slash" || !strings.Contains(fmt.Sprint(p["detail"]), c.right) {
				t.Fatalf("%s %s: problem %v does not name %s", c.method, c.path, p, c.right)
			}
		}
		// A path that is no route with either spelling stays a 404.
		h.Expect(h.Do("POST", "/api/nothing", u.Access, nil), 404, "unknown path")
	})
	t.Run("the server's request id is its own; a client's is logged apart", func(t *testing.T) {
		r := h.Do("GET", "/api/doctors/", "", nil, "X-Request-Id", "abc-123")
		server := r.Header.Get("X-Request-Id")
		if server == "" || server == "abc-123" {
			t.Fatalf("X-Request-Id %q: the server must answer with its own id", server)
		}
		if !strings.Contains(h.logs.String(), `"request_id":"`+server+`","client_request_id":"abc-123"`) {
			t.Fatalf("the access log does not hold both ids:\n%s", h.logs.String())
		}
		r = h.Do("GET", "/api/doctors/", "", nil, "X-Request-Id", "bad id with spaces")
		if got := r.Header.Get("X-Request-Id"); got == "" || strings.Contains(got, " ") {
			t.Fatalf("X-Request-Id %q", got)
		}
		if strings.Contains(h.logs.String(), "bad id with spaces") {
			t.Fatal("an unsafe client id reached the log")
		}
	})
	t.Run("responses carry hardening headers", func(t *testing.T) {
		r := h.Do("GET", "/api/patients/", u.Access, nil)
		if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("headers %v", r.Header)
		}
		if r.Header.Get("Server") != "" {
			t.Fatalf("server banner %q", r.Header.Get("Server"))
		}
	})
	t.Run("limit is clamped to 100", func(t *testing.T) {
		r := h.Expect(h.Do("GET", "/api/doctors/?limit=100000000000000000000", "", nil), 200, "huge limit")
		if !bytes.Contains(r.Body, []byte(`"count"`)) {
			t.Fatalf("body %s", r.Body)
		}
	})
	t.Run("the access log has the route pattern and never the token or raw id", func(t *testing.T) {
		logs := h.logs.String()
		if !strings.Contains(logs, `"route":"/api/patients/:id/"`) && !strings.Contains(logs, `"route":"/api/mappings/patient/:patient_id/"`) {
			t.Fatalf("no route pattern in logs:\n%s", logs)
		}
		if strings.Contains(logs, u.Access) || strings.Contains(logs, "correct horse") || strings.Contains(logs, "Dr. Ray") {
			t.Fatal("the access log holds a token, password or record field")
		}
	})
}

func TestAPanicBecomesA500ProblemWithTheRequestID(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	h := recoverPanics(zerolog.New(&logs), withRequestID(newRequestIDs(), nil, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom")
	})))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/x", nil)
	req.Header.Set("X-Request-Id", "panic-1")
	h.ServeHTTP(rec, req)
	id := rec.Header().Get("X-Request-Id")
	if rec.Code != 500 || rec.Header().Get("Content-Type") != "application/problem+json" || id == "" || id == "panic-1" ||
		!strings.Contains(rec.Body.String(), `"request_id":"`+id+`"`) || strings.Contains(rec.Body.String(), "boom") {
		t.Fatalf("status %d body %s", rec.Code, rec.Body.String())
	}
	if !strings.Contains(logs.String(), "boom") {
		t.Fatal("the panic was not logged")
	}
}

func TestAStreamedOversizedBodyIs413(t *testing.T) {
	t.Parallel()
	h := limitBody(1024, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := decode[patientInput](r)
		writeError(w, r, err)
	}))
	body := io.MultiReader(strings.NewReader(`{"name":"`), strings.NewReader(strings.Repeat("a", 4096)), strings.NewReader(`"}`))
	req := httptest.NewRequest("POST", "/api/patients/", body)
	req.ContentLength = -1 // unknown length: only MaxBytesReader can stop it
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d body %s", rec.Code, rec.Body.String())
	}
}
