package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// TokenType is the private claim `token_type`, named as in DRF simplejwt so
// the seed's clients recognise it.
type TokenType string

// The two token types. A refresh token is never accepted where an access
// token is wanted, and the reverse.
const (
	TokenAccess  TokenType = "access"
	TokenRefresh TokenType = "refresh"
)

// Claim names beyond the registered ones.
const (
	ClaimTokenType = "token_type"
	ClaimFamily    = "family"
)

// Leeway is the clock skew tolerated when checking exp, iat and nbf, so
// copies of the server whose clocks differ slightly agree on a token. The
// verified-token cache does not use it: it never returns a token at or past
// its exp.
const Leeway = 5 * time.Second

// MinKeyBytes is the shortest HS256 key NewTokens accepts (RFC 7518 §3.2:
// a key of the same size as the hash output).
const MinKeyBytes = 32

// MaxTokenBytes bounds the token length read from a request. Our tokens
// are about 300 bytes; anything much longer is not ours.
const MaxTokenBytes = 4096

// DefaultCacheSize is the number of verified access tokens kept by default.
const DefaultCacheSize = 10000

// ErrInvalidToken is matched (errors.Is) by every verification failure.
// The HTTP layer answers 401 with `WWW-Authenticate: Bearer
// error="invalid_token"` and tells the client nothing more.
var ErrInvalidToken = errors.New("invalid token")

// TokenError is the error Verify returns. Reason is a short, stable,
// snake_case code for logs (never sent to the client); Err is the cause
// when there is one.
type TokenError struct {
	Reason string
	Err    error
}

func (e *TokenError) Error() string {
	if e.Err != nil {
		return "invalid token: " + e.Reason + ": " + e.Err.Error()
	}
	return "invalid token: " + e.Reason
}

// Is makes errors.Is(err, ErrInvalidToken) true.
func (e *TokenError) Is(target error) bool { return target == ErrInvalidToken }

// Unwrap returns the cause.
func (e *TokenError) Unwrap() error { return e.Err }

func invalid(reason string, err error) error { return &TokenError{Reason: reason, Err: err} }

// Claims are the verified contents of a token.
type Claims struct {
	UserID    int64
	ID        string // jti, a UUID
	Type      TokenType
	Family    string // the session: the refresh token family (a UUID) the token belongs to
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// TokenOptions configure NewTokens.
type TokenOptions struct {
	Key        []byte // HS256 secret, at least MinKeyBytes
	Issuer     string // iss, required
	Audience   string // aud, required
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	// Now is the clock; nil means time.Now. Tests inject a fixed clock.
	Now func() time.Time
	// CacheSize bounds the verified access-token cache: 0 means
	// DefaultCacheSize, a negative value disables the cache.
	CacheSize int
}

// Tokens issues and verifies JWTs. It is safe for concurrent use.
type Tokens struct {
	key        []byte
	issuer     string
	audience   string
	accessTTL  time.Duration
	refreshTTL time.Duration
	now        func() time.Time
	cache      *tokenCache // nil when disabled
	parseOpts  []jwt.ParseOption
}

// NewTokens checks o and returns a Tokens.
func NewTokens(o TokenOptions) (*Tokens, error) {
	switch {
	case len(o.Key) < MinKeyBytes:
		return nil, fmt.Errorf("new tokens: key must be at least %d bytes", MinKeyBytes)
	case o.Issuer == "" || o.Audience == "":
		return nil, errors.New("new tokens: issuer and audience are required")
	case o.AccessTTL <= 0 || o.RefreshTTL <= 0:
		return nil, errors.New("new tokens: token lifetimes must be positive")
	}
	t := &Tokens{
		key:        append([]byte(nil), o.Key...),
		issuer:     o.Issuer,
		audience:   o.Audience,
		accessTTL:  o.AccessTTL,
		refreshTTL: o.RefreshTTL,
		now:        o.Now,
	}
	if t.now == nil {
		t.now = time.Now
	}
	size := o.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	if size > 0 {
		t.cache = newTokenCache(size)
	}
	t.parseOpts = []jwt.ParseOption{
		// Only HS256 with our key: the static key provider signs with the
		// given algorithm whatever the header claims; the header is also
		// checked by checkHeader before jwx sees the token.
		jwt.WithKey(jwa.HS256, t.key),
		jwt.WithValidate(true),
		jwt.WithClock(jwt.ClockFunc(func() time.Time { return t.now() })),
		jwt.WithAcceptableSkew(Leeway),
		jwt.WithIssuer(t.issuer),
		jwt.WithAudience(t.audience),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.IssuedAtKey),
		jwt.WithRequiredClaim(jwt.SubjectKey),
		jwt.WithRequiredClaim(jwt.JwtIDKey),
		jwt.WithRequiredClaim(ClaimTokenType),
	}
	return t, nil
}

