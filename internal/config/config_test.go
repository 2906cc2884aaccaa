package config

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goodKey = "f3a91c07d24b6e85a0c7319fe42db86c" // 32 bytes, test only

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	c, err := Load(env(map[string]string{"SECRET_KEY": goodKey}), "")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		SecretKey:          goodKey,
		DatabaseURL:        "postgres://healthcare_app@localhost:5432/healthcare",
		HTTPAddr:           "127.0.0.1:8000",
		MetricsAddr:        "127.0.0.1:9464",
		JWTIssuer:          "healthcare",
		JWTAudience:        "healthcare-api",
		AccessTTL:          time.Hour,
		RefreshTTL:         7 * 24 * time.Hour,
		LogLevel:           "info",
		DBPoolMaxConns:     8,
		DBStatementTimeout: 5 * time.Second,
		DBAcquireTimeout:   2 * time.Second,
		DBLockTimeout:      time.Second,
		// A quarter of the pool of 8.
		DBPerUserConnections: 2,
		ShutdownDrain:        5 * time.Second,
		ShutdownTimeout:      10 * time.Second,
		Argon2MemoryKiB:      7168,
		Argon2Iterations:     5,
		Argon2Parallelism:    1,
		LoginConcurrency:     DefaultLoginConcurrency(),
		MaxBodyBytes:         1 << 20,

		HTTPReadHeaderTimeout:      5 * time.Second,
		HTTPReadTimeout:            30 * time.Second,
		HTTPWriteTimeout:           30 * time.Second,
		HTTPIdleTimeout:            120 * time.Second,
		HTTPMaxHeaderBytes:         64 << 10,
		LoginMaxFailuresPerAccount: 5,
		LoginMaxFailuresPerAddress: 50,
		LoginAccountFlood:          20,
		AuditSealInterval:          5 * time.Second,
		LoginFailureWindow:         15 * time.Minute,
	}
	if fmt.Sprintf("%#v", c) != fmt.Sprintf("%#v", want) || c.SecretKey != want.SecretKey {
		t.Fatalf("defaults:\n got %v\nwant %v", c, want)
	}
	if d := Defaults(); d.HTTPAddr != want.HTTPAddr || d.AccessTTL != time.Hour || d.SecretKey != "" {
		t.Fatalf("Defaults() = %v", d)
	}
}

func TestSeedVariables(t *testing.T) {
	c, err := Load(env(map[string]string{
		"DEBUG": "True", "SECRET_KEY": "your_secret_key",
		"DB_NAME": "healthcare_db", "DB_USER": "healthcare_db_user", "DB_PASSWORD": "yourpassword",
		"DB_HOST": "localhost", "DB_PORT": "5432",
		"ACCESS_TOKEN_LIFETIME_MIN": "15", "REFRESH_TOKEN_LIFETIME_DAYS": "1",
	}), "")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Debug || c.SecretKey != "your_secret_key" || c.SecretKeyGenerated {
		t.Errorf("debug/key: %v", c)
	}
	if c.DatabaseURL != "postgres://healthcare_db_user:yourpassword@localhost:5432/healthcare_db" {
		t.Errorf("DatabaseURL = %q", c.DatabaseURL)
	}
	if c.AccessTTL != 15*time.Minute || c.RefreshTTL != 24*time.Hour {
		t.Errorf("ttl = %v %v", c.AccessTTL, c.RefreshTTL)
	}
	if len(c.Warnings()) == 0 {
		t.Error("no warnings for DEBUG with a short key")
	}
}

