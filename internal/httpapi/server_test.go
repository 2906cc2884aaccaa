package httpapi

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"healthcare/internal/auth"
	"healthcare/internal/database"
	"healthcare/internal/openapi/openapitest"
	"healthcare/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// harness is a real server on 127.0.0.1 over a fresh database.
type harness struct {
	t      *testing.T
	url    string
	db     *database.DB
	tdb    *pgtest.DB
	tokens *auth.Tokens
	key    []byte
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const (
	testIssuer   = "healthcare-test"
	testAudience = "healthcare-test-api"
)

func newHarness(t *testing.T) *harness {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return newHarnessWith(t, pgtest.New(t), key, Options{}, database.Options{MaxConns: 16})
}

// response is what a test looks at.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// id reads a numeric member of the JSON body.
func (r response) id(t *testing.T, name string) int64 {
	t.Helper()
	v, ok := r.json(t)[name].(float64)
	if !ok {
		t.Fatalf("body %s has no numeric %q", r.body, name)
	}
	return int64(v)
}

// do sends a request. body is sent as is when it is a string or []byte,
// otherwise marshalled to JSON.
func (h *harness) do(method, path, token string, body any, headers ...string) response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, h.url+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	h.checkDocumented(req, resp, b)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// specValidator is built once per test binary.
var specValidator = sync.OnceValues(openapitest.NewValidator)

// checkDocumented fails the test when a response to a documented route does
// not match the OpenAPI document (status, headers and body schema), so the
// document cannot drift from what the server answers. Requests to paths the
// document does not describe (probes for unknown routes) are not checked.
func (h *harness) checkDocumented(req *http.Request, resp *http.Response, body []byte) {
	h.t.Helper()
	if (resp.StatusCode >= 300 && resp.StatusCode < 400) || resp.StatusCode == http.StatusMethodNotAllowed {
		return // redirects and wrong methods are the router's answers, not an operation's
	}
	spec, err := specValidator()
	if err != nil {
		h.t.Fatalf("load OpenAPI document: %v", err)
	}
	if _, _, err := spec.FindRoute(req); err != nil {
		return
	}
	if err := spec.ValidateResponse(req.Context(), req, resp.StatusCode, resp.Header, body); err != nil {
		h.t.Fatalf("%s %s: response %d does not match the OpenAPI document: %v\nbody: %s",
			req.Method, req.URL.Path, resp.StatusCode, err, body)
	}
}

var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       30 * time.Second,
}

// expect fails unless r has status want; problems must be problem+json.
func (h *harness) expect(r response, want int, what string) response {
	h.t.Helper()
	if r.status != want {
		h.t.Fatalf("%s: status %d, want %d; body %s", what, r.status, want, r.body)
	}
	if want >= 400 {
		checkProblem(h.t, r, want)
	}
	return r
}

func checkProblem(t *testing.T, r response, status int) map[string]any {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json; body %s", ct, r.body)
	}
	p := r.json(t)
	if p["status"] != float64(status) || p["type"] == nil || p["title"] == nil || p["code"] == nil {
		t.Fatalf("problem %s lacks type/title/status=%d/code", r.body, status)
	}
	return p
}

// user is a signed-up, logged-in account.
type user struct {
	id      int64
	name    string
	access  string
	refresh string
}

var userSeq struct {
	sync.Mutex
	n int
}

func (h *harness) signup(prefix string) user {
	h.t.Helper()
	userSeq.Lock()
	userSeq.n++
	name := fmt.Sprintf("%s%d", prefix, userSeq.n)
	userSeq.Unlock()
	r := h.expect(h.do("POST", "/api/auth/register/", "", map[string]any{
		"username": name, "password": "correct horse", "email": name + "@example.com"}), 201, "register")
	id := r.id(h.t, "id")
	r = h.expect(h.do("POST", "/api/auth/login/", "", map[string]any{"username": name, "password": "correct horse"}), 200, "login")
	m := r.json(h.t)
	return user{id: id, name: name, access: m["access"].(string), refresh: m["refresh"].(string)}
}

func (h *harness) createPatient(u user, name string, age int) int64 {
	h.t.Helper()
	r := h.expect(h.do("POST", "/api/patients/", u.access, map[string]any{"name": name, "age": age, "gender": "other"}), 201, "create patient")
	return r.id(h.t, "id")
}

func (h *harness) createDoctor(u user, name, spec string) int64 {
	h.t.Helper()
	r := h.expect(h.do("POST", "/api/doctors/", u.access, map[string]any{"name": name, "specialization": spec}), 201, "create doctor")
	return r.id(h.t, "id")
}

