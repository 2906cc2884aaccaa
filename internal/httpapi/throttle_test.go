package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/apitest"
	"healthcare/internal/database"
	"healthcare/internal/dbadmin"
	"healthcare/internal/pgtest"
)

// loopback trusts the test client's own address as a proxy, so tests can
// pose as any client address through X-Forwarded-For.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

func (h *harness) login(name, password, from string) apitest.Response {
	var hdr []string
	if from != "" {
		hdr = []string{"X-Forwarded-For", from}
	}
	return h.Do("POST", "/api/auth/login/", "", map[string]any{"username": name, "password": password}, hdr...)
}

// expectThrottled checks a 429 problem with a Retry-After within the window.
func expectThrottled(t *testing.T, r apitest.Response, window time.Duration) {
	t.Helper()
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429; body %s", r.Status, r.Body)
	}
	apitest.CheckProblem(t, r)
	s, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || s < 1 || time.Duration(s)*time.Second > window {
		t.Fatalf("Retry-After %q, want 1..%v seconds", r.Header.Get("Retry-After"), window)
	}
}

func TestLoginThrottledPerAccountAndAddress(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, pgtest.New(t), newKey(), Options{TrustedProxies: loopback,
		LoginThrottle: LoginThrottle{MaxPerAccount: 3, AccountFlood: 100, MaxPerAddress: 100, Window: time.Hour}}, database.Options{})
	u := h.Signup("throttled")
	for range 3 {
		h.Expect(h.login(u.Name, "wrong password", "10.0.0.1"), 401, "wrong password")
	}
	// That address is refused for this account, even with the right
	// password and other letter case.
	expectThrottled(t, h.login(u.Name, "correct horse", "10.0.0.1"), time.Hour)
	expectThrottled(t, h.login(strings.ToUpper(u.Name), "wrong password", "10.0.0.1"), time.Hour)
	// Another account from the same address is unaffected.
	other := h.Signup("bystander")
	h.Expect(h.login(other.Name, "correct horse", "10.0.0.1"), 200, "other account")
}

// TestFailuresFromElsewhereCannotLockTheOwnerOut: wrong passwords from
// anywhere, even a flood past the account limit, never refuse the owner
// logging in correctly from an address that has not failed.
func TestFailuresFromElsewhereCannotLockTheOwnerOut(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, pgtest.New(t), newKey(), Options{TrustedProxies: loopback,
		LoginThrottle: LoginThrottle{MaxPerAccount: 5, AccountFlood: 6, MaxPerAddress: 100, Window: time.Hour}}, database.Options{})
	u := h.Signup("victim")
	// The attacker's five wrong passwords from one address: the owner's
	// address is untouched.
	for range 5 {
		h.Expect(h.login(u.Name, "wrong password", "198.51.100.1"), 401, "attacker")
	}
	expectThrottled(t, h.login(u.Name, "wrong password", "198.51.100.1"), time.Hour)
	h.Expect(h.login(u.Name, "correct horse", "192.0.2.10"), 200, "the owner from home")
	// A flood from many addresses past the account limit: every address
	// that already failed is refused at once (429), a new address still
	// gets its one guess, and the owner still logs in.
	for i := range 8 {
		h.Expect(h.login(u.Name, "wrong password", "198.51.100."+strconv.Itoa(10+i)), 401, "flood")
	}
	for i := range 8 {
		expectThrottled(t, h.login(u.Name, "wrong password", "198.51.100."+strconv.Itoa(10+i)), time.Hour)
	}
	h.Expect(h.login(u.Name, "wrong password", "198.51.100.200"), 401, "a fresh address guesses once")
	expectThrottled(t, h.login(u.Name, "wrong password", "198.51.100.200"), time.Hour)
	h.Expect(h.login(u.Name, "correct horse", "192.0.2.11"), 200, "the owner from the office")
}

func TestLoginThrottledPerAddressAcrossAccounts(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, pgtest.New(t), newKey(), Options{TrustedProxies: loopback,
		LoginThrottle: LoginThrottle{MaxPerAccount: 100, MaxPerAddress: 3, Window: time.Hour}}, database.Options{})
	a, b := h.Signup("addr-a"), h.Signup("addr-b")
	h.Expect(h.login(a.Name, "wrong password", "203.0.113.7"), 401, "a")
	h.Expect(h.login(b.Name, "wrong password", "203.0.113.7"), 401, "b")
	h.Expect(h.login("no-such-user", "wrong password", "203.0.113.7"), 401, "unknown")
	expectThrottled(t, h.login(a.Name, "correct horse", "203.0.113.7"), time.Hour)
	// The same account from another address still logs in.
	h.Expect(h.login(a.Name, "correct horse", "203.0.113.8"), 200, "other address")
}

func TestLoginSuccessResetsTheAddressCount(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, pgtest.New(t), newKey(), Options{TrustedProxies: loopback,
		LoginThrottle: LoginThrottle{MaxPerAccount: 3, MaxPerAddress: 100, Window: time.Hour}}, database.Options{})
	u := h.Signup("resets")
	for round := range 3 {
		// Without the reset the pair's count would reach 3 in the second round.
		h.Expect(h.login(u.Name, "wrong password", "10.1.1.1"), 401, "fail 1")
		h.Expect(h.login(u.Name, "wrong password", "10.1.1.1"), 401, "fail 2")
		h.Expect(h.login(u.Name, "correct horse", "10.1.1.1"), 200, "success in round "+strconv.Itoa(round))
	}
}