func TestDatabaseURL(t *testing.T) {
	// DATABASE_URL overrides DB_* (and DB_PORT is then not even parsed).
	c, err := Load(env(map[string]string{"SECRET_KEY": goodKey, "DATABASE_URL": "postgres://a@b/c", "DB_NAME": "x", "DB_PORT": "nope"}), "")
	if err != nil || c.DatabaseURL != "postgres://a@b/c" {
		t.Fatalf("%q %v", c.DatabaseURL, err)
	}
	// Escaping: every awkward character survives a round trip.
	user, pw, name := "us@r:x", "p@ss:w/rd?#% é", "db/name?x"
	c, err = Load(env(map[string]string{"SECRET_KEY": goodKey, "DB_USER": user, "DB_PASSWORD": pw, "DB_NAME": name, "DB_HOST": "::1", "DB_PORT": "6543"}), "")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(c.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	gotPW, _ := u.User.Password()
	if u.User.Username() != user || gotPW != pw || strings.TrimPrefix(u.Path, "/") != name || u.Hostname() != "::1" || u.Port() != "6543" {
		t.Fatalf("round trip of %q: user %q pw %q path %q host %q port %q", c.DatabaseURL, u.User.Username(), gotPW, u.Path, u.Hostname(), u.Port())
	}
	// Socket directory goes to the query.
	c, _ = Load(env(map[string]string{"SECRET_KEY": goodKey, "DB_HOST": "/var/run/postgresql", "DB_PASSWORD": ""}), "")
	u, _ = url.Parse(c.DatabaseURL)
	if u.Host != "" || u.Query().Get("host") != "/var/run/postgresql" || u.Query().Get("port") != "5432" {
		t.Fatalf("socket URL = %q", c.DatabaseURL)
	}
	// The migration URL is separate and never replaces the server's.
	migration := env(map[string]string{"SECRET_KEY": goodKey, "MIGRATION_DATABASE_URL": "postgres://owner:pw@h/db"})
	c, _ = Load(migration, "")
	tools, err := LoadTools(migration, "")
	if err != nil || tools.MigrationDatabaseURL != "postgres://owner:pw@h/db" || strings.Contains(c.DatabaseURL, "owner") {
		t.Fatalf("migration URL mixed up: %v %v (%v)", c, tools, err)
	}
}

func TestSecretKeyRules(t *testing.T) {
	if _, err := Load(env(nil), ""); err == nil || !strings.Contains(err.Error(), "SECRET_KEY") {
		t.Fatalf("missing key outside DEBUG: %v", err)
	}
	if _, err := Load(env(map[string]string{"SECRET_KEY": goodKey[:31]}), ""); err == nil || !strings.Contains(err.Error(), "SECRET_KEY") {
		t.Fatalf("31-byte key accepted: %v", err)
	}
	c1, err := Load(env(map[string]string{"DEBUG": "1"}), "")
	if err != nil || !c1.SecretKeyGenerated || len(c1.SecretKey) < 32 {
		t.Fatalf("DEBUG without key: %v %v", c1, err)
	}
	c2, _ := Load(env(map[string]string{"DEBUG": "1"}), "")
	if c1.SecretKey == c2.SecretKey {
		t.Fatal("generated keys repeat")
	}
	if !strings.Contains(strings.Join(c1.Warnings(), ";"), "random key") {
		t.Fatalf("warnings = %v", c1.Warnings())
	}
}

// TestGuessableSecretsAreRefused: the example's placeholder, short keys and
// keys that are visibly low in entropy stop the server, with a message
// saying how to make a good one; a key from `openssl rand -hex 32` passes.
func TestGuessableSecretsAreRefused(t *testing.T) {
	for _, key := range []string{
		ExampleSecretKey,
		"please-change-me-before-production-0000",
		"short-but-random-9f8e",
		strings.Repeat("a", 64),
		strings.Repeat("secret", 8),
		"0123456789abcdef0123456789abcdef",
		"abcdefghijklmnopqrstuvwxyz0123456789",
		"aaaabbbbccccddddaaaabbbbccccdddde",
		"ababababababababcdcdcdcdcdcdcdcdefgh",
	} {
		_, err := Load(env(map[string]string{"SECRET_KEY": key, "DB_PASSWORD": "x9!kQ"}), "")
		if err == nil || !strings.Contains(err.Error(), "SECRET_KEY") || !strings.Contains(err.Error(), "openssl rand -hex 32") {
			t.Errorf("key %q: %v, want a refusal naming SECRET_KEY and how to generate one", key, err)
		}
		if err != nil && len(key) > 8 && strings.Contains(err.Error(), key) {
			t.Errorf("the refusal echoes the key: %v", err)
		}
	}
	// The placeholder is refused in DEBUG too; a short key is allowed there.
	if _, err := Load(env(map[string]string{"DEBUG": "true", "SECRET_KEY": ExampleSecretKey}), ""); err == nil {
		t.Error("the example's key accepted in DEBUG")
	}
	if _, err := Load(env(map[string]string{"DEBUG": "true", "SECRET_KEY": "short"}), ""); err != nil {
		t.Errorf("a short key in DEBUG: %v", err)
	}
	for i := 0; i < 200; i++ {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		if err := CheckSecretKey(hex.EncodeToString(b)); err != nil {
			t.Fatalf("a random hex key %x refused: %v", b, err)
		}
		if err := CheckSecretKey(base64.RawURLEncoding.EncodeToString(b)); err != nil {
			t.Fatalf("a random base64 key refused: %v", err)
		}
	}
}

// TestExamplePasswordsAreRefused: a database password left at the
// example's value stops the server, whichever way it is given.
func TestExamplePasswordsAreRefused(t *testing.T) {
	for _, e := range []map[string]string{
		{"DB_PASSWORD": "change-me-runtime-password"},
		{"DATABASE_URL": "postgres://healthcare_app:change-me-runtime-password@db/healthcare"},
		{"DATABASE_URL": "host=db user=healthcare_app password='change-me-runtime-password' dbname=healthcare"},
		{"DATABASE_URL": "postgres://healthcare_app@db/healthcare?password=change-me-runtime-password"},
	} {
		e["SECRET_KEY"] = goodKey
		_, err := Load(env(e), "")
		if err == nil || !strings.Contains(err.Error(), "placeholder") || strings.Contains(err.Error(), "change-me-runtime-password") {
			t.Errorf("%v: %v, want a refusal that does not echo the password", e, err)
		}
	}
	// The example file itself, as copied: refused for both reasons.
	_, err := Load(env(nil), "../../.env.example")
	if err == nil || !strings.Contains(err.Error(), "SECRET_KEY") || !strings.Contains(err.Error(), "DB_PASSWORD") {
		t.Fatalf("serve with .env.example as .env: %v", err)
	}
	// A password with URL-special characters is kept intact.
	c, err := Load(env(map[string]string{"SECRET_KEY": goodKey, "DB_PASSWORD": "p/w#x@y:z%"}), "")
	if err != nil || databasePassword(c.DatabaseURL) != "p/w#x@y:z%" {
		t.Fatalf("DB_PASSWORD with special characters: %q, %v", c.DatabaseURL, err)
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	for name, value := range map[string]string{
		"DEBUG":                       "maybe",
		"DB_PORT":                     "70000",
		"ACCESS_TOKEN_LIFETIME_MIN":   "0",
		"REFRESH_TOKEN_LIFETIME_DAYS": "seven",
		"HTTP_ADDR":                   "8000",
		"LOG_LEVEL":                   "loud",
		"DB_POOL_MAX_CONNS":           "0",
		"DB_STATEMENT_TIMEOUT":        "5",
		"DB_ACQUIRE_TIMEOUT":          "0s",
		"DB_LOCK_TIMEOUT":             "0s",
		"DB_PER_USER_CONNECTIONS":     "0",
		"SHUTDOWN_DRAIN":              "-1s",
		"SHUTDOWN_TIMEOUT":            "-1s",
		"ARGON2_MEMORY_KIB":           "1024",
		"ARGON2_ITERATIONS":           "0",
		"ARGON2_PARALLELISM":          "300",
		"LOGIN_CONCURRENCY":           "-1",
		"CORS_ALLOWED_ORIGINS":        "https://ok.example, https://bad.example/path",
		"MAX_BODY_BYTES":              "1MB",
		"JWT_ISSUER":                  " ",
	} {
		e := map[string]string{"SECRET_KEY": goodKey, name: value}
		if name == "JWT_ISSUER" {
			// Blank means default; an empty issuer can only come from code.
			c, err := Load(env(e), "")
			if err != nil || c.JWTIssuer != "healthcare" {
				t.Errorf("blank JWT_ISSUER: %q %v", c.JWTIssuer, err)
			}
			c.JWTIssuer = ""
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "JWT_ISSUER") {
				t.Errorf("empty issuer: %v", err)
			}
			continue
		}
		_, err := Load(env(e), "")
		if err == nil || !strings.Contains(err.Error(), name+":") {
			t.Errorf("%s=%q: err = %v", name, value, err)
		}
	}
}

// DB_PER_USER_CONNECTIONS follows the pool unless set.
func TestPerUserConnectionsDefaultToAQuarterOfThePool(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want int
	}{
		{map[string]string{"DB_POOL_MAX_CONNS": "3"}, 1},
		{map[string]string{"DB_POOL_MAX_CONNS": "40"}, 10},
		{map[string]string{"DB_POOL_MAX_CONNS": "40", "DB_PER_USER_CONNECTIONS": "3"}, 3},
	} {
		c.env["SECRET_KEY"] = goodKey
		got, err := Load(env(c.env), "")
		if err != nil || got.DBPerUserConnections != c.want {
			t.Errorf("%v: %d %v, want %d", c.env, got.DBPerUserConnections, err, c.want)
		}
	}
}

