package httpapi

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// LoginThrottle sets the login failure limits. They are enforced in
// PostgreSQL (api.login_attempt), so every server copy sharing a database
// shares the counts; the server only passes its configured limits along.
type LoginThrottle struct {
	// MaxPerAccount failed logins per account from one address within
	// Window before further attempts from that address get 429. Zero:
	// LOGIN_MAX_FAILURES_PER_ACCOUNT's default (internal/config).
	MaxPerAccount int
	// AccountFlood failed logins per account from all addresses within
	// Window, after which an address that already failed against it gets
	// 429 at once. Zero: LOGIN_ACCOUNT_FLOOD's default.
	AccountFlood int
	// MaxPerAddress failed logins per client address (any account) within
	// Window. Zero: LOGIN_MAX_FAILURES_PER_ADDRESS's default.
	MaxPerAddress int
	// Window is the length of a failure window, at least one second.
	// Shorter: LOGIN_FAILURE_WINDOW's default.
	Window time.Duration
}

func (l LoginThrottle) withDefaults() LoginThrottle {
	if l.MaxPerAccount <= 0 {
		l.MaxPerAccount = defaults.LoginMaxFailuresPerAccount
	}
	if l.AccountFlood <= 0 {
		l.AccountFlood = defaults.LoginAccountFlood
	}
	if l.MaxPerAddress <= 0 {
		l.MaxPerAddress = defaults.LoginMaxFailuresPerAddress
	}
	if l.Window < time.Second {
		l.Window = defaults.LoginFailureWindow
	}
	return l
}

// throttled is api.login_attempt's refusal, with the seconds until the
// window ends.
func throttled(retryAfter int) *apiError {
	return &apiError{status: http.StatusTooManyRequests, code: "throttled",
		detail:  "Too many failed login attempts; try again later.",
		headers: map[string]string{"Retry-After": strconv.Itoa(max(retryAfter, 1))}}
}

// clientAddress is the address login throttling counts against: the
// connection's peer, unless that peer is a trusted proxy, in which case
// X-Forwarded-For is walked from the right (the entries proxies appended)
// past every trusted hop; the first untrusted entry is the client. Entries
// left of it were written by the client and could be anything, so they are
// never believed. A malformed entry stops the walk at the last good hop.
func clientAddress(r *http.Request, trusted []netip.Prefix) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return "" // not IP:port (a Unix socket's peer): no address to count or record
	}
	// Zones (fe80::1%eth0) name a local interface, not the client, and
	// PostgreSQL's inet refuses them.
	addr := ap.Addr().Unmap().WithZone("")
	if !isTrusted(addr, trusted) {
		return addr.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if h == "" {
			continue
		}
		a, err := netip.ParseAddr(h)
		if err != nil {
			break
		}
		addr = a.Unmap().WithZone("")
		if !isTrusted(addr, trusted) {
			break
		}
	}
	return addr.String()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
