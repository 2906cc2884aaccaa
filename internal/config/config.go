// Package config reads the server's settings from the environment and an
// optional .env file, applies defaults, and validates them once at start.
//
// The seed's variable names (SECRET_KEY, DEBUG, DB_*, ACCESS_TOKEN_LIFETIME_MIN,
// REFRESH_TOKEN_LIFETIME_DAYS) keep working. Variables() lists every variable
// with its default and meaning; docs/configuration.md and .env.example are generated from it.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Variable describes one environment variable.
type Variable struct {
	Name        string
	Default     string // "" when there is none or it is computed (see Description)
	Description string
	Secret      bool // never printed
	// Example is the value .env.example gives the variable when it is not
	// Default: a placeholder to replace (which serve refuses).
	Example string
}

var variables = []Variable{
	{Name: "SECRET_KEY", Secret: true, Example: ExampleSecretKey, Description: "HS256 key for JWTs, at least 32 bytes and not guessable (generate one with `openssl rand -hex 32` or `healthcare secret`; the example's placeholder, short keys and keys of few distinct characters or repeated patterns are refused). Required unless DEBUG is true; in DEBUG a missing key is replaced by a random one per process, so tokens do not survive a restart. `dev` uses its own unless this one is good."},
	{Name: "DEBUG", Default: "false", Description: "Development mode (true/false, 1/0, yes/no, on/off): allows a short or generated SECRET_KEY and argon2 parameters below OWASP's."},
	{Name: "DATABASE_URL", Secret: true, Description: "Connection string of the server's login role (URL or key=value). Overrides DB_NAME, DB_USER, DB_PASSWORD, DB_HOST and DB_PORT."},
	{Name: "DB_NAME", Default: "healthcare", Description: "Database name, used when DATABASE_URL is empty."},
	{Name: "DB_USER", Default: "healthcare_app", Description: "Server's login role (a member of healthcare_api), used when DATABASE_URL is empty."},
	{Name: "DB_PASSWORD", Secret: true, Example: "change-me-runtime-password", Description: "Password of DB_USER, used when DATABASE_URL is empty."},
	{Name: "DB_HOST", Default: "localhost", Description: "Database host, or a socket directory starting with /, used when DATABASE_URL is empty."},
	{Name: "DB_PORT", Default: "5432", Description: "Database port, used when DATABASE_URL is empty."},
	{Name: "MIGRATION_DATABASE_URL", Secret: true, Description: "Privileged connection string used only by `migrate`, `createsuperuser` and `db-access` (creates roles and objects). The server never reads it. Empty: the tools use the cluster of a `healthcare dev` running from the same folder. Example: postgres://postgres:PASSWORD@localhost:5432/healthcare?sslmode=disable (percent-encode / # @ : % in the password)."}, // read by LoadTools
	{Name: "HUMAN_STATEMENT_TIMEOUT", Default: "30s", Description: "statement_timeout that `db-access grant` and `grant-reporting` set on every personal psql and reporting login (ALTER ROLE ... SET), so a person's query cannot run for ever (Go duration, 1ms-24h). A session may change it; see docs/design.md, \"Sealed doors\"."},
	{Name: "HUMAN_LOCK_TIMEOUT", Default: "2s", Description: "lock_timeout set on every personal psql and reporting login in the same way: how long its statements wait for a lock (Go duration, 1ms-24h)."},
	{Name: "HUMAN_IDLE_IN_TRANSACTION_TIMEOUT", Default: "60s", Description: "idle_in_transaction_session_timeout set on every personal psql and reporting login in the same way: a session left idle inside a transaction is closed after it, releasing what it holds (Go duration, 1ms-24h)."},
	{Name: "HUMAN_CONNECTION_LIMIT", Default: "2", Description: "CONNECTION LIMIT that `db-access grant`, `grant-reporting` and `grant-auditor` set on every personal psql, doctor, reporting and audit login, and `migrate` and `db-access` apply to existing ones, so no one person's login takes the cluster's connections (1-1000)."},
	{Name: "SERVER_CONNECTION_RESERVE", Default: "20", Description: "Connections people's logins together must leave to the servers' own logins (every copy's DB_POOL_MAX_CONNS, plus `migrate` and the tools): `db-access` refuses a grant that would let the connection limits of people's logins add up to more than max_connections - superuser_reserved_connections - this. See docs/operations.md for the arithmetic (0-100000)."},
	{Name: "HTTP_ADDR", Default: "127.0.0.1:8000", Description: "Address the HTTP server listens on (host:port)."},
	{Name: "METRICS_ADDR", Default: "127.0.0.1:9464", Description: "Address of the separate listener serving Prometheus metrics at /metrics (host:port), never the API's port; off disables it. Keep it on loopback or a network only the scraper reaches: it lists per-route traffic."},
	{Name: "ACCESS_TOKEN_LIFETIME_MIN", Default: "60", Description: "Access token lifetime in minutes."},
	{Name: "REFRESH_TOKEN_LIFETIME_DAYS", Default: "7", Description: "Refresh token lifetime in days."},
	{Name: "JWT_ISSUER", Default: "healthcare", Description: "JWT iss claim, issued and required."},
	{Name: "JWT_AUDIENCE", Default: "healthcare-api", Description: "JWT aud claim, issued and required."},
	{Name: "LOG_LEVEL", Default: "info", Description: "Log level: trace, debug, info, warn, error."},
	{Name: "DB_POOL_MAX_CONNS", Default: "8", Description: "Maximum connections in the server's pool."},
	{Name: "DB_STATEMENT_TIMEOUT", Default: "5s", Description: "statement_timeout set in every request's transaction (Go duration; 0 disables)."},
	{Name: "DB_LOCK_TIMEOUT", Default: "1s", Description: "lock_timeout set in every request's transaction (Go duration, 1ms-1h): a request that needs a row another session holds (a psql login's open transaction, say) answers 409 with code locked and Retry-After after this long, rather than holding a pool connection while it waits. See docs/design.md, \"Sealed doors\"."},
	{Name: "DB_PER_USER_CONNECTIONS", Description: "Database calls one caller may have in flight at once (holding or waiting for a pool connection): per user for signed-in requests, per client address for anonymous ones (set TRUSTED_PROXIES behind a proxy, or every anonymous client shares the proxy's address). A caller over it waits briefly for one of its own calls to finish, then gets 429 with Retry-After, so no one caller fills the pool. Default: a quarter of DB_POOL_MAX_CONNS, at least 1."},
	{Name: "DB_ACQUIRE_TIMEOUT", Default: "2s", Description: "How long a request waits for a pool connection before answering 503 (Go duration)."},
	{Name: "SHUTDOWN_DRAIN", Default: "5s", Description: "After SIGTERM or SIGINT, how long the server keeps serving with /readyz answering 503 and Connection: close on every response, so load balancers stop sending before the listener closes (Go duration; 0 closes it at once; `dev` uses 0). See docs/operations.md."},
	{Name: "SHUTDOWN_TIMEOUT", Default: "10s", Description: "Grace period after the drain for accepted connections and in-flight requests to be answered; the process stops within SHUTDOWN_DRAIN + SHUTDOWN_TIMEOUT (Go duration)."},
	{Name: "ARGON2_MEMORY_KIB", Default: "7168", Description: "argon2id memory per hash in KiB (OWASP: m=7168 with t=5)."},
	{Name: "ARGON2_ITERATIONS", Default: "5", Description: "argon2id iterations."},
	{Name: "ARGON2_PARALLELISM", Default: "1", Description: "argon2id lanes."},
	{Name: "LOGIN_CONCURRENCY", Description: "Maximum argon2 hashes running at once; callers beyond it wait or get 503. Default: half of GOMAXPROCS, at least 1, so a login flood leaves the other cores to the other routes (and the 7 MiB argon2 matrices within the memory budget)."},
	{Name: "CORS_ALLOWED_ORIGINS", Description: "Comma-separated origins allowed by CORS (e.g. https://app.example.com), or *; empty disables CORS."},
	{Name: "REQUIRE_IF_MATCH", Default: "false", Description: "Make If-Match mandatory on PUT, PATCH and DELETE of patients and doctors (true/false): a change without it gets 428 Precondition Required, so no client overwrites a version it has not read. Off by default, so clients of the old system keep working."},
	{Name: "FHIR_BASE_URL", Description: "Public base URL of the FHIR endpoint, such as https://records.example.org/fhir: Bundles, their links and Location headers name it (absolute http(s), no query). Empty: taken from each request's Host, with https when the connection is TLS; set it behind a proxy."},
	{Name: "MAX_BODY_BYTES", Default: "1048576", Description: "Largest accepted request body in bytes (larger: 413)."},
	{Name: "HTTP_READ_HEADER_TIMEOUT", Default: "5s", Description: "Time a client has to send the request line and headers; a slow client is cut off after it (Go duration)."},
	{Name: "HTTP_READ_TIMEOUT", Default: "30s", Description: "Time a client has to send the whole request, body included (Go duration)."},
	{Name: "HTTP_WRITE_TIMEOUT", Default: "30s", Description: "Time from the end of the request headers to the end of the response; keep it above DB_ACQUIRE_TIMEOUT + DB_STATEMENT_TIMEOUT (Go duration)."},
	{Name: "HTTP_IDLE_TIMEOUT", Default: "120s", Description: "How long an idle keep-alive connection stays open (Go duration)."},
	{Name: "HTTP_MAX_HEADER_BYTES", Default: "65536", Description: "Largest accepted request header block in bytes (larger: 431)."},
	{Name: "LOGIN_MAX_FAILURES_PER_ACCOUNT", Default: "5", Description: "Failed logins per account from one client address within LOGIN_FAILURE_WINDOW before further attempts from that address get 429; the owner logging in from another address is not refused. Counted in PostgreSQL, so shared by every server copy."},
	{Name: "LOGIN_ACCOUNT_FLOOD", Default: "20", Description: "Failed logins per account from all addresses within LOGIN_FAILURE_WINDOW after which every address that has already failed against the account gets 429 at once (one guess per address per window); addresses that have not failed still get through."},
	{Name: "LOGIN_MAX_FAILURES_PER_ADDRESS", Default: "50", Description: "Failed logins per client address (any account) within LOGIN_FAILURE_WINDOW before further attempts get 429."},
	{Name: "LOGIN_FAILURE_WINDOW", Default: "15m", Description: "Length of the login failure window; a throttled client may retry when the window that began with its first failure ends (Go duration, at least 1s)."},
	{Name: "AUDIT_SEAL_INTERVAL", Default: "5s", Description: "How often the server seals new audit events into the hash chain (one server copy at a time seals; Go duration; 0 leaves sealing to `healthcare audit seal`)."},
	{Name: "AUDIT_RETENTION", Default: "6y", Description: "How long audit events are kept: `healthcare audit prune` drops the months older than this unless --older-than says otherwise (a Go duration or a number of days, weeks, months or years: 90d, 12w, 18mo, 6y)."}, // read by LoadTools
	{Name: "TRUSTED_PROXIES", Description: "Comma-separated proxy addresses or CIDRs (e.g. 10.0.0.0/8) whose X-Forwarded-For is believed when finding the client address for login throttling; empty: the connection's address is used and X-Forwarded-For ignored."},
}

