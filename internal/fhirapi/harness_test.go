package fhirapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"github.com/rs/zerolog"

	"healthcare/internal/apitest"
	"healthcare/internal/auth"
	"healthcare/internal/database"
	"healthcare/internal/httpapi"
	"healthcare/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// harness is the whole REST server (with /fhir) on 127.0.0.1 over a fresh
// database: REST for sign-up and log-in, FHIR for the rest.
type harness struct {
	*apitest.Client
	t   *testing.T
	tdb *pgtest.DB
	db  *database.DB
	// base is the FHIR base URL the server answers with.
	base string
	key  []byte
}

func newHarness(t *testing.T) *harness {
	return newHarnessWith(t, httpapi.Options{})
}

func newHarnessWith(t *testing.T, opts httpapi.Options) *harness {
	t.Helper()
	tdb := pgtest.New(t)
	db, err := database.Open(context.Background(), tdb.AppURL(), database.Options{MaxConns: 8})
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(db.Close)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	tokens, err := auth.NewTokens(auth.TokenOptions{Key: key, Issuer: "fhir-test", Audience: "fhir-test-api",
		AccessTTL: 5 * time.Minute, RefreshTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := auth.NewHasher(auth.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 4)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.NewServer(opts, db, tokens, hasher, zerolog.Nop()))
	t.Cleanup(srv.Close)
	base := srv.URL + "/fhir"
	if opts.FHIRBaseURL != "" {
		base = opts.FHIRBaseURL
	}
	return &harness{Client: apitest.New(t, srv.URL), t: t, tdb: tdb, db: db, base: base, key: key}
}

// admin signs up a user and makes it an admin.
func (h *harness) admin(prefix string) apitest.User {
	h.t.Helper()
	u := h.Signup(prefix)
	if _, err := h.tdb.Pool.Exec(context.Background(), "update app.users set is_admin = true where id = $1", u.ID); err != nil {
		h.t.Fatal(err)
	}
	return u
}

// answer is one FHIR response.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// fhir sends a FHIR request (path under /fhir, or an absolute URL the
// server gave) and validates every body it answers against FHIR R4.
func (h *harness) fhir(method, path, token string, body any, headers ...string) answer {
	h.t.Helper()
	url := path
	if !strings.HasPrefix(path, "http") {
		url = h.BaseURL + "/fhir" + path
	}
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
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	req.Header.Set("Accept", "application/fhir+json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := h.HTTP.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, body: b}
	if resp.StatusCode >= 500 {
		h.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if len(b) > 0 {
		if ct := resp.Header.Get("Content-Type"); ct != "application/fhir+json; charset=utf-8" {
			h.t.Fatalf("%s %s: Content-Type %q", method, path, ct)
		}
		if err := validationError(b); err != nil {
			h.t.Fatalf("%s %s: %d: not a valid FHIR R4 resource: %v\n%s", method, path, resp.StatusCode, err, b)
		}
	}
	return a
}

// must is fhir that fails unless the status is want; an error status must
// carry an OperationOutcome.
func (h *harness) must(method, path, token string, body any, want int, headers ...string) answer {
	h.t.Helper()
	a := h.fhir(method, path, token, body, headers...)
	if a.status != want {
		h.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, a.status, want, a.body)
	}
	if want >= 400 && resourceType(h.t, a.body) != "OperationOutcome" {
		h.t.Fatalf("%s %s: %d without an OperationOutcome: %s", method, path, a.status, a.body)
	}
	return a
}

// json decodes a body.
func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("body %q: %v", a.body, err)
	}
	return m
}

func resourceType(t *testing.T, body []byte) string {
	t.Helper()
	var r struct{ ResourceType string }
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return r.ResourceType
}

// unmarshaller is Google's FHIR R4 parser: it checks a resource against
// the R4 definitions its protocol buffers were generated from (elements,
// types, cardinalities, required fields, primitive formats, codes of
// required bindings, reference targets).
var unmarshaller = sync.OnceValues(func() (*jsonformat.Unmarshaller, error) {
	return jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
})

// validationError is nil when body is a valid FHIR R4 resource.
func validationError(body []byte) error {
	u, err := unmarshaller()
	if err != nil {
		return err
	}
	_, err = u.Unmarshal(body)
	return err
}

// httpapiOptions are server options with a small body limit.
func httpapiOptions(maxBody int64) httpapi.Options {
	return httpapi.Options{MaxBodyBytes: maxBody}
}
