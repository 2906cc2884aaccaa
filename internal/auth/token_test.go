package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

var (
	testKey  = []byte("test-key-0123456789abcdef-0123456789")
	otherKey = []byte("other-key-0123456789abcdef-012345678")
	t0       = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newTestTokens(t testing.TB, clk *fakeClock, mod func(*TokenOptions)) *Tokens {
	t.Helper()
	o := TokenOptions{
		Key: testKey, Issuer: "healthcare", Audience: "healthcare-api",
		AccessTTL: time.Hour, RefreshTTL: 7 * 24 * time.Hour, Now: clk.Now,
	}
	if mod != nil {
		mod(&o)
	}
	tk, err := NewTokens(o)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// validClaims are the claims of a good access token at t0.
func validClaims() map[string]any {
	return map[string]any{
		"sub": "42", "iss": "healthcare", "aud": "healthcare-api",
		"iat": t0.Unix(), "exp": t0.Add(time.Hour).Unix(),
		"jti": uuid.NewString(), "token_type": "access", "family": testSession,
	}
}

// rawToken assembles header.payload.signature by hand, HMAC-signing with
// key under HS256 unless sig is given.
func rawToken(t testing.TB, header, payload map[string]any, key []byte) string {
	t.Helper()
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(payload)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	if key == nil {
		return input + "."
	}
	return input + "." + hmacSig(key, input)
}

func signJWX(t testing.TB, claims map[string]any, alg jwa.SignatureAlgorithm, key any) string {
	t.Helper()
	tok := jwt.New()
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	b, err := jwt.Sign(tok, jwt.WithKey(alg, key))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// flipFirst changes the first character of a base64url string to another
// valid one.
func flipFirst(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

func TestIssueAndVerify(t *testing.T) {
	clk := &fakeClock{now: t0.Add(300 * time.Millisecond)}
	tk := newTestTokens(t, clk, nil)

	acc, ac, err := tk.IssueAccess(42, testSession)
	if err != nil {
		t.Fatal(err)
	}
	if ac.UserID != 42 || ac.Type != TokenAccess || ac.Family != testSession || !isUUID(ac.ID) ||
		!ac.IssuedAt.Equal(t0) || !ac.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("access claims = %+v", ac)
	}
	got, err := tk.Verify(acc, TokenAccess)
	if err != nil || got != ac {
		t.Fatalf("Verify(access) = %+v, %v; want %+v", got, err, ac)
	}

	ref, rc, err := tk.IssueRefresh(42, "")
	if err != nil {
		t.Fatal(err)
	}
	if rc.Type != TokenRefresh || !isUUID(rc.Family) || rc.ID == ac.ID || !rc.ExpiresAt.Equal(t0.Add(7*24*time.Hour)) {
		t.Fatalf("refresh claims = %+v", rc)
	}
	got, err = tk.Verify(ref, TokenRefresh)
	if err != nil || got != rc {
		t.Fatalf("Verify(refresh) = %+v, %v; want %+v", got, err, rc)
	}
	_, rc2, err := tk.IssueRefresh(42, rc.Family)
	if err != nil || rc2.Family != rc.Family || rc2.ID == rc.ID {
		t.Fatalf("rotated refresh = %+v, %v", rc2, err)
	}
	if _, _, err := tk.IssueRefresh(42, "not-a-uuid"); err == nil {
		t.Fatal("IssueRefresh accepted a non-UUID family")
	}
	if _, _, err := tk.IssueAccess(42, ""); err == nil {
		t.Fatal("IssueAccess accepted an access token without a session")
	}
	if _, _, err := tk.IssueAccess(0, testSession); err == nil {
		t.Fatal("IssueAccess(0, testSession) accepted")
	}

	// The payload carries the claim names clients and the seed expect.
	var payload map[string]any
	seg := strings.Split(ref, ".")[1]
	raw, _ := base64.RawURLEncoding.DecodeString(seg)
	if err := json.Unmarshal(raw, &payload); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"sub", "exp", "iat", "jti", "iss", "aud", "token_type", "family"} {
		if _, ok := payload[k]; !ok {
			t.Errorf("refresh payload lacks %q: %s", k, raw)
		}
	}
	if payload["token_type"] != "refresh" || payload["sub"] != "42" {
		t.Errorf("payload = %s", raw)
	}
}

func TestNewTokensRejectsBadOptions(t *testing.T) {
	clk := &fakeClock{now: t0}
	for name, mod := range map[string]func(*TokenOptions){
		"short key":   func(o *TokenOptions) { o.Key = []byte("short") },
		"no issuer":   func(o *TokenOptions) { o.Issuer = "" },
		"no audience": func(o *TokenOptions) { o.Audience = "" },
		"zero ttl":    func(o *TokenOptions) { o.AccessTTL = 0 },
	} {
		o := TokenOptions{Key: testKey, Issuer: "i", Audience: "a", AccessTTL: time.Hour, RefreshTTL: time.Hour, Now: clk.Now}
		mod(&o)
		if _, err := NewTokens(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestVerifyRejectsForgeries(t *testing.T) {
	clk := &fakeClock{now: t0.Add(time.Minute)}
	tk := newTestTokens(t, clk, func(o *TokenOptions) { o.CacheSize = -1 })
	good, _, err := tk.IssueAccess(42, testSession)
	if err != nil {
		t.Fatal(err)
	}
	hs := map[string]any{"alg": "HS256", "typ": "JWT"}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	without := func(k string) map[string]any { c := validClaims(); delete(c, k); return c }
	with := func(k string, v any) map[string]any { c := validClaims(); c[k] = v; return c }
	parts := strings.Split(good, ".")
	otherIss := newTestTokens(t, clk, func(o *TokenOptions) { o.Issuer = "someone-else" })
	otherAud := newTestTokens(t, clk, func(o *TokenOptions) { o.Audience = "other-api" })
	wrongIss, _, _ := otherIss.IssueAccess(42, testSession)
	wrongAud, _, _ := otherAud.IssueAccess(42, testSession)
	refresh, _, _ := tk.IssueRefresh(42, "")
	tamperedPayload := func() string {
		raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
		raw = []byte(strings.Replace(string(raw), `"sub":"42"`, `"sub":"43"`, 1))
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + parts[2]
	}()

	// The hand-built valid token must pass, or the cases below prove nothing.
	if _, err := tk.Verify(rawToken(t, hs, validClaims(), testKey), TokenAccess); err != nil {
		t.Fatalf("hand-built control token rejected: %v", err)
	}

	cases := map[string]string{
		"empty":                 "",
		"garbage":               "not.a.token",
		"two parts":             parts[0] + "." + parts[1],
		"four parts":            good + ".x",
		"tampered payload":      tamperedPayload,
		"tampered signature":    parts[0] + "." + parts[1] + "." + flipFirst(parts[2]),
		"no signature":          parts[0] + "." + parts[1] + ".",
		"alg none":              rawToken(t, map[string]any{"alg": "none", "typ": "JWT"}, validClaims(), nil),
		"alg None":              rawToken(t, map[string]any{"alg": "None"}, validClaims(), nil),
		"alg none with our mac": rawToken(t, map[string]any{"alg": "none"}, validClaims(), testKey),
		"alg HS512, HS256 mac":  rawToken(t, map[string]any{"alg": "HS512"}, validClaims(), testKey),
		"no alg":                rawToken(t, map[string]any{"typ": "JWT"}, validClaims(), testKey),
		"crit header":           rawToken(t, map[string]any{"alg": "HS256", "crit": []string{"exp"}}, validClaims(), testKey),
		"HS512 with our key":    signJWX(t, validClaims(), jwa.HS512, testKey),
		"HS384 with our key":    signJWX(t, validClaims(), jwa.HS384, testKey),
		"RS256":                 signJWX(t, validClaims(), jwa.RS256, rsaKey),
		"wrong key":             signJWX(t, validClaims(), jwa.HS256, otherKey),
		"wrong key by hand":     rawToken(t, hs, validClaims(), otherKey),
		"wrong issuer":          wrongIss,
		"wrong audience":        wrongAud,
		"missing exp":           rawToken(t, hs, without("exp"), testKey),
		"missing iat":           rawToken(t, hs, without("iat"), testKey),
		"missing sub":           rawToken(t, hs, without("sub"), testKey),
		"missing jti":           rawToken(t, hs, without("jti"), testKey),
		"missing token_type":    rawToken(t, hs, without("token_type"), testKey),
		"missing iss":           rawToken(t, hs, without("iss"), testKey),
		"missing aud":           rawToken(t, hs, without("aud"), testKey),
		"refresh as access":     refresh,
		"type ACCESS":           rawToken(t, hs, with("token_type", "ACCESS"), testKey),
		"type number":           rawToken(t, hs, with("token_type", 1), testKey),
		"sub text":              rawToken(t, hs, with("sub", "alice"), testKey),
		"sub zero":              rawToken(t, hs, with("sub", "0"), testKey),
		"sub negative":          rawToken(t, hs, with("sub", "-1"), testKey),
		"sub plus":              rawToken(t, hs, with("sub", "+42"), testKey),
		"sub leading zero":      rawToken(t, hs, with("sub", "042"), testKey),
		"sub overflow":          rawToken(t, hs, with("sub", "9223372036854775808"), testKey),
		"sub float":             rawToken(t, hs, with("sub", "42.0"), testKey),
		"jti not uuid":          rawToken(t, hs, with("jti", "abc"), testKey),
		"expired":               rawToken(t, hs, with("exp", t0.Add(-time.Minute).Unix()), testKey),
		"iat in future":         rawToken(t, hs, with("iat", t0.Add(time.Hour).Unix()), testKey),
		"nbf in future":         rawToken(t, hs, with("nbf", t0.Add(time.Hour).Unix()), testKey),
		"json serialisation": func() string {
			b, err := jws.Sign([]byte(`{}`), jws.WithKey(jwa.HS256, testKey), jws.WithJSON())
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}(),
		"too long": good + strings.Repeat("A", MaxTokenBytes),
		// Other spellings of a validly signed token: decoders skip line
		// breaks and ignore trailing bits, the signature does not.
		"line break in payload":  parts[0] + "." + parts[1][:20] + "\n" + parts[1][20:] + "." + parts[2],
		"CR in header":           parts[0][:10] + "\r" + parts[0][10:] + "." + parts[1] + "." + parts[2],
		"padded payload":         parts[0] + "." + parts[1] + "==." + parts[2],
		"payload trailing bits":  parts[0] + "." + withTrailingBits(t, parts[1]) + "." + parts[2],
		"std alphabet signature": stdAlphabetSignature(t, tk),
	}
	for name, tok := range cases {
		c, err := tk.Verify(tok, TokenAccess)
		if err == nil {
			t.Errorf("%s: accepted with claims %+v", name, c)
			continue
		}
		if !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: error %v does not match ErrInvalidToken", name, err)
		}
		var te *TokenError
		if !errors.As(err, &te) || te.Reason == "" {
			t.Errorf("%s: error %v is not a *TokenError with a reason", name, err)
		}
		t.Logf("%-22s rejected: %v", name, err)
		if c != (Claims{}) {
			t.Errorf("%s: claims returned with error: %+v", name, c)
		}
	}

	// Access tokens are not refresh tokens either; both name a session.
	if _, err := tk.Verify(good, TokenRefresh); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("access accepted as refresh: %v", err)
	}
	for _, typ := range []TokenType{TokenAccess, TokenRefresh} {
		for _, family := range []any{nil, "", "not-a-uuid", 7} {
			claims := with("token_type", string(typ))
			if family == nil {
				delete(claims, "family")
			} else {
				claims["family"] = family
			}
			if _, err := tk.Verify(rawToken(t, hs, claims, testKey), typ); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("%s token with family %v accepted: %v", typ, family, err)
			}
		}
	}
	if _, err := tk.Verify(good, TokenType("")); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("empty wanted type accepted: %v", err)
	}
}

// stdAlphabetSignature respells a valid token's signature in the standard
// base64 alphabet ("+" and "/" for "-" and "_"). A quarter of signatures
// contain neither character and would not change, so it issues tokens
// until one does.
func stdAlphabetSignature(t *testing.T, tk *Tokens) string {
	t.Helper()
	toStd := strings.NewReplacer("-", "+", "_", "/")
	for range 100 {
		tok, _, err := tk.IssueAccess(42, testSession)
		if err != nil {
			t.Fatal(err)
		}
		p := strings.Split(tok, ".")
		if std := toStd.Replace(p[2]); std != p[2] {
			return p[0] + "." + p[1] + "." + std
		}
	}
	t.Fatal("no signature with - or _ in 100 tokens")
	return ""
}

// withTrailingBits respells a base64url part with non-zero unused bits in
// its last character, which a non-strict decoder reads as the same bytes.
func withTrailingBits(t *testing.T, part string) string {
	t.Helper()
	if len(part)%4 == 0 {
		t.Fatalf("part %q has no unused bits", part)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, part[len(part)-1])
	alt := part[:len(part)-1] + string(alphabet[last|1])
	if alt == part {
		t.Fatalf("part %q already has trailing bits", part)
	}
	a, _ := base64.RawURLEncoding.DecodeString(alt)
	b, _ := base64.RawURLEncoding.DecodeString(part)
	if string(a) != string(b) {
		t.Fatalf("respelling changed the bytes of %q", part)
	}
	return alt
}

func TestVerifyExpiry(t *testing.T) {
	for _, cacheSize := range []int{-1, 0} {
		clk := &fakeClock{now: t0}
		tk := newTestTokens(t, clk, func(o *TokenOptions) { o.CacheSize = cacheSize; o.AccessTTL = 10 * time.Minute })
		tok, c, _ := tk.IssueAccess(7, testSession)
		clk.Add(10*time.Minute - time.Second)
		if _, err := tk.Verify(tok, TokenAccess); err != nil {
			t.Fatalf("cache %d: token rejected a second before exp: %v", cacheSize, err)
		}
		clk.Add(time.Second + Leeway + time.Second)
		_, err := tk.Verify(tok, TokenAccess)
		var te *TokenError
		if !errors.As(err, &te) || te.Reason != "expired" {
			t.Fatalf("cache %d: expired token: err = %v", cacheSize, err)
		}
		if clk.Now().Before(c.ExpiresAt) {
			t.Fatal("test clock did not pass exp")
		}
		// The refresh token outlives it and is still good.
		clk2 := &fakeClock{now: t0}
		tk2 := newTestTokens(t, clk2, nil)
		ref, _, _ := tk2.IssueRefresh(7, "")
		clk2.Add(7*24*time.Hour + Leeway + time.Second)
		if _, err := tk2.Verify(ref, TokenRefresh); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("expired refresh accepted: %v", err)
		}
	}
}