// Variables returns every environment variable the package reads, in
// documentation order, with defaults and descriptions.
func Variables() []Variable { return append([]Variable(nil), variables...) }

// Config is the validated configuration.
type Config struct {
	SecretKey string
	// SecretKeyGenerated is true when DEBUG was set without SECRET_KEY and
	// Load made a random key; the caller should warn.
	SecretKeyGenerated bool
	Debug              bool

	DatabaseURL string // server's login role

	HTTPAddr string
	// MetricsAddr is the metrics listener's address; empty when
	// METRICS_ADDR is off.
	MetricsAddr string
	JWTIssuer   string
	JWTAudience string
	AccessTTL   time.Duration
	RefreshTTL  time.Duration
	LogLevel    string

	DBPoolMaxConns     int32
	DBStatementTimeout time.Duration
	DBAcquireTimeout   time.Duration
	// DBLockTimeout is lock_timeout in every request's transaction.
	DBLockTimeout time.Duration
	// DBPerUserConnections bounds one caller's database calls in flight.
	DBPerUserConnections int
	ShutdownDrain        time.Duration
	AuditSealInterval    time.Duration
	ShutdownTimeout      time.Duration

	Argon2MemoryKiB   uint32
	Argon2Iterations  uint32
	Argon2Parallelism uint8
	LoginConcurrency  int

	CORSAllowedOrigins []string
	MaxBodyBytes       int64
	// RequireIfMatch: changes of patients and doctors without If-Match
	// are 428.
	RequireIfMatch bool
	// FHIRBaseURL is the FHIR endpoint's public base; "" means from the
	// request.
	FHIRBaseURL string

	// http.Server limits: a slow or hostile client cannot hold a
	// connection longer than these.
	HTTPReadHeaderTimeout time.Duration
	HTTPReadTimeout       time.Duration
	HTTPWriteTimeout      time.Duration
	HTTPIdleTimeout       time.Duration
	HTTPMaxHeaderBytes    int

	// Login throttling, enforced in PostgreSQL (migration 007).
	LoginMaxFailuresPerAccount int
	LoginMaxFailuresPerAddress int
	LoginAccountFlood          int
	LoginFailureWindow         time.Duration
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
}

