// Package apitest is the HTTP test harness shared by the API's test suites:
// the handler tests (internal/httpapi), the in-process `serve` tests
// (cmd/healthcare) and the subprocess fault tests (internal/faulttest).
// Each starts its server its own way and then talks to it through a Client,
// which sends JSON requests, signs users up and logs them in, and asserts
// statuses and problem bodies. Every response a Client's Do receives from
// a route that openapi.yaml documents is checked against the document, so
// no suite can see an answer the document does not allow.
//
// It is imported only by tests; the binary never links it.
package apitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"healthcare/internal/openapi/openapitest"
)

// Password is the password Signup gives every user.
const Password = "correct horse"

// Client talks to one server at BaseURL and fails its test on anything
// unexpected. It never follows redirects, so tests see them.
type Client struct {
	t       testing.TB
	BaseURL string
	HTTP    *http.Client
}

// New returns a Client for the server at baseURL ("http://host:port").
func New(t testing.TB, baseURL string) *Client {
	return &Client{t: t, BaseURL: strings.TrimSuffix(baseURL, "/"), HTTP: noRedirect}
}

var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       30 * time.Second,
}

// Response is an answer read to the end.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as a JSON object.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.Body, err)
	}
	return m
}

// Decode decodes the body into out.
func (r Response) Decode(t testing.TB, out any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, out); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
}

// ID reads a numeric member of the JSON body.
func (r Response) ID(t testing.TB, name string) int64 {
	t.Helper()
	v, ok := r.JSON(t)[name].(float64)
	if !ok {
		t.Fatalf("body %s has no numeric %q", r.Body, name)
	}
	return int64(v)
}

// IDs returns the ids of the results of a page body.
func (r Response) IDs(t testing.TB) []int64 {
	t.Helper()
	var p struct {
		Count   int
		Results []struct{ ID int64 }
	}
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("page %s: %v", r.Body, err)
	}
	ids := make([]int64, len(p.Results))
	for i, x := range p.Results {
		ids[i] = x.ID
	}
	return ids
}

// Problem returns nil when r is an RFC 9457 problem for its own status
// (application/problem+json with type, title, the status and a code),
// else what is wrong with it.
func (r Response) Problem() error {
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		return fmt.Errorf("Content-Type %q, want application/problem+json; body %s", ct, r.Body)
	}
	var p map[string]any
	if err := json.Unmarshal(r.Body, &p); err != nil {
		return fmt.Errorf("problem %q is not a JSON object: %v", r.Body, err)
	}
	if p["status"] != float64(r.Status) || p["type"] == nil || p["title"] == nil || p["code"] == nil {
		return fmt.Errorf("problem %s lacks type/title/status=%d/code", r.Body, r.Status)
	}
	return nil
}

// CheckProblem fails unless r is a problem (see Problem) and returns its
// members.
func CheckProblem(t testing.TB, r Response) map[string]any {
	t.Helper()
	if err := r.Problem(); err != nil {
		t.Fatal(err)
	}
	return r.JSON(t)
}

// Send makes one request and reads the answer; it fails no test, so it
// may run on any goroutine and tolerate a server that is down. body is
// sent as is when it is a string or []byte, otherwise as its JSON; a
// non-nil body is labelled application/json unless headers (name, value
// pairs, applied last) say otherwise. token, when set, is sent as a
// bearer token.
func (c *Client) Send(method, path, token string, body any, headers ...string) (Response, error) {
	req, err := c.request(method, path, token, body, headers)
	if err != nil {
		return Response{}, err
	}
	return c.send(req)
}

func (c *Client) request(method, path, token string, body any, headers []string) (*http.Request, error) {
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
			return nil, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.BaseURL+path, rd)
	if err != nil {
		return nil, err
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
	return req, nil
}