func TestCache(t *testing.T) {
	clk := &fakeClock{now: t0}
	tk := newTestTokens(t, clk, func(o *TokenOptions) { o.AccessTTL = time.Minute })
	tok, want, _ := tk.IssueAccess(9, testSession)

	c1, err := tk.Verify(tok, TokenAccess)
	if err != nil || c1 != want {
		t.Fatalf("first verify: %+v, %v", c1, err)
	}
	if n := tk.cache.len(); n != 1 {
		t.Fatalf("cache holds %d entries after one verify, want 1", n)
	}

	// A hit must not re-run verification: with the key swapped out, only
	// the cache can accept the token.
	realKey := tk.parseOpts[0]
	tk.parseOpts[0] = jwt.WithKey(jwa.HS256, otherKey)
	c2, err := tk.Verify(tok, TokenAccess)
	if err != nil || c2 != want {
		t.Fatalf("cache hit: %+v, %v", c2, err)
	}
	// The cache is keyed by the whole token: a tampered copy misses.
	if _, err := tk.Verify(tok[:strings.LastIndexByte(tok, '.')+1]+flipFirst(tok[strings.LastIndexByte(tok, '.')+1:]), TokenAccess); err == nil {
		t.Fatal("tampered token accepted")
	}
	// Never for refresh: the cached access token is not a refresh token.
	if _, err := tk.Verify(tok, TokenRefresh); err == nil {
		t.Fatal("cached access token accepted as refresh")
	}
	tk.parseOpts[0] = realKey

	// Refresh tokens are not cached.
	ref, _, _ := tk.IssueRefresh(9, "")
	if _, err := tk.Verify(ref, TokenRefresh); err != nil {
		t.Fatal(err)
	}
	if n := tk.cache.len(); n != 1 {
		t.Fatalf("cache holds %d entries after refresh verify, want 1", n)
	}

	// At exp the cache does not answer, even inside the verify leeway, and
	// the entry is dropped.
	clk.Add(time.Minute)
	tk.parseOpts[0] = jwt.WithKey(jwa.HS256, otherKey)
	if c, err := tk.Verify(tok, TokenAccess); err == nil {
		t.Fatalf("cache returned claims at exp: %+v", c)
	}
	tk.parseOpts[0] = realKey
	if n := tk.cache.len(); n != 0 {
		t.Fatalf("expired entry kept: %d entries", n)
	}
	clk.Add(Leeway + time.Second)
	if _, err := tk.Verify(tok, TokenAccess); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("expired token accepted: %v", err)
	}
}