// OWASP's argon2id floor: m=7168 KiB with t=5 is its lowest-memory entry,
// and each listed pair costs at least m*t = 35840.
const (
	owaspMinMemoryKiB = 7168
	owaspMinCost      = 7168 * 5
	maxArgon2Memory   = 256 * 1024
)

// Defaults returns the configuration used when no variable is set (with no
// SECRET_KEY, so it does not validate outside DEBUG).
func Defaults() Config {
	c, _ := parse(func(string) string { return "" })
	return c
}

// Load reads the configuration. Values come from getenv first; a variable
// that getenv reports empty is taken from the .env file at dotenvPath when
// that file exists (an empty path or missing file is fine), then from the
// default. So the real environment wins over .env, and an empty variable
// counts as unset. The result is validated; errors name the variable.
func Load(getenv func(string) string, dotenvPath string) (Config, error) {
	get, err := Env(getenv, dotenvPath)
	if err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	c, err := parse(get)
	if err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	if c.Debug && c.SecretKey == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return Config{}, fmt.Errorf("load config: generate SECRET_KEY: %w", err)
		}
		c.SecretKey = hex.EncodeToString(b)
		c.SecretKeyGenerated = true
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	return c, nil
}

var defaults = func() map[string]string {
	m := make(map[string]string, len(variables))
	for _, v := range variables {
		m[v.Name] = v.Default
	}
	return m
}()