// Metrics have their own listener, loopback by default, never the API's
// port; off turns it off.
func TestMetricsAddr(t *testing.T) {
	load := func(vars map[string]string) (Config, error) {
		vars["SECRET_KEY"] = goodKey
		return Load(env(vars), "")
	}
	for value, want := range map[string]string{"off": "", "OFF": "", "127.0.0.1:0": "127.0.0.1:0", "[::1]:9100": "[::1]:9100"} {
		c, err := load(map[string]string{"METRICS_ADDR": value})
		if err != nil || c.MetricsAddr != want {
			t.Errorf("METRICS_ADDR=%s: %q %v; want %q", value, c.MetricsAddr, err, want)
		}
		if w := strings.Join(c.Warnings(), ";"); strings.Contains(w, "METRICS_ADDR") {
			t.Errorf("METRICS_ADDR=%s warns: %s", value, w)
		}
	}
	for _, vars := range []map[string]string{
		{"METRICS_ADDR": "9464"},
		{"METRICS_ADDR": "127.0.0.1:8000"},
		{"METRICS_ADDR": "0.0.0.0:8080", "HTTP_ADDR": "127.0.0.1:8080"},
		{"METRICS_ADDR": "127.0.0.1:8080", "HTTP_ADDR": ":8080"},
	} {
		if _, err := load(vars); err == nil || !strings.Contains(err.Error(), "METRICS_ADDR:") {
			t.Errorf("%v: err = %v", vars, err)
		}
	}
	c, err := load(map[string]string{"METRICS_ADDR": "0.0.0.0:9464", "HTTP_ADDR": "0.0.0.0:8000"})
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(c.Warnings(), ";"); !strings.Contains(w, "METRICS_ADDR is not a loopback address") {
		t.Fatalf("a metrics listener on every address does not warn: %q", w)
	}
}