func TestCacheBounded(t *testing.T) {
	clk := &fakeClock{now: t0}
	tk := newTestTokens(t, clk, func(o *TokenOptions) { o.CacheSize = 64; o.AccessTTL = time.Minute })
	for i := 0; i < 1000; i++ {
		tok, _, _ := tk.IssueAccess(int64(i+1), testSession)
		if _, err := tk.Verify(tok, TokenAccess); err != nil {
			t.Fatal(err)
		}
		if i == 500 {
			clk.Add(30 * time.Second)
		}
	}
	if n := tk.cache.len(); n > 64 {
		t.Fatalf("cache grew to %d entries, bound 64", n)
	}
	// Entries past exp are swept when a shard fills. Move past the exp of
	// every cached entry (the last were issued at t0+30s for a minute):
	// they stay in their shards until a get meets them or the shard fills.
	clk.Add(time.Minute)
	now := clk.Now()
	if n := expiredEntries(tk.cache, now, nil); n == 0 {
		t.Fatal("no expired entries in the cache: the sweep below would test nothing")
	}
	// Every shard is full after the first loop, so the first put a shard
	// receives now sweeps it; each put adds an entry valid at now.
	reached := make(map[*cacheShard]bool)
	for i := 0; i < 200; i++ {
		tok, _, _ := tk.IssueAccess(int64(i+1), testSession)
		if _, err := tk.Verify(tok, TokenAccess); err != nil {
			t.Fatal(err)
		}
		reached[tk.cache.shard(tokenKey(tok))] = true
	}
	// A shard no put reached may keep its expired entries; get never
	// returns them (tested above).
	if n := expiredEntries(tk.cache, now, reached); n != 0 {
		t.Fatalf("%d expired entries left in shards that filled after they expired", n)
	}
	if n := tk.cache.len(); n > 64 {
		t.Fatalf("cache grew to %d entries, bound 64", n)
	}
}