// lookup returns the value of a declared variable from get, trimmed, or
// its default.
func lookup(get func(string) string) func(name string) string {
	return func(name string) string {
		if _, ok := defaults[name]; !ok {
			panic("config: undeclared variable " + name)
		}
		if v := strings.TrimSpace(get(name)); v != "" {
			return v
		}
		return defaults[name]
	}
}

// parse turns raw values into a Config, collecting every syntax error.
func parse(get func(string) string) (Config, error) {
	var errs []error
	val := lookup(get)
	bad := func(name, want string) {
		v := val(name)
		if isSecret(name) {
			errs = append(errs, fmt.Errorf("%s: want %s", name, want))
			return
		}
		errs = append(errs, fmt.Errorf("%s: want %s, got %q", name, want, v))
	}
	integer := func(name string, bits int) int64 {
		n, err := strconv.ParseInt(val(name), 10, bits)
		if err != nil {
			bad(name, "an integer")
		}
		return n
	}
	unsigned := func(name string, bits int) uint64 {
		n, err := strconv.ParseUint(val(name), 10, bits)
		if err != nil {
			bad(name, fmt.Sprintf("a non-negative integer below 2^%d", bits))
		}
		return n
	}
	duration := func(name string) time.Duration {
		d, err := time.ParseDuration(val(name))
		if err != nil {
			bad(name, "a duration such as 5s or 250ms")
		}
		return d
	}

	c := Config{
		SecretKey:   get("SECRET_KEY"), // untrimmed: spaces may be part of a key
		HTTPAddr:    val("HTTP_ADDR"),
		MetricsAddr: val("METRICS_ADDR"),
		JWTIssuer:   val("JWT_ISSUER"),
		JWTAudience: val("JWT_AUDIENCE"),
		LogLevel:    strings.ToLower(val("LOG_LEVEL")),
	}
	if strings.EqualFold(c.MetricsAddr, "off") {
		c.MetricsAddr = ""
	}
	if d, err := parseBool(val("DEBUG")); err != nil {
		bad("DEBUG", "true or false")
	} else {
		c.Debug = d
	}

	if u := val("DATABASE_URL"); u != "" {
		c.DatabaseURL = u
	} else {
		port := val("DB_PORT")
		if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
			bad("DB_PORT", "a port number 1-65535")
		}
		c.DatabaseURL = buildURL(val("DB_HOST"), port, val("DB_NAME"), val("DB_USER"), val("DB_PASSWORD"))
	}

	if m := integer("ACCESS_TOKEN_LIFETIME_MIN", 32); m <= 0 || m > 366*24*60 {
		bad("ACCESS_TOKEN_LIFETIME_MIN", "minutes between 1 and 527040")
	} else {
		c.AccessTTL = time.Duration(m) * time.Minute
	}
	if d := integer("REFRESH_TOKEN_LIFETIME_DAYS", 32); d <= 0 || d > 3660 {
		bad("REFRESH_TOKEN_LIFETIME_DAYS", "days between 1 and 3660")
	} else {
		c.RefreshTTL = time.Duration(d) * 24 * time.Hour
	}

	c.DBPoolMaxConns = int32(integer("DB_POOL_MAX_CONNS", 32))
	c.DBStatementTimeout = duration("DB_STATEMENT_TIMEOUT")
	c.DBAcquireTimeout = duration("DB_ACQUIRE_TIMEOUT")
	c.DBLockTimeout = duration("DB_LOCK_TIMEOUT")
	if val("DB_PER_USER_CONNECTIONS") == "" {
		c.DBPerUserConnections = DefaultPerUserConnections(c.DBPoolMaxConns)
	} else {
		c.DBPerUserConnections = int(integer("DB_PER_USER_CONNECTIONS", 32))
	}
	c.ShutdownDrain = duration("SHUTDOWN_DRAIN")
	c.ShutdownTimeout = duration("SHUTDOWN_TIMEOUT")
	c.AuditSealInterval = duration("AUDIT_SEAL_INTERVAL")
	c.Argon2MemoryKiB = uint32(unsigned("ARGON2_MEMORY_KIB", 32))
	c.Argon2Iterations = uint32(unsigned("ARGON2_ITERATIONS", 32))
	c.Argon2Parallelism = uint8(unsigned("ARGON2_PARALLELISM", 8))
	if val("LOGIN_CONCURRENCY") == "" {
		c.LoginConcurrency = DefaultLoginConcurrency()
	} else {
		c.LoginConcurrency = int(integer("LOGIN_CONCURRENCY", 32))
	}
	c.MaxBodyBytes = integer("MAX_BODY_BYTES", 64)
	if b, err := parseBool(val("REQUIRE_IF_MATCH")); err != nil {
		bad("REQUIRE_IF_MATCH", "true or false")
	} else {
		c.RequireIfMatch = b
	}
	c.FHIRBaseURL = strings.TrimRight(val("FHIR_BASE_URL"), "/")
	c.HTTPReadHeaderTimeout = duration("HTTP_READ_HEADER_TIMEOUT")
	c.HTTPReadTimeout = duration("HTTP_READ_TIMEOUT")
	c.HTTPWriteTimeout = duration("HTTP_WRITE_TIMEOUT")
	c.HTTPIdleTimeout = duration("HTTP_IDLE_TIMEOUT")
	c.HTTPMaxHeaderBytes = int(integer("HTTP_MAX_HEADER_BYTES", 32))
	c.LoginMaxFailuresPerAccount = int(integer("LOGIN_MAX_FAILURES_PER_ACCOUNT", 32))
	c.LoginMaxFailuresPerAddress = int(integer("LOGIN_MAX_FAILURES_PER_ADDRESS", 32))
	c.LoginAccountFlood = int(integer("LOGIN_ACCOUNT_FLOOD", 32))
	c.LoginFailureWindow = duration("LOGIN_FAILURE_WINDOW")
	for _, p := range strings.Split(val("TRUSTED_PROXIES"), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		prefix, err := parsePrefix(p)
		if err != nil {
			bad("TRUSTED_PROXIES", "IP addresses or CIDRs such as 10.0.0.0/8")
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, prefix)
	}
	for _, o := range strings.Split(val("CORS_ALLOWED_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.CORSAllowedOrigins = append(c.CORSAllowedOrigins, o)
		}
	}
	return c, errors.Join(errs...)
}

