package httpapi

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"healthcare/internal/auth"
	"healthcare/internal/database"
	"healthcare/internal/pgtest"
)

// newHarnessWith is newHarness with Options, on the given database (so
// two servers can share one), signing tokens with key.
func newHarnessWith(t *testing.T, tdb *pgtest.DB, key []byte, opts Options, dbOpts database.Options) *harness {
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
	hasher, err := auth.NewHasher(auth.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 4)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	srv := httptest.NewServer(NewServer(opts, db, tokens, hasher, zerolog.New(logs)))
	t.Cleanup(srv.Close)
	return &harness{t: t, url: srv.URL, db: db, tdb: tdb, tokens: tokens, key: key, logs: logs}
}

func newKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

// loopback trusts the test client's own address as a proxy, so tests can
// pose as any client address through X-Forwarded-For.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

func (h *harness) login(name, password, from string) response {
	h.t.Helper()
	var hdr []string
	if from != "" {
		hdr = []string{"X-Forwarded-For", from}
	}
	return h.do("POST", "/api/auth/login/", "", map[string]any{"username": name, "password": password}, hdr...)
}

// expectThrottled checks a 429 problem with a Retry-After within the window.
func expectThrottled(t *testing.T, r response, window time.Duration) {
	t.Helper()
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429; body %s", r.status, r.body)
	}
	checkProblem(t, r, http.StatusTooManyRequests)
	s, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || s < 1 || time.Duration(s)*time.Second > window {
		t.Fatalf("Retry-After %q, want 1..%v seconds", r.header.Get("Retry-After"), window)
	}
}

func TestLoginThrottledPerAccountFromAnyAddress(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, pgtest.New(t), newKey(), Options{TrustedProxies: loopback,
		LoginThrottle: LoginThrottle{MaxPerAccount: 3, MaxPerAddress: 100, Window: time.Hour}}, database.Options{})
	u := h.signup("throttled")
	for i := range 3 {
		h.expect(h.login(u.name, "wrong password", "10.0.0."+strconv.Itoa(i+1)), 401, "wrong password")
	}
	// The right password from a fresh address, even with other letter case.
	expectThrottled(t, h.login(u.name, "correct horse", "10.9.9.9"), time.Hour)
	expectThrottled(t, h.login(strings.ToUpper(u.name), "wrong password", "10.9.9.8"), time.Hour)
	// Another account from the same addresses is unaffected.
	other := h.signup("bystander")
	h.expect(h.login(other.name, "correct horse", "10.0.0.1"), 200, "other account")
}

func TestLoginThrottledPerAddressAcrossAccounts(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, pgtest.New(t), newKey(), Options{TrustedProxies: loopback,
		LoginThrottle: LoginThrottle{MaxPerAccount: 100, MaxPerAddress: 3, Window: time.Hour}}, database.Options{})
	a, b := h.signup("addr-a"), h.signup("addr-b")
	h.expect(h.login(a.name, "wrong password", "203.0.113.7"), 401, "a")
	h.expect(h.login(b.name, "wrong password", "203.0.113.7"), 401, "b")
	h.expect(h.login("no-such-user", "wrong password", "203.0.113.7"), 401, "unknown")
	expectThrottled(t, h.login(a.name, "correct horse", "203.0.113.7"), time.Hour)
	// The same account from another address still logs in.
	h.expect(h.login(a.name, "correct horse", "203.0.113.8"), 200, "other address")
}

func TestLoginSuccessResetsTheAccountCount(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, pgtest.New(t), newKey(), Options{TrustedProxies: loopback,
		LoginThrottle: LoginThrottle{MaxPerAccount: 3, MaxPerAddress: 100, Window: time.Hour}}, database.Options{})
	u := h.signup("resets")
	for round := range 3 {
		// Without the reset the count would reach 3 in the second round.
		h.expect(h.login(u.name, "wrong password", "10.1.1.1"), 401, "fail 1")
		h.expect(h.login(u.name, "wrong password", "10.1.1.2"), 401, "fail 2")
		h.expect(h.login(u.name, "correct horse", "10.1.1.3"), 200, "success in round "+strconv.Itoa(round))
	}
}