// The limits db-access sets on people's logins have defaults, and a value
// that PostgreSQL could not hold or that would mean "no limit" is refused.
func TestHumanTimeouts(t *testing.T) {
	d := DefaultTools()
	if d.HumanStatementTimeout != 30*time.Second || d.HumanLockTimeout != 2*time.Second || d.HumanIdleInTransactionTimeout != time.Minute ||
		d.HumanConnectionLimit != 2 || d.ServerConnectionReserve != 20 {
		t.Fatalf("defaults: %v", d)
	}
	tools, err := LoadTools(env(map[string]string{"HUMAN_STATEMENT_TIMEOUT": "1500ms", "HUMAN_LOCK_TIMEOUT": "1ms",
		"HUMAN_IDLE_IN_TRANSACTION_TIMEOUT": "24h"}), "")
	if err != nil || tools.HumanStatementTimeout != 1500*time.Millisecond || tools.HumanLockTimeout != time.Millisecond ||
		tools.HumanIdleInTransactionTimeout != 24*time.Hour {
		t.Fatalf("set: %v %v", tools, err)
	}
	for _, bad := range [][2]string{{"HUMAN_STATEMENT_TIMEOUT", "0"}, {"HUMAN_STATEMENT_TIMEOUT", "30"},
		{"HUMAN_LOCK_TIMEOUT", "-1s"}, {"HUMAN_IDLE_IN_TRANSACTION_TIMEOUT", "25h"},
		{"HUMAN_CONNECTION_LIMIT", "0"}, {"HUMAN_CONNECTION_LIMIT", "two"}, {"SERVER_CONNECTION_RESERVE", "-1"}} {
		if _, err := LoadTools(env(map[string]string{bad[0]: bad[1]}), ""); err == nil || !strings.Contains(err.Error(), bad[0]+":") {
			t.Errorf("%s=%s: err = %v", bad[0], bad[1], err)
		}
	}
}