// sameListener reports whether listeners on a and b (host:port) would
// share a port: the same port on the same host, or on a host and every
// address (an empty host, 0.0.0.0 or ::).
func sameListener(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb {
		return false
	}
	everywhere := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || everywhere(ha) || everywhere(hb)
}

// isLoopback reports whether host (of a host:port) names only loopback
// addresses.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// parsePrefix reads a CIDR or a single address (as a /32 or /128).
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func isSecret(name string) bool {
	for _, v := range variables {
		if v.Name == name {
			return v.Secret
		}
	}
	return false
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "true", "yes", "on", "t", "y":
		return true, nil
	case "0", "false", "no", "off", "f", "n":
		return false, nil
	}
	return false, errors.New("not a boolean")
}

// buildURL makes a postgres:// URL from the seed's DB_* parts, escaping each
// part. A host starting with "/" is a Unix socket directory and goes in the
// query, as libpq and pgx expect.
func buildURL(host, port, name, user, password string) string {
	u := url.URL{Scheme: "postgres", Path: "/" + name}
	switch {
	case user != "" && password != "":
		u.User = url.UserPassword(user, password)
	case user != "":
		u.User = url.User(user)
	}
	if strings.HasPrefix(host, "/") {
		u.RawQuery = url.Values{"host": {host}, "port": {port}}.Encode()
	} else {
		u.Host = net.JoinHostPort(host, port)
	}
	return u.String()
}

