package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"healthcare/internal/apitest"
	"healthcare/internal/auth"
	"healthcare/internal/database"
	"healthcare/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// harness is a real server on 127.0.0.1 over a fresh database, with a
// client for it.
type harness struct {
	*apitest.Client
	db     *database.DB
	tdb    *pgtest.DB
	tokens *auth.Tokens
	key    []byte
	logs   *apitest.SyncBuffer
}

const (
	testIssuer   = "healthcare-test"
	testAudience = "healthcare-test-api"
)

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, pgtest.New(t), newKey(), Options{}, database.Options{MaxConns: 16})
}

// newRaceHarness is newHarness without the per-user limit on database
// calls, for tests in which one user races many requests against one
// record on purpose (the limit would answer most of them 429).
func newRaceHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, pgtest.New(t), newKey(), Options{}, database.Options{MaxConns: 16, PerCaller: -1})
}

// newHarnessWith is newHarness with Options, on the given database (so
// two servers can share one), signing tokens with key.
func newHarnessWith(t *testing.T, tdb *pgtest.DB, key []byte, opts Options, dbOpts database.Options) *harness {
	t.Helper()
	return newHarnessHashing(t, tdb, key, opts, dbOpts, testParams)
}

// testParams are cheap argon2id parameters for the handler tests.
var testParams = auth.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// newHarnessHashing is newHarnessWith with the server's argon2id parameters
// (ARGON2_*) given.
func newHarnessHashing(t *testing.T, tdb *pgtest.DB, key []byte, opts Options, dbOpts database.Options, params auth.Params) *harness {
	t.Helper()
	db, err := database.Open(context.Background(), tdb.AppURL(), dbOpts)
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(db.Close)
	tokens, err := auth.NewTokens(auth.TokenOptions{Key: key, Issuer: testIssuer, Audience: testAudience,
		AccessTTL: 5 * time.Minute, RefreshTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := auth.NewHasher(params, 4)
	if err != nil {
		t.Fatal(err)
	}
	logs := &apitest.SyncBuffer{}
	srv := httptest.NewServer(NewServer(opts, db, tokens, hasher, zerolog.New(logs)))
	t.Cleanup(srv.Close)
	return &harness{Client: apitest.New(t, srv.URL), db: db, tdb: tdb, tokens: tokens, key: key, logs: logs}
}

func newKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

func TestSeedFlowOfANewUser(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.Expect(h.Do("POST", "/api/auth/register/", "", map[string]any{
		"username": "avinash", "password": "mypassword", "email": "avinash@example.com"}), 201, "register")
	if bytes.Contains(r.Body, []byte("argon2")) || bytes.Contains(r.Body, []byte("password")) {
		t.Fatalf("register answer leaks the password or hash: %s", r.Body)
	}
	r = h.Expect(h.Do("POST", "/api/auth/login/", "", map[string]any{"username": "avinash", "password": "mypassword"}), 200, "login")
	tokens := r.JSON(t)
	access, refresh := tokens["access"].(string), tokens["refresh"].(string)
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token response Cache-Control %q, want no-store", r.Header.Get("Cache-Control"))
	}

	me := h.Expect(h.Do("GET", "/api/auth/me/", access, nil), 200, "me").JSON(t)
	if me["username"] != "avinash" {
		t.Fatalf("me = %v", me)
	}
	patient := h.Expect(h.Do("POST", "/api/patients/", access, map[string]any{"name": "Avinash", "age": 30, "gender": "M"}), 201, "create patient").ID(t, "id")
	h.Expect(h.Do("GET", "/api/doctors/", "", nil), 200, "list doctors anonymously")
	doctor := h.CreateDoctor(apitest.User{Access: access}, "Dr. Rao", "Cardiology")
	h.Expect(h.Do("GET", "/api/doctors/?specialization=cardiology&search=rao", "", nil), 200, "filter doctors")
	mapping := h.Expect(h.Do("POST", "/api/mappings/", access, map[string]any{"patient": patient, "doctor": doctor}), 201, "map")
	if mapping.ID(t, "patient") != patient || mapping.ID(t, "doctor") != doctor {
		t.Fatalf("mapping = %s", mapping.Body)
	}
	docs := h.Expect(h.Do("GET", fmt.Sprintf("/api/mappings/patient/%d/", patient), access, nil), 200, "patient's doctors")
	if ids := docs.IDs(t); len(ids) != 1 || ids[0] != doctor {
		t.Fatalf("patient's doctors = %s", docs.Body)
	}
	h.Expect(h.Do("GET", "/api/mappings/", access, nil), 200, "list mappings")
	h.Expect(h.Do("PUT", fmt.Sprintf("/api/patients/%d/", patient), access, map[string]any{"name": "Avinash S", "age": 31, "gender": "male"}), 200, "put patient")
	h.Expect(h.Do("PATCH", fmt.Sprintf("/api/patients/%d/", patient), access, map[string]any{"age": 32}), 200, "patch patient")

	r = h.Expect(h.Do("POST", "/api/auth/refresh/", "", map[string]any{"refresh": refresh}), 200, "refresh")
	rotated := r.JSON(t)
	newRefresh := rotated["refresh"].(string)
	if newRefresh == refresh {
		t.Fatal("refresh did not rotate the refresh token")
	}
	h.Expect(h.Do("GET", "/api/patients/", rotated["access"].(string), nil), 200, "list with the new access token")
	h.Expect(h.Do("DELETE", fmt.Sprintf("/api/mappings/%d/", mapping.ID(t, "id")), access, nil), 204, "delete mapping")
	h.Expect(h.Do("DELETE", fmt.Sprintf("/api/patients/%d/", patient), access, nil), 204, "delete patient")

	h.Expect(h.Do("POST", "/api/auth/logout/", "", map[string]any{"refresh": newRefresh}), 204, "logout")
	h.Expect(h.Do("POST", "/api/auth/refresh/", "", map[string]any{"refresh": newRefresh}), 401, "refresh after logout")
	// Logout ends the session: both of its access tokens are refused now.
	h.Expect(h.Do("GET", "/api/auth/me/", access, nil), 401, "first access token after logout")
	h.Expect(h.Do("GET", "/api/auth/me/", rotated["access"].(string), nil), 401, "rotated access token after logout")
}

// TestLogoutEndsTheSessionAtEveryServerCopy: a session logged out (or
// revoked for refresh token reuse) through one server copy is refused by
// another on the very next request; the user's other sessions go on.
func TestLogoutEndsTheSessionAtEveryServerCopy(t *testing.T) {
	t.Parallel()
	tdb, key := pgtest.New(t), newKey()
	a := newHarnessWith(t, tdb, key, Options{}, database.Options{})
	b := newHarnessWith(t, tdb, key, Options{}, database.Options{})
	u := a.Signup("two-sessions")
	login := func() (access, refresh string) {
		t.Helper()
		tok := a.Expect(a.Do("POST", "/api/auth/login/", "", map[string]any{"username": u.Name, "password": "correct horse"}), 200, "login").JSON(t)
		return tok["access"].(string), tok["refresh"].(string)
	}
	phone, phoneRefresh := login()
	laptop, laptopRefresh := login()
	b.Expect(b.Do("GET", "/api/patients/", phone, nil), 200, "phone on server B")
	b.Expect(b.Do("GET", "/api/patients/", laptop, nil), 200, "laptop on server B")

	a.Expect(a.Do("POST", "/api/auth/logout/", "", map[string]any{"refresh": phoneRefresh}), 204, "logout on server A")
	r := b.Expect(b.Do("GET", "/api/patients/", phone, nil), 401, "phone on server B after logout")
	apitest.CheckProblem(t, r)
	b.Expect(b.Do("GET", "/api/doctors/", phone, nil), 401, "even a public route refuses the ended session's token")
	b.Expect(b.Do("GET", "/api/patients/", laptop, nil), 200, "the other session goes on")

	// Reuse of a rotated refresh token revokes its family: the laptop's
	// access tokens, old and new, stop at once.
	rot := a.Expect(a.Do("POST", "/api/auth/refresh/", "", map[string]any{"refresh": laptopRefresh}), 200, "rotate").JSON(t)
	b.Expect(b.Do("GET", "/api/patients/", rot["access"].(string), nil), 200, "rotated access token")
	a.Expect(a.Do("POST", "/api/auth/refresh/", "", map[string]any{"refresh": laptopRefresh}), 401, "reuse of the rotated token")
	b.Expect(b.Do("GET", "/api/patients/", laptop, nil), 401, "laptop's first access token after reuse")
	b.Expect(b.Do("GET", "/api/patients/", rot["access"].(string), nil), 401, "laptop's rotated access token after reuse")
}

func TestLoginAnswersTheSameForUnknownUsersAndWrongPasswords(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	u := h.Signup("erin")
	wrong := h.Expect(h.Do("POST", "/api/auth/login/", "", map[string]any{"username": u.Name, "password": "wrong password"}), 401, "wrong password")
	unknown := h.Expect(h.Do("POST", "/api/auth/login/", "", map[string]any{"username": "nobody-here", "password": "wrong password"}), 401, "unknown user")
	if !bytes.Equal(wrong.Body, unknown.Body) {
		t.Fatalf("answers differ:\n%s\n%s", wrong.Body, unknown.Body)
	}
	if !strings.Contains(string(wrong.Body), "No active account found with the given credentials") {
		t.Fatalf("detail = %s", wrong.Body)
	}
}