// SHUTDOWN_DRAIN may be zero (no drain, as dev runs), unlike SHUTDOWN_TIMEOUT.
func TestShutdownDrainMayBeZero(t *testing.T) {
	c, err := Load(env(map[string]string{"SECRET_KEY": goodKey, "SHUTDOWN_DRAIN": "0"}), "")
	if err != nil || c.ShutdownDrain != 0 {
		t.Fatalf("SHUTDOWN_DRAIN=0: %v %v", c.ShutdownDrain, err)
	}
	c, err = Load(env(map[string]string{"SECRET_KEY": goodKey, "SHUTDOWN_DRAIN": "750ms"}), "")
	if err != nil || c.ShutdownDrain != 750*time.Millisecond {
		t.Fatalf("SHUTDOWN_DRAIN=750ms: %v %v", c.ShutdownDrain, err)
	}
	if _, err := Load(env(map[string]string{"SECRET_KEY": goodKey, "SHUTDOWN_TIMEOUT": "0"}), ""); err == nil {
		t.Fatal("SHUTDOWN_TIMEOUT=0 accepted")
	}
}

// A stop waits for accepted connections until their request arrives or
// HTTP_READ_HEADER_TIMEOUT ends them, and for requests in flight: a
// SHUTDOWN_TIMEOUT shorter than either is allowed but warned about.
func TestShortShutdownTimeoutWarns(t *testing.T) {
	c, err := Load(env(map[string]string{"SECRET_KEY": goodKey}), "")
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(c.Warnings(), ";"); strings.Contains(w, "SHUTDOWN_TIMEOUT") {
		t.Fatalf("defaults warn: %s", w)
	}
	c, err = Load(env(map[string]string{"SECRET_KEY": goodKey, "SHUTDOWN_TIMEOUT": "4s"}), "")
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(c.Warnings(), ";")
	for _, want := range []string{"SHUTDOWN_TIMEOUT is not above HTTP_READ_HEADER_TIMEOUT", "SHUTDOWN_TIMEOUT is not above DB_ACQUIRE_TIMEOUT + DB_STATEMENT_TIMEOUT"} {
		if !strings.Contains(w, want) {
			t.Errorf("SHUTDOWN_TIMEOUT=4s: no warning %q in %s", want, w)
		}
	}
}

func TestArgon2FloorRelaxedInDebug(t *testing.T) {
	e := map[string]string{"SECRET_KEY": goodKey, "ARGON2_MEMORY_KIB": "19456", "ARGON2_ITERATIONS": "2"}
	if _, err := Load(env(e), ""); err != nil {
		t.Fatalf("OWASP m=19456 t=2 rejected: %v", err)
	}
	e["ARGON2_ITERATIONS"] = "1"
	if _, err := Load(env(e), ""); err == nil {
		t.Fatal("m=19456 t=1 accepted outside DEBUG")
	}
	e["DEBUG"] = "true"
	c, err := Load(env(e), "")
	if err != nil {
		t.Fatalf("weak params in DEBUG: %v", err)
	}
	if !strings.Contains(strings.Join(c.Warnings(), ";"), "OWASP") {
		t.Fatalf("no warning: %v", c.Warnings())
	}
}