var logLevels = map[string]bool{"trace": true, "debug": true, "info": true, "warn": true, "error": true, "disabled": true}

// Validate checks the whole configuration and reports every problem, each
// prefixed with the variable at fault.
func (c Config) Validate() error {
	var errs []error
	fail := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}
	switch {
	case c.SecretKey == "", IsPlaceholder(c.SecretKey):
		// Even in DEBUG: the example's key is public.
		fail("SECRET_KEY", "%v", CheckSecretKey(c.SecretKey))
	case !c.Debug:
		if err := CheckSecretKey(c.SecretKey); err != nil {
			fail("SECRET_KEY", "%v", err)
		}
	}
	if c.DatabaseURL == "" {
		fail("DATABASE_URL", "required")
	} else if err := CheckDatabasePassword(c.DatabaseURL); err != nil {
		fail("DATABASE_URL or DB_PASSWORD", "%v", err)
	}
	if _, port, err := net.SplitHostPort(c.HTTPAddr); err != nil || port == "" {
		fail("HTTP_ADDR", "want host:port, got %q", c.HTTPAddr)
	}
	if c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil || port == "" {
			fail("METRICS_ADDR", "want host:port or off, got %q", c.MetricsAddr)
		} else if port != "0" && sameListener(c.MetricsAddr, c.HTTPAddr) {
			fail("METRICS_ADDR", "must not be HTTP_ADDR (%s): metrics stay off the API's port", c.HTTPAddr)
		}
	}
	if c.FHIRBaseURL != "" {
		if u, err := url.Parse(c.FHIRBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.ContainsAny(c.FHIRBaseURL, " \t") {
			fail("FHIR_BASE_URL", "want an absolute http(s) URL without query, such as https://records.example.org/fhir, got %q", c.FHIRBaseURL)
		}
	}
	if c.JWTIssuer == "" {
		fail("JWT_ISSUER", "required")
	}
	if c.JWTAudience == "" {
		fail("JWT_AUDIENCE", "required")
	}
	if c.AccessTTL <= 0 {
		fail("ACCESS_TOKEN_LIFETIME_MIN", "must be positive")
	}
	if c.RefreshTTL <= 0 {
		fail("REFRESH_TOKEN_LIFETIME_DAYS", "must be positive")
	}
	if !logLevels[c.LogLevel] {
		fail("LOG_LEVEL", "want trace, debug, info, warn, error or disabled, got %q", c.LogLevel)
	}
	if c.DBPoolMaxConns < 1 || c.DBPoolMaxConns > 1000 {
		fail("DB_POOL_MAX_CONNS", "want 1-1000, got %d", c.DBPoolMaxConns)
	}
	if c.DBStatementTimeout < 0 {
		fail("DB_STATEMENT_TIMEOUT", "must not be negative")
	}
	if c.DBAcquireTimeout <= 0 {
		fail("DB_ACQUIRE_TIMEOUT", "must be positive")
	}
	if c.DBLockTimeout < time.Millisecond || c.DBLockTimeout > time.Hour {
		fail("DB_LOCK_TIMEOUT", "want 1ms-1h, got %v", c.DBLockTimeout)
	}
	if c.DBPerUserConnections < 1 || c.DBPerUserConnections > 1000 {
		fail("DB_PER_USER_CONNECTIONS", "want 1-1000, got %d", c.DBPerUserConnections)
	}
	if c.AuditSealInterval < 0 {
		fail("AUDIT_SEAL_INTERVAL", "must not be negative")
	}
	if c.ShutdownDrain < 0 {
		fail("SHUTDOWN_DRAIN", "must not be negative")
	}
	if c.ShutdownTimeout <= 0 {
		fail("SHUTDOWN_TIMEOUT", "must be positive")
	}
	switch {
	case c.Argon2Parallelism < 1:
		fail("ARGON2_PARALLELISM", "must be at least 1")
	case c.Argon2MemoryKiB < 8*uint32(c.Argon2Parallelism):
		fail("ARGON2_MEMORY_KIB", "must be at least 8 KiB per lane")
	case c.Argon2MemoryKiB > maxArgon2Memory:
		fail("ARGON2_MEMORY_KIB", "must be at most %d", maxArgon2Memory)
	case c.Argon2Iterations < 1 || c.Argon2Iterations > 64:
		fail("ARGON2_ITERATIONS", "want 1-64, got %d", c.Argon2Iterations)
	case !c.Debug && (c.Argon2MemoryKiB < owaspMinMemoryKiB || uint64(c.Argon2MemoryKiB)*uint64(c.Argon2Iterations) < owaspMinCost):
		fail("ARGON2_MEMORY_KIB", "m=%d t=%d is below OWASP's argon2id minimum (e.g. m=7168 t=5, m=19456 t=2); allowed only with DEBUG",
			c.Argon2MemoryKiB, c.Argon2Iterations)
	}
	if c.LoginConcurrency < 1 {
		fail("LOGIN_CONCURRENCY", "must be at least 1")
	}
	if c.MaxBodyBytes < 1 {
		fail("MAX_BODY_BYTES", "must be positive")
	}
	for name, d := range map[string]time.Duration{
		"HTTP_READ_HEADER_TIMEOUT": c.HTTPReadHeaderTimeout, "HTTP_READ_TIMEOUT": c.HTTPReadTimeout,
		"HTTP_WRITE_TIMEOUT": c.HTTPWriteTimeout, "HTTP_IDLE_TIMEOUT": c.HTTPIdleTimeout,
	} {
		// Zero would mean "no limit" to net/http: refuse it.
		if d <= 0 {
			fail(name, "must be positive")
		}
	}
	if c.HTTPMaxHeaderBytes < 1024 || c.HTTPMaxHeaderBytes > 16<<20 {
		fail("HTTP_MAX_HEADER_BYTES", "want 1024-16777216, got %d", c.HTTPMaxHeaderBytes)
	}
	if c.LoginMaxFailuresPerAccount < 1 {
		fail("LOGIN_MAX_FAILURES_PER_ACCOUNT", "must be at least 1")
	}
	if c.LoginAccountFlood < 1 {
		fail("LOGIN_ACCOUNT_FLOOD", "must be at least 1")
	}
	if c.LoginMaxFailuresPerAddress < 1 {
		fail("LOGIN_MAX_FAILURES_PER_ADDRESS", "must be at least 1")
	}
	if c.LoginFailureWindow < time.Second {
		fail("LOGIN_FAILURE_WINDOW", "must be at least 1s")
	}
	for _, o := range c.CORSAllowedOrigins {
		if err := checkOrigin(o); err != nil {
			fail("CORS_ALLOWED_ORIGINS", "%q: %v", o, err)
		}
	}
	return errors.Join(errs...)
}