func TestLoginThrottleIsSharedByServerCopies(t *testing.T) {
	t.Parallel()
	tdb, key := pgtest.New(t), newKey()
	opts := Options{TrustedProxies: loopback, LoginThrottle: LoginThrottle{MaxPerAccount: 2, MaxPerAddress: 100, Window: time.Hour}}
	a := newHarnessWith(t, tdb, key, opts, database.Options{})
	b := newHarnessWith(t, tdb, key, opts, database.Options{})
	u := a.signup("shared")
	a.expect(a.login(u.name, "wrong password", "10.2.0.1"), 401, "fail on server A")
	b.expect(b.login(u.name, "wrong password", "10.2.0.2"), 401, "fail on server B")
	expectThrottled(t, a.login(u.name, "correct horse", "10.2.0.3"), time.Hour)
	expectThrottled(t, b.login(u.name, "correct horse", "10.2.0.4"), time.Hour)
}

// Concurrent guesses are serialized by row locks in PostgreSQL: exactly the
// limit's worth of them reach the password check.
func TestConcurrentGuessesCannotExceedTheLimit(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, pgtest.New(t), newKey(), Options{TrustedProxies: loopback,
		LoginThrottle: LoginThrottle{MaxPerAccount: 3, MaxPerAddress: 1000, Window: time.Hour}}, database.Options{MaxConns: 16})
	u := h.signup("race")
	const n = 12
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = h.login(u.name, "wrong password", "10.3.0."+strconv.Itoa(i+1)).status
		}()
	}
	wg.Wait()
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	if counts[401] != 3 || counts[429] != n-3 {
		t.Fatalf("statuses %v; want 3 x 401 and %d x 429", counts, n-3)
	}
}

func TestLoginThrottleEndsWithTheWindow(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, pgtest.New(t), newKey(), Options{TrustedProxies: loopback,
		LoginThrottle: LoginThrottle{MaxPerAccount: 1, MaxPerAddress: 100, Window: time.Second}}, database.Options{})
	u := h.signup("window")
	h.expect(h.login(u.name, "wrong password", "10.4.0.1"), 401, "fail")
	r := h.login(u.name, "correct horse", "10.4.0.1")
	expectThrottled(t, r, time.Second)
	time.Sleep(1200 * time.Millisecond) // Retry-After said 1 s
	h.expect(h.login(u.name, "correct horse", "10.4.0.1"), 200, "after the window")
}

// Without TRUSTED_PROXIES a client cannot dodge the address limit by
// sending X-Forwarded-For.
func TestForwardedForIgnoredFromUntrustedPeers(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, pgtest.New(t), newKey(), Options{
		LoginThrottle: LoginThrottle{MaxPerAccount: 100, MaxPerAddress: 2, Window: time.Hour}}, database.Options{})
	h.expect(h.login("x1", "wrong password", "198.51.100.1"), 401, "first")
	h.expect(h.login("x2", "wrong password", "198.51.100.2"), 401, "second")
	expectThrottled(t, h.login("x3", "wrong password", "198.51.100.3"), time.Hour)
}

func TestClientAddress(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name, remote, xff string
		trusted           []netip.Prefix
		want              string
	}{
		{"the peer is the client by default", "192.0.2.1:5000", "", nil, "192.0.2.1"},
		{"forwarded-for is ignored without trusted proxies", "192.0.2.1:5000", "198.51.100.9", nil, "192.0.2.1"},
		{"forwarded-for is ignored from an untrusted peer", "192.0.2.1:5000", "198.51.100.9", trusted, "192.0.2.1"},
		{"a trusted proxy names the client", "10.0.0.2:5000", "198.51.100.9", trusted, "198.51.100.9"},
		{"trusted hops are skipped from the right", "10.0.0.2:5000", "198.51.100.9, 10.1.1.1, 10.2.2.2", trusted, "198.51.100.9"},
		{"a spoofed leftmost entry is not believed", "10.0.0.2:5000", "1.2.3.4, 198.51.100.9", trusted, "198.51.100.9"},
		{"a malformed hop stops the walk", "10.0.0.2:5000", "198.51.100.9, junk", trusted, "10.0.0.2"},
		{"IPv6 loopback proxy", "[::1]:5000", "2001:db8::7", trusted, "2001:db8::7"},
		{"IPv4-mapped addresses are unmapped", "[::ffff:192.0.2.5]:1", "", nil, "192.0.2.5"},
		{"only proxies in the chain: the leftmost", "10.0.0.2:5000", "10.9.9.9", trusted, "10.9.9.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api/auth/login/", nil)
			r.RemoteAddr = tt.remote
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if got := clientAddress(r, tt.trusted); got != tt.want {
				t.Fatalf("clientAddress = %q, want %q", got, tt.want)
			}
		})
	}
}