// expiredEntries counts the entries at or past their exp at now, in the
// shards of c that only names (all shards when only is nil).
func expiredEntries(c *tokenCache, now time.Time, only map[*cacheShard]bool) int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		if only != nil && !only[s] {
			continue
		}
		s.mu.RLock()
		for _, e := range s.m {
			if !now.Before(e.ExpiresAt) {
				n++
			}
		}
		s.mu.RUnlock()
	}
	return n
}

func TestCacheConcurrent(t *testing.T) {
	clk := &fakeClock{now: t0}
	tk := newTestTokens(t, clk, func(o *TokenOptions) { o.CacheSize = 32 })
	toks := make([]string, 50)
	for i := range toks {
		toks[i], _, _ = tk.IssueAccess(int64(i+1), testSession)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				j := (i*7 + g) % len(toks)
				c, err := tk.Verify(toks[j], TokenAccess)
				if err != nil || c.UserID != int64(j+1) {
					t.Errorf("Verify(tok %d) = %+v, %v", j, c, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

func BenchmarkVerify(b *testing.B) {
	clk := &fakeClock{now: t0}
	b.Run("cold", func(b *testing.B) {
		tk := newTestTokens(b, clk, func(o *TokenOptions) { o.CacheSize = -1 })
		tok, _, _ := tk.IssueAccess(42, testSession)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tk.Verify(tok, TokenAccess); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		tk := newTestTokens(b, clk, nil)
		tok, _, _ := tk.IssueAccess(42, testSession)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tk.Verify(tok, TokenAccess); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached-parallel", func(b *testing.B) {
		tk := newTestTokens(b, clk, nil)
		toks := make([]string, 256)
		for i := range toks {
			toks[i], _, _ = tk.IssueAccess(int64(i+1), testSession)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := tk.Verify(toks[i&255], TokenAccess); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

func BenchmarkIssueAccess(b *testing.B) {
	tk := newTestTokens(b, &fakeClock{now: t0}, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := tk.IssueAccess(42, testSession); err != nil {
			b.Fatal(err)
		}
	}
}

// testSession is the session (refresh family) the tests' access tokens name.
const testSession = "0b7c1f7e-3c5e-4b7a-9d2e-5f1a2b3c4d5e"