// checkOrigin accepts "*" or a serialised origin: scheme://host[:port]
// with no path, query or fragment (what browsers send in Origin).
func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "/") {
		return errors.New("want scheme://host[:port], e.g. https://app.example.com")
	}
	return nil
}

// Warnings lists settings that are allowed but the operator should hear
// about at start-up (the caller logs them).
func (c Config) Warnings() []string {
	var w []string
	if c.Debug {
		w = append(w, "DEBUG is on: do not run like this in production")
	}
	if c.SecretKeyGenerated {
		w = append(w, "SECRET_KEY is not set: using a random key for this process; tokens will not survive a restart")
	} else if len(c.SecretKey) < 32 {
		w = append(w, "SECRET_KEY is shorter than 32 bytes")
	}
	if h, _, err := net.SplitHostPort(c.MetricsAddr); err == nil && !isLoopback(h) {
		w = append(w, "METRICS_ADDR is not a loopback address: make sure only the metrics scraper can reach "+c.MetricsAddr)
	}
	if c.HTTPWriteTimeout > 0 && c.HTTPWriteTimeout <= c.DBAcquireTimeout+c.DBStatementTimeout {
		w = append(w, "HTTP_WRITE_TIMEOUT is not above DB_ACQUIRE_TIMEOUT + DB_STATEMENT_TIMEOUT: slow requests may be cut off without an answer")
	}
	if c.ShutdownTimeout > 0 && c.ShutdownTimeout <= c.HTTPReadHeaderTimeout {
		w = append(w, "SHUTDOWN_TIMEOUT is not above HTTP_READ_HEADER_TIMEOUT: a client that connects and sends nothing can make a stop run out of time and exit 1")
	}
	if c.ShutdownTimeout > 0 && c.ShutdownTimeout <= c.DBAcquireTimeout+c.DBStatementTimeout {
		w = append(w, "SHUTDOWN_TIMEOUT is not above DB_ACQUIRE_TIMEOUT + DB_STATEMENT_TIMEOUT: a stop may cut off slow requests")
	}
	if uint64(c.Argon2MemoryKiB)*uint64(c.Argon2Iterations) < owaspMinCost || c.Argon2MemoryKiB < owaspMinMemoryKiB {
		w = append(w, "argon2 parameters are below OWASP's minimum")
	}
	return w
}