func (c *Client) send(req *http.Request) (Response, error) {
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, err
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// Do is Send that fails the test on a transport error or on an answer the
// OpenAPI document does not allow (see CheckDocumented).
func (c *Client) Do(method, path, token string, body any, headers ...string) Response {
	c.t.Helper()
	req, err := c.request(method, path, token, body, headers)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	r, err := c.send(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	if err := CheckDocumented(req, r); err != nil {
		c.t.Fatal(err)
	}
	return r
}

// Expect fails unless r has status want; an error status must come with a
// problem body. what names the request in the failure.
func (c *Client) Expect(r Response, want int, what string) Response {
	c.t.Helper()
	if r.Status != want {
		c.t.Fatalf("%s: status %d, want %d; body %s", what, r.Status, want, r.Body)
	}
	if want >= 400 {
		if err := r.Problem(); err != nil {
			c.t.Fatalf("%s: %v", what, err)
		}
	}
	return r
}

// Must is Do then Expect.
func (c *Client) Must(method, path, token string, body any, want int) Response {
	c.t.Helper()
	return c.Expect(c.Do(method, path, token, body), want, method+" "+path)
}

// specValidator is built once per test binary.
var specValidator = sync.OnceValues(openapitest.NewValidator)

// CheckDocumented returns an error when r, the answer to req, is to a
// documented route but does not match the OpenAPI document (status,
// headers, body schema), so the document cannot drift from what the server
// answers. Redirects and 405s are the router's, not an operation's; paths
// the document does not describe (probes for unknown routes) are not
// checked.
func CheckDocumented(req *http.Request, r Response) error {
	if (r.Status >= 300 && r.Status < 400) || r.Status == http.StatusMethodNotAllowed {
		return nil
	}
	spec, err := specValidator()
	if err != nil {
		return fmt.Errorf("load OpenAPI document: %w", err)
	}
	if _, _, err := spec.FindRoute(req); err != nil {
		return nil
	}
	if err := spec.ValidateResponse(req.Context(), req, r.Status, r.Header, r.Body); err != nil {
		return fmt.Errorf("%s %s: response %d does not match the OpenAPI document: %w\nbody: %s",
			req.Method, req.URL.Path, r.Status, err, r.Body)
	}
	return nil
}

// User is a signed-up, logged-in account.
type User struct {
	ID      int64
	Name    string
	Access  string
	Refresh string
}

var userSeq atomic.Int64

// Signup registers a user named prefix plus a number unique in the test
// binary, with Password and an e-mail address, logs it in and returns it.
func (c *Client) Signup(prefix string) User {
	c.t.Helper()
	name := fmt.Sprintf("%s%d", prefix, userSeq.Add(1))
	id := c.Must("POST", "/api/auth/register/", "", map[string]any{
		"username": name, "password": Password, "email": name + "@example.com"}, 201).ID(c.t, "id")
	u := c.Login(name, Password)
	u.ID = id
	return u
}

// Login logs name in and returns its tokens (ID is not in the answer).
func (c *Client) Login(name, password string) User {
	c.t.Helper()
	var tok struct{ Access, Refresh string }
	c.Must("POST", "/api/auth/login/", "", map[string]any{"username": name, "password": password}, 200).Decode(c.t, &tok)
	if tok.Access == "" || tok.Refresh == "" {
		c.t.Fatalf("login of %s answered no tokens", name)
	}
	return User{Name: name, Access: tok.Access, Refresh: tok.Refresh}
}

// CreatePatient creates a patient of u's and returns its id.
func (c *Client) CreatePatient(u User, name string, age int) int64 {
	c.t.Helper()
	return c.Must("POST", "/api/patients/", u.Access, map[string]any{"name": name, "age": age, "gender": "other"}, 201).ID(c.t, "id")
}

// CreateDoctor adds a doctor as u and returns its id.
func (c *Client) CreateDoctor(u User, name, specialization string) int64 {
	c.t.Helper()
	return c.Must("POST", "/api/doctors/", u.Access, map[string]any{"name": name, "specialization": specialization}, 201).ID(c.t, "id")
}

// SyncBuffer collects a server's log output; it is safe to write from the
// server while the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Lines returns the complete lines written so far.
func (s *SyncBuffer) Lines() []string {
	text := s.String()
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		return strings.Split(text[:i], "\n")
	}
	return nil
}

// Env is a test's environment, never the process's own: Getenv serves it
// to code that takes a getenv function, Environ to a subprocess.
type Env map[string]string

// Getenv returns the value of key, "" when unset.
func (e Env) Getenv(key string) string { return e[key] }

// Environ returns the variables as KEY=value strings.
func (e Env) Environ() []string {
	out := make([]string, 0, len(e))
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	return out
}