func TestLoginThrottleIsSharedByServerCopies(t *testing.T) {
	t.Parallel()
	tdb, key := pgtest.New(t), newKey()
	opts := Options{TrustedProxies: loopback, LoginThrottle: LoginThrottle{MaxPerAccount: 2, MaxPerAddress: 100, Window: time.Hour}}
	a := newHarnessWith(t, tdb, key, opts, database.Options{})
	b := newHarnessWith(t, tdb, key, opts, database.Options{})
	u := a.Signup("shared")
	a.Expect(a.login(u.Name, "wrong password", "10.2.0.1"), 401, "fail on server A")
	b.Expect(b.login(u.Name, "wrong password", "10.2.0.1"), 401, "fail on server B")
	expectThrottled(t, a.login(u.Name, "correct horse", "10.2.0.1"), time.Hour)
	expectThrottled(t, b.login(u.Name, "correct horse", "10.2.0.1"), time.Hour)
}

// Concurrent guesses are serialized by row locks in PostgreSQL: exactly the
// limit's worth of them reach the password check.
func TestConcurrentGuessesCannotExceedTheLimit(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, pgtest.New(t), newKey(), Options{TrustedProxies: loopback,
		LoginThrottle: LoginThrottle{MaxPerAccount: 3, MaxPerAddress: 1000, Window: time.Hour}},
		database.Options{MaxConns: 16, PerCaller: -1}) // the login throttle's 429s only

	u := h.Signup("race")
	const n = 12
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = h.login(u.Name, "wrong password", "10.3.0.1").Status
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
	u := h.Signup("window")
	h.Expect(h.login(u.Name, "wrong password", "10.4.0.1"), 401, "fail")
	r := h.login(u.Name, "correct horse", "10.4.0.1")
	expectThrottled(t, r, time.Second)
	time.Sleep(1200 * time.Millisecond) // Retry-After said 1 s
	h.Expect(h.login(u.Name, "correct horse", "10.4.0.1"), 200, "after the window")
}

// Without TRUSTED_PROXIES a client cannot dodge the address limit by
// sending X-Forwarded-For.
func TestForwardedForIgnoredFromUntrustedPeers(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, pgtest.New(t), newKey(), Options{
		LoginThrottle: LoginThrottle{MaxPerAccount: 100, MaxPerAddress: 2, Window: time.Hour}}, database.Options{})
	h.Expect(h.login("x1", "wrong password", "198.51.100.1"), 401, "first")
	h.Expect(h.login("x2", "wrong password", "198.51.100.2"), 401, "second")
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

func TestClientAddressDropsZones(t *testing.T) {
	for remote, want := range map[string]string{
		"[fe80::1%eth0]:4321": "fe80::1",
		"192.0.2.7:1234":      "192.0.2.7",
		"@":                   "",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		if got := clientAddress(r, nil); got != want {
			t.Errorf("clientAddress(%q) = %q, want %q", remote, got, want)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:1"
	r.Header.Set("X-Forwarded-For", "fe80::2%en0")
	if got := clientAddress(r, loopback); got != "fe80::2" {
		t.Errorf("forwarded zoned address = %q, want fe80::2", got)
	}
}

// TestThrottleClearLetsTheRightPasswordIn: issue 25's five typos. Five
// wrong passwords lock the account out at that address (429, even for the
// right password); `healthcare throttle clear --user` (dbadmin.ClearThrottle
// over the privileged connection) lets the right password in at once, and
// the clearing is in the audit trail. --address does the same for an
// address.
func TestThrottleClearLetsTheRightPasswordIn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tdb := pgtest.New(t)
	h := newHarnessWith(t, tdb, newKey(), Options{TrustedProxies: loopback,
		LoginThrottle: LoginThrottle{MaxPerAccount: 5, AccountFlood: 20, MaxPerAddress: 50, Window: time.Hour}}, database.Options{})
	u := h.Signup("typist")
	lockOut := func() {
		t.Helper()
		for range 5 {
			h.Expect(h.login(u.Name, "wrong password", "192.0.2.7"), 401, "typo")
		}
		expectThrottled(t, h.login(u.Name, "correct horse", "192.0.2.7"), time.Hour)
	}
	clearEvents := func() []string {
		t.Helper()
		rows, err := tdb.Pool.Query(ctx, `select door || ' ' || action || ' ' || outcome || ' ' || (detail - 'cleared')::text
		                                    from audit.events where detail ->> 'object' = 'login_throttle' order by id`)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	lockOut()
	n, err := dbadmin.ClearThrottle(ctx, tdb.Pool, strings.ToUpper(u.Name), "")
	if err != nil || n == 0 {
		t.Fatalf("clear --user: %d counters, %v", n, err)
	}
	h.Expect(h.login(u.Name, "correct horse", "192.0.2.7"), 200, "the right password after the clear")

	lockOut()
	if n, err := dbadmin.ClearThrottle(ctx, tdb.Pool, "", "192.0.2.7"); err != nil || n == 0 {
		t.Fatalf("clear --address: %d counters, %v", n, err)
	}
	h.Expect(h.login(u.Name, "correct horse", "192.0.2.7"), 200, "the right password after clearing the address")

	want := []string{
		`admin delete ok {"object": "login_throttle", "address": null, "username": "` + strings.ToUpper(u.Name) + `"}`,
		`admin delete ok {"object": "login_throttle", "address": "192.0.2.7", "username": null}`,
	}
	if got := clearEvents(); !slices.Equal(got, want) {
		t.Fatalf("clearing events %q, want %q", got, want)
	}
}