const mask = "xxxxx"

var dsnPassword = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s]*)`)

// redactDSN hides the password in a URL or key=value connection string.
func redactDSN(s string) string {
	if s == "" {
		return ""
	}
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return mask
		}
		if q := u.Query(); q.Has("password") {
			q.Set("password", mask)
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	return dsnPassword.ReplaceAllString(s, "${1}"+mask)
}

func maskSecret(s string) string {
	if s == "" {
		return ""
	}
	return mask
}

// fields is the printable form of c, secrets masked.
func (c Config) fields() [][2]string {
	return [][2]string{
		{"secret_key", maskSecret(c.SecretKey)},
		{"secret_key_generated", strconv.FormatBool(c.SecretKeyGenerated)},
		{"debug", strconv.FormatBool(c.Debug)},
		{"database_url", redactDSN(c.DatabaseURL)},
		{"http_addr", c.HTTPAddr},
		{"metrics_addr", c.MetricsAddr},
		{"jwt_issuer", c.JWTIssuer},
		{"jwt_audience", c.JWTAudience},
		{"access_ttl", c.AccessTTL.String()},
		{"refresh_ttl", c.RefreshTTL.String()},
		{"log_level", c.LogLevel},
		{"db_pool_max_conns", strconv.Itoa(int(c.DBPoolMaxConns))},
		{"db_statement_timeout", c.DBStatementTimeout.String()},
		{"db_acquire_timeout", c.DBAcquireTimeout.String()},
		{"db_lock_timeout", c.DBLockTimeout.String()},
		{"db_per_user_connections", strconv.Itoa(c.DBPerUserConnections)},
		{"shutdown_drain", c.ShutdownDrain.String()},
		{"audit_seal_interval", c.AuditSealInterval.String()},
		{"shutdown_timeout", c.ShutdownTimeout.String()},
		{"argon2_memory_kib", strconv.FormatUint(uint64(c.Argon2MemoryKiB), 10)},
		{"argon2_iterations", strconv.FormatUint(uint64(c.Argon2Iterations), 10)},
		{"argon2_parallelism", strconv.Itoa(int(c.Argon2Parallelism))},
		{"login_concurrency", strconv.Itoa(c.LoginConcurrency)},
		{"cors_allowed_origins", strings.Join(c.CORSAllowedOrigins, ",")},
		{"max_body_bytes", strconv.FormatInt(c.MaxBodyBytes, 10)},
		{"require_if_match", strconv.FormatBool(c.RequireIfMatch)},
		{"fhir_base_url", c.FHIRBaseURL},
		{"http_read_header_timeout", c.HTTPReadHeaderTimeout.String()},
		{"http_read_timeout", c.HTTPReadTimeout.String()},
		{"http_write_timeout", c.HTTPWriteTimeout.String()},
		{"http_idle_timeout", c.HTTPIdleTimeout.String()},
		{"http_max_header_bytes", strconv.Itoa(c.HTTPMaxHeaderBytes)},
		{"login_max_failures_per_account", strconv.Itoa(c.LoginMaxFailuresPerAccount)},
		{"login_max_failures_per_address", strconv.Itoa(c.LoginMaxFailuresPerAddress)},
		{"login_account_flood", strconv.Itoa(c.LoginAccountFlood)},
		{"login_failure_window", c.LoginFailureWindow.String()},
		{"trusted_proxies", prefixesString(c.TrustedProxies)},
	}
}

func prefixesString(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// String prints the configuration with secrets masked.
func (c Config) String() string {
	var b strings.Builder
	for i, f := range c.fields() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f[0])
		b.WriteByte('=')
		b.WriteString(strconv.Quote(f[1]))
	}
	return b.String()
}

// GoString masks secrets under %#v as well.
func (c Config) GoString() string { return "config.Config{" + c.String() + "}" }

// DefaultLoginConcurrency is LOGIN_CONCURRENCY's default: half the cores
// Go may use, rounded up. argon2 is pure CPU and 7 MiB per hash, so
// bounding it to half the cores keeps the other routes answering during a
// login flood and the server within its 40 MiB memory budget on two cores
// (docs/benchmarks.md has the measurements).
func DefaultLoginConcurrency() int { return max(1, (runtime.GOMAXPROCS(0)+1)/2) }

// DefaultPerUserConnections is DB_PER_USER_CONNECTIONS's default for a
// pool of poolMax connections: a quarter of it, at least 1, so it takes
// four callers at their limit to fill the pool.
func DefaultPerUserConnections(poolMax int32) int { return max(1, int(poolMax)/4) }