// listIDs returns the ids in a page body.
func listIDs(t *testing.T, r response) []int64 {
	t.Helper()
	var p struct {
		Count   int
		Results []struct{ ID int64 }
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("page %s: %v", r.body, err)
	}
	ids := make([]int64, len(p.Results))
	for i, x := range p.Results {
		ids[i] = x.ID
	}
	return ids
}

func TestSeedFlowOfANewUser(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.expect(h.do("POST", "/api/auth/register/", "", map[string]any{
		"username": "avinash", "password": "mypassword", "email": "avinash@example.com"}), 201, "register")
	if bytes.Contains(r.body, []byte("argon2")) || bytes.Contains(r.body, []byte("password")) {
		t.Fatalf("register answer leaks the password or hash: %s", r.body)
	}
	r = h.expect(h.do("POST", "/api/auth/login/", "", map[string]any{"username": "avinash", "password": "mypassword"}), 200, "login")
	tokens := r.json(t)
	access, refresh := tokens["access"].(string), tokens["refresh"].(string)
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token response Cache-Control %q, want no-store", r.header.Get("Cache-Control"))
	}

	me := h.expect(h.do("GET", "/api/auth/me/", access, nil), 200, "me").json(t)
	if me["username"] != "avinash" {
		t.Fatalf("me = %v", me)
	}
	patient := h.expect(h.do("POST", "/api/patients/", access, map[string]any{"name": "Avinash", "age": 30, "gender": "M"}), 201, "create patient").id(t, "id")
	h.expect(h.do("GET", "/api/doctors/", "", nil), 200, "list doctors anonymously")
	doctor := h.createDoctor(user{access: access}, "Dr. Rao", "Cardiology")
	h.expect(h.do("GET", "/api/doctors/?specialization=cardiology&search=rao", "", nil), 200, "filter doctors")
	mapping := h.expect(h.do("POST", "/api/mappings/", access, map[string]any{"patient": patient, "doctor": doctor}), 201, "map")
	if mapping.id(t, "patient") != patient || mapping.id(t, "doctor") != doctor {
		t.Fatalf("mapping = %s", mapping.body)
	}
	docs := h.expect(h.do("GET", fmt.Sprintf("/api/mappings/patient/%d/", patient), access, nil), 200, "patient's doctors")
	if ids := listIDs(t, docs); len(ids) != 1 || ids[0] != doctor {
		t.Fatalf("patient's doctors = %s", docs.body)
	}
	h.expect(h.do("GET", "/api/mappings/", access, nil), 200, "list mappings")
	h.expect(h.do("PUT", fmt.Sprintf("/api/patients/%d/", patient), access, map[string]any{"name": "Avinash S", "age": 31, "gender": "male"}), 200, "put patient")
	h.expect(h.do("PATCH", fmt.Sprintf("/api/patients/%d/", patient), access, map[string]any{"age": 32}), 200, "patch patient")

	r = h.expect(h.do("POST", "/api/auth/refresh/", "", map[string]any{"refresh": refresh}), 200, "refresh")
	rotated := r.json(t)
	newRefresh := rotated["refresh"].(string)
	if newRefresh == refresh {
		t.Fatal("refresh did not rotate the refresh token")
	}
	h.expect(h.do("GET", "/api/patients/", rotated["access"].(string), nil), 200, "list with the new access token")
	h.expect(h.do("POST", "/api/auth/logout/", "", map[string]any{"refresh": newRefresh}), 204, "logout")
	h.expect(h.do("POST", "/api/auth/refresh/", "", map[string]any{"refresh": newRefresh}), 401, "refresh after logout")

	h.expect(h.do("DELETE", fmt.Sprintf("/api/mappings/%d/", mapping.id(t, "id")), access, nil), 204, "delete mapping")
	h.expect(h.do("DELETE", fmt.Sprintf("/api/patients/%d/", patient), access, nil), 204, "delete patient")
}

func TestLoginAnswersTheSameForUnknownUsersAndWrongPasswords(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	u := h.signup("erin")
	wrong := h.expect(h.do("POST", "/api/auth/login/", "", map[string]any{"username": u.name, "password": "wrong password"}), 401, "wrong password")
	unknown := h.expect(h.do("POST", "/api/auth/login/", "", map[string]any{"username": "nobody-here", "password": "wrong password"}), 401, "unknown user")
	if !bytes.Equal(wrong.body, unknown.body) {
		t.Fatalf("answers differ:\n%s\n%s", wrong.body, unknown.body)
	}
	if !strings.Contains(string(wrong.body), "No active account found with the given credentials") {
		t.Fatalf("detail = %s", wrong.body)
	}
}