func TestSecretsMasked(t *testing.T) {
	const pw, key, mpw = "hunter2-db-pass", "super-secret-signing-key-0123456789", "migr-pass-42"
	c, err := Load(env(map[string]string{
		"SECRET_KEY": key, "DB_PASSWORD": pw,
		"MIGRATION_DATABASE_URL": "host=/tmp user=owner password='" + mpw + "' dbname=x",
	}), "")
	if err != nil {
		t.Fatal(err)
	}
	tools, err := LoadTools(env(map[string]string{
		"DB_PASSWORD": pw, "MIGRATION_DATABASE_URL": "host=/tmp user=owner password='" + mpw + "' dbname=x",
	}), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c),
		tools.String(), fmt.Sprintf("%v %+v %#v %s", tools, tools, tools, tools)} {
		for _, secret := range []string{pw, key, mpw} {
			if strings.Contains(out, secret) {
				t.Errorf("secret %q printed in %s", secret, out)
			}
		}
		if !strings.Contains(out, "xxxxx") {
			t.Errorf("no mask in %s", out)
		}
	}
	for in, want := range map[string]string{
		"postgres://u:p@h/d":                    "postgres://u:xxxxx@h/d",
		"postgres://u@h/d?password=p&sslmode=x": "postgres://u@h/d?password=xxxxx&sslmode=x",
		"host=h password=p user=u":              "host=h password=xxxxx user=u",
		"host=h password = 'a b\\' c' user=u":   "host=h password = xxxxx user=u",
		"host=h user=u":                         "host=h user=u",
	} {
		if got := redactDSN(in); got != want {
			t.Errorf("redactDSN(%q) = %q, want %q", in, got, want)
		}
	}
	// Errors about secret variables do not echo them.
	_, err = Load(env(map[string]string{"SECRET_KEY": "short-secret-value"}), "")
	if err == nil || strings.Contains(err.Error(), "short-secret-value") {
		t.Errorf("error leaks key: %v", err)
	}
}