// IssueAccess signs a new access token for userID in session (the refresh
// token family issued with it). The database refuses the token's requests
// once that session is logged out or revoked.
func (t *Tokens) IssueAccess(userID int64, session string) (string, Claims, error) {
	if !isUUID(session) {
		return "", Claims{}, errors.New("issue access token: session is not a UUID")
	}
	return t.issue(userID, TokenAccess, session, t.accessTTL)
}

// IssueRefresh signs a new refresh token for userID in the rotation family
// family (a UUID); an empty family starts a new one. The caller records
// the returned claims' ID and Family in the database.
func (t *Tokens) IssueRefresh(userID int64, family string) (string, Claims, error) {
	if family == "" {
		family = uuid.NewString()
	} else if !isUUID(family) {
		return "", Claims{}, errors.New("issue refresh token: family is not a UUID")
	}
	return t.issue(userID, TokenRefresh, family, t.refreshTTL)
}

func (t *Tokens) issue(userID int64, typ TokenType, family string, ttl time.Duration) (string, Claims, error) {
	if userID <= 0 {
		return "", Claims{}, fmt.Errorf("issue %s token: user id must be positive", typ)
	}
	// NumericDate has second precision: truncate so the returned claims
	// equal what Verify will read back.
	now := t.now().Truncate(time.Second)
	c := Claims{
		UserID:    userID,
		ID:        uuid.NewString(),
		Type:      typ,
		Family:    family,
		IssuedAt:  now,
		ExpiresAt: now.Add(ttl),
	}
	b := jwt.NewBuilder().
		Subject(strconv.FormatInt(userID, 10)).
		Issuer(t.issuer).
		Audience([]string{t.audience}).
		IssuedAt(c.IssuedAt).
		Expiration(c.ExpiresAt).
		JwtID(c.ID).
		Claim(ClaimTokenType, string(typ))
	if family != "" {
		b = b.Claim(ClaimFamily, family)
	}
	tok, err := b.Build()
	if err != nil {
		return "", Claims{}, fmt.Errorf("issue %s token: build: %w", typ, err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.HS256, t.key))
	if err != nil {
		return "", Claims{}, fmt.Errorf("issue %s token: sign: %w", typ, err)
	}
	return string(signed), c, nil
}

// Verify checks token's signature (HS256 with our key only), its time
// claims (with Leeway), iss, aud, the required claims, and that its type is
// want; it returns the claims. Every failure matches ErrInvalidToken.
//
// Verified access tokens are cached until their exp, so a client repeating
// requests with the same token skips the signature check. Refresh tokens are
// never cached: they are checked against the database anyway.
func (t *Tokens) Verify(token string, want TokenType) (Claims, error) {
	if token == "" || len(token) > MaxTokenBytes {
		return Claims{}, invalid("bad_length", nil)
	}
	if want != TokenAccess && want != TokenRefresh {
		return Claims{}, invalid("unknown_wanted_type", nil)
	}
	var key [sha256.Size]byte
	useCache := want == TokenAccess && t.cache != nil
	if useCache {
		key = tokenKey(token)
		if c, ok := t.cache.get(key, t.now()); ok {
			return c, nil
		}
	}
	c, err := t.verify(token, want)
	if err != nil {
		return Claims{}, err
	}
	if useCache {
		t.cache.put(key, c, t.now())
	}
	return c, nil
}