func TestDotenv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	content := "\ufeff# seed-style file\n\n" +
		"DEBUG=True\n" +
		"SECRET_KEY='from file, with # and $dollar'\n" +
		"export DB_NAME=filedb # trailing comment\n" +
		"DB_USER = \"quoted \\\"user\\\"\"\n" +
		"DB_PASSWORD=p#ss\n" +
		"LOG_LEVEL=warn\n" +
		"HTTP_ADDR=\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(env(map[string]string{"LOG_LEVEL": "error"}), path)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Debug || c.SecretKey != "from file, with # and $dollar" || c.LogLevel != "error" || c.HTTPAddr != "127.0.0.1:8000" {
		t.Fatalf("file values: %#v key=%q", c, c.SecretKey)
	}
	u, _ := url.Parse(c.DatabaseURL)
	pw, _ := u.User.Password()
	if u.Path != "/filedb" || u.User.Username() != `quoted "user"` || pw != "p#ss" {
		t.Fatalf("DatabaseURL = %q", c.DatabaseURL)
	}
	// Missing file: fine. Empty path: not read.
	if _, err := Load(env(map[string]string{"SECRET_KEY": goodKey}), filepath.Join(dir, "nope")); err != nil {
		t.Fatal(err)
	}
	// Syntax errors carry the line number.
	os.WriteFile(path, []byte("OK=1\nNOT A LINE\n"), 0o600)
	if _, err := Load(env(map[string]string{"SECRET_KEY": goodKey}), path); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseDotenv(t *testing.T) {
	good := map[string]map[string]string{
		"A=1":                      {"A": "1"},
		"  A = 1  ":                {"A": "1"},
		"A=":                       {"A": ""},
		"A=a=b":                    {"A": "a=b"},
		"A=x#y":                    {"A": "x#y"},
		"A=x #y":                   {"A": "x"},
		"A='x #y' # c":             {"A": "x #y"},
		`A="a\nb\t\\\"c\d"`:        {"A": "a\nb\t\\\"c\\d"},
		"A=1\nA=2":                 {"A": "2"},
		"#A=1\n  # B=2\n\nC=3":     {"C": "3"},
		"export A=1":               {"A": "1"},
		"exportA=1":                {"exportA": "1"},
		"A_1=x\r\nB=y\r\n":         {"A_1": "x", "B": "y"},
		`A=""`:                     {"A": ""},
		"A='it''s'":                nil, // error below
		"A=\"open":                 nil,
		"A='open":                  nil,
		"1A=x":                     nil,
		"A-B=x":                    nil,
		"=x":                       nil,
		"just text":                nil,
		`A="x" y`:                  nil,
		"A=postgres://u:p@h/d?x=1": {"A": "postgres://u:p@h/d?x=1"},
	}
	for in, want := range good {
		got, err := parseDotenv(strings.NewReader(in))
		if want == nil {
			if err == nil {
				t.Errorf("parseDotenv(%q) = %v, want error", in, got)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("parseDotenv(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

// Load and LoadTools read exactly the variables Variables() documents, so
// the list (and docs/configuration.md and .env.example, generated from it)
// cannot drift from the code.
func TestVariablesMatchLoad(t *testing.T) {
	asked := map[string]int{}
	getenv := func(k string) string {
		asked[k]++
		if k == "SECRET_KEY" {
			return goodKey
		}
		return ""
	}
	if _, err := Load(getenv, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTools(getenv, ""); err != nil {
		t.Fatal(err)
	}
	var names []string
	seen := map[string]bool{}
	for _, v := range Variables() {
		if seen[v.Name] {
			t.Errorf("%s listed twice", v.Name)
		}
		seen[v.Name] = true
		names = append(names, v.Name)
		if v.Description == "" {
			t.Errorf("%s has no description", v.Name)
		}
		if asked[v.Name] == 0 {
			t.Errorf("%s is documented but never read", v.Name)
		}
	}
	for k := range asked {
		if !seen[k] {
			t.Errorf("%s is read but not documented", k)
		}
	}
	for _, seed := range []string{"SECRET_KEY", "DEBUG", "DB_NAME", "DB_USER", "DB_PASSWORD", "DB_HOST", "DB_PORT", "ACCESS_TOKEN_LIFETIME_MIN", "REFRESH_TOKEN_LIFETIME_DAYS", "DATABASE_URL"} {
		if !seen[seed] {
			t.Errorf("seed variable %s missing", seed)
		}
	}
	// Every documented default parses and validates.
	if len(names) != len(asked) {
		t.Errorf("%d documented, %d read", len(names), len(asked))
	}
	d := Defaults()
	d.SecretKey = goodKey
	if err := d.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	// Variables returns a copy.
	Variables()[0].Name = "CHANGED"
	if Variables()[0].Name == "CHANGED" {
		t.Fatal("Variables exposes its backing array")
	}
}

func TestValidateReportsAll(t *testing.T) {
	c := Defaults()
	c.SecretKey = ""
	c.MaxBodyBytes = 0
	c.LogLevel = "nope"
	err := c.Validate()
	for _, name := range []string{"SECRET_KEY", "MAX_BODY_BYTES", "LOG_LEVEL"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("Validate missing %s: %v", name, err)
		}
	}
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 3 {
		t.Errorf("Validate joined %d errors, want 3: %v", n, err)
	}
}

func TestLimitsAndThrottleSettings(t *testing.T) {
	c, err := Load(env(map[string]string{"SECRET_KEY": goodKey, "TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7,::1",
		"HTTP_READ_HEADER_TIMEOUT": "2s", "LOGIN_MAX_FAILURES_PER_ACCOUNT": "3", "LOGIN_FAILURE_WINDOW": "1m"}), "")
	if err != nil {
		t.Fatal(err)
	}
	if got := prefixesString(c.TrustedProxies); got != "10.0.0.0/8,192.168.1.7/32,::1/128" {
		t.Fatalf("TRUSTED_PROXIES = %s", got)
	}
	if c.HTTPReadHeaderTimeout != 2*time.Second || c.LoginMaxFailuresPerAccount != 3 || c.LoginFailureWindow != time.Minute {
		t.Fatalf("config = %v", c)
	}
	for name, value := range map[string]string{
		"TRUSTED_PROXIES":                "not-an-ip",
		"HTTP_READ_TIMEOUT":              "0s",
		"HTTP_MAX_HEADER_BYTES":          "10",
		"LOGIN_MAX_FAILURES_PER_ADDRESS": "0",
		"LOGIN_FAILURE_WINDOW":           "10ms",
	} {
		_, err := Load(env(map[string]string{"SECRET_KEY": goodKey, name: value}), "")
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: err = %v; want an error naming the variable", name, value, err)
		}
	}
}

// The tools read the same .env file through the same parser as the server,
// and only their own variables: a server setting they never use (here a
// missing SECRET_KEY and a bad LOG_LEVEL) does not stop them.
func TestLoadTools(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	content := "export MIGRATION_DATABASE_URL='postgres://owner:p#w@h/db' # privileged\n" +
		"DB_PASSWORD=\"from \\\"file\\\"\"\n" +
		"LOG_LEVEL=nope\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	tools, err := LoadTools(env(nil), path)
	if err != nil {
		t.Fatal(err)
	}
	if tools.MigrationDatabaseURL != "postgres://owner:p#w@h/db" || tools.DBPassword != `from "file"` {
		t.Fatalf("from the file: %q %q", tools.MigrationDatabaseURL, tools.DBPassword)
	}
	tools, err = LoadTools(env(map[string]string{"DB_PASSWORD": "from env"}), path)
	if err != nil || tools.DBPassword != "from env" {
		t.Fatalf("the environment does not win: %q (%v)", tools.DBPassword, err)
	}
	if tools, err := LoadTools(env(nil), filepath.Join(t.TempDir(), "missing")); err != nil || tools != DefaultTools() {
		t.Fatalf("missing file: %v %v", tools, err)
	}
	os.WriteFile(path, []byte("MIGRATION_DATABASE_URL=x\nNOT A LINE\n"), 0o600)
	if _, err := LoadTools(env(nil), path); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("a malformed file: err = %v; want one naming line 2", err)
	}
	get, err := Env(env(map[string]string{"A": "env"}), "")
	if err != nil || get("A") != "env" || get("B") != "" {
		t.Fatalf("Env without a file: %v", err)
	}
}

func TestParseAge(t *testing.T) {
	const day = 24 * time.Hour
	for in, want := range map[string]time.Duration{
		"6y": 6 * (365*day + 6*time.Hour), "18mo": 18 * (365 * day / 12), "12w": 84 * day, "90d": 90 * day, "720h": 720 * time.Hour,
	} {
		if got, err := ParseAge(in); err != nil || got != want {
			t.Errorf("ParseAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0d", "-1y", "y", "1.5y", "6 years", "-5h", "0s"} {
		if got, err := ParseAge(bad); err == nil {
			t.Errorf("ParseAge(%q) = %v, want an error", bad, got)
		}
	}
}

// TestFormatAgeIsParseAgeBackwards: an age is written back in the unit a
// person would give it, and reads back as the same duration.
func TestFormatAgeIsParseAgeBackwards(t *testing.T) {
	for in, want := range map[string]string{"6y": "6y", "18mo": "18mo", "14d": "2w", "90d": "90d", "12h": "12h0m0s", "1y": "1y"} {
		d, err := ParseAge(in)
		if err != nil {
			t.Fatal(err)
		}
		got := FormatAge(d)
		if got != want {
			t.Errorf("FormatAge(ParseAge(%q)) = %q, want %q", in, got, want)
		}
		if back, err := ParseAge(got); err != nil || back != d {
			t.Errorf("ParseAge(%q) = %v, %v; want %v", got, back, err, d)
		}
	}
}

func TestFHIRBaseURL(t *testing.T) {
	c, err := Load(env(map[string]string{"SECRET_KEY": goodKey}), "")
	if err != nil || c.FHIRBaseURL != "" {
		t.Fatalf("default FHIR_BASE_URL: %q, %v", c.FHIRBaseURL, err)
	}
	c, err = Load(env(map[string]string{"SECRET_KEY": goodKey, "FHIR_BASE_URL": "https://records.example.org/fhir/"}), "")
	if err != nil || c.FHIRBaseURL != "https://records.example.org/fhir" {
		t.Fatalf("FHIR_BASE_URL with a trailing slash: %q, %v", c.FHIRBaseURL, err)
	}
	for _, bad := range []string{"records.example.org/fhir", "ftp://x/fhir", "https://x/fhir?a=1", "https://x/fhir#f", "https:///fhir", "https://u:p@x/fhir"} {
		if _, err := Load(env(map[string]string{"SECRET_KEY": goodKey, "FHIR_BASE_URL": bad}), ""); err == nil || !strings.Contains(err.Error(), "FHIR_BASE_URL") {
			t.Errorf("FHIR_BASE_URL=%q: %v", bad, err)
		}
	}
}