// tokenKey is the cache key of token: its SHA-256. Tokens this server
// issues (about 350 bytes) are copied into a stack buffer first, because
// converting a string that long to a byte slice allocates on every request.
func tokenKey(token string) [sha256.Size]byte {
	var buf [1024]byte
	if len(token) > len(buf) {
		return sha256.Sum256([]byte(token))
	}
	n := copy(buf[:], token)
	return sha256.Sum256(buf[:n])
}

func (t *Tokens) verify(token string, want TokenType) (Claims, error) {
	if err := checkHeader(token); err != nil {
		return Claims{}, err
	}
	tok, err := jwt.ParseString(token, t.parseOpts...)
	if err != nil {
		return Claims{}, invalid(jwxReason(err), err)
	}
	typ, _ := tok.PrivateClaims()[ClaimTokenType].(string)
	if TokenType(typ) != want {
		return Claims{}, invalid("wrong_token_type", nil)
	}
	sub := tok.Subject()
	id, err := strconv.ParseInt(sub, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != sub {
		return Claims{}, invalid("bad_subject", nil)
	}
	c := Claims{
		UserID:    id,
		ID:        tok.JwtID(),
		Type:      want,
		IssuedAt:  tok.IssuedAt(),
		ExpiresAt: tok.Expiration(),
	}
	// jti (and family) go to uuid columns: a non-UUID would be a 500 there.
	if !isUUID(c.ID) {
		return Claims{}, invalid("bad_jti", nil)
	}
	// Both kinds name their session; it goes to a uuid column too.
	c.Family, _ = tok.PrivateClaims()[ClaimFamily].(string)
	if !isUUID(c.Family) {
		return Claims{}, invalid("bad_family", nil)
	}
	return c, nil
}

// checkHeader requires the compact serialisation in its one canonical
// spelling (three parts of the base64url alphabet, each strictly encoded,
// the last a 32-byte MAC) and a protected header whose alg is exactly HS256
// with no crit extensions. Base64 decoders skip line breaks and tolerate
// stray trailing bits, so without this a signed token would have other
// spellings that still verify. jwx would fail a wrong alg on the signature;
// checking first makes the rule explicit and independent of the library.
func checkHeader(token string) error {
	h, rest, ok := strings.Cut(token, ".")
	if !ok || strings.Count(rest, ".") != 1 || h == "" {
		return invalid("malformed", nil)
	}
	payload, sig, _ := strings.Cut(rest, ".")
	if len(sig) != 43 || !canonicalBase64URL(sig) {
		return invalid("malformed_signature", nil)
	}
	if payload == "" || !canonicalBase64URL(payload) {
		return invalid("malformed_payload", nil)
	}
	if !canonicalBase64URL(h) {
		return invalid("malformed_header", nil)
	}
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return invalid("malformed_header", err)
	}
	var hdr struct {
		Alg  string          `json:"alg"`
		Crit json.RawMessage `json:"crit"`
	}
	if err := json.Unmarshal(raw, &hdr); err != nil {
		return invalid("malformed_header", err)
	}
	if hdr.Alg != string(jwa.HS256) {
		return invalid("bad_alg", nil)
	}
	if hdr.Crit != nil {
		return invalid("crit_header", nil)
	}
	return nil
}

// canonicalBase64URL reports whether s uses only the unpadded base64url
// alphabet and decodes with zero trailing bits.
func canonicalBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

func jwxReason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired()):
		return "expired"
	case errors.Is(err, jwt.ErrTokenNotYetValid()):
		return "not_yet_valid"
	case errors.Is(err, jwt.ErrInvalidIssuedAt()):
		return "bad_iat"
	case errors.Is(err, jwt.ErrInvalidIssuer()):
		return "bad_issuer"
	case errors.Is(err, jwt.ErrInvalidAudience()):
		return "bad_audience"
	case errors.Is(err, jwt.ErrRequiredClaim()):
		return "missing_claim"
	case jwt.IsValidationError(err):
		return "validation"
	default:
		return "bad_signature_or_format"
	}
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}
