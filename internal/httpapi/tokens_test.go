package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// signed builds a token with our claim layout, signed with key.
func signed(t *testing.T, key []byte, userID int64, typ string, iat, exp time.Time) string {
	t.Helper()
	tok, err := jwt.NewBuilder().Subject(strconv.FormatInt(userID, 10)).Issuer(testIssuer).
		Audience([]string{testAudience}).IssuedAt(iat).Expiration(exp).JwtID(uuid.NewString()).
		Claim("token_type", typ).Build()
	if err != nil {
		t.Fatal(err)
	}
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.HS256, key))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// tamper rewrites the payload's subject, keeping the old signature.
func tamper(t *testing.T, token string, sub int64) string {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	claims["sub"] = strconv.FormatInt(sub, 10)
	raw, _ = json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

// algNone re-issues token's payload unsigned with alg "none".
func algNone(token string) string {
	parts := strings.Split(token, ".")
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	return header + "." + parts[1] + "."
}

func TestBadTokensAreRefusedWith401(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a, b := h.signup("tess"), h.signup("tom")
	now := time.Now()
	wrongKey := []byte("0123456789abcdef0123456789abcdef")
	tests := []struct {
		name  string
		token string
	}{
		{"a tampered payload is refused", tamper(t, a.access, b.id)},
		{"an unsigned alg none token is refused", algNone(a.access)},
		{"a token signed with another key is refused", signed(t, wrongKey, a.id, "access", now, now.Add(time.Minute))},
		{"an expired token is refused", signed(t, h.key, a.id, "access", now.Add(-time.Hour), now.Add(-time.Minute))},
		{"a refresh token is not an access token", a.refresh},
		{"garbage is refused", "not-a-jwt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/api/patients/", "/api/doctors/"} {
				r := h.expect(h.do("GET", path, tt.token, nil), 401, path)
				if got := r.header.Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
					t.Fatalf("%s: WWW-Authenticate %q", path, got)
				}
			}
		})
	}

	t.Run("a missing token on a private route asks for one", func(t *testing.T) {
		r := h.expect(h.do("GET", "/api/patients/", "", nil), 401, "no token")
		if got := r.header.Get("WWW-Authenticate"); got != "Bearer" {
			t.Fatalf("WWW-Authenticate %q, want Bearer", got)
		}
	})

	t.Run("an access token is not a refresh token", func(t *testing.T) {
		h.expect(h.do("POST", "/api/auth/refresh/", "", map[string]any{"refresh": a.access}), 401, "access as refresh")
	})
}

func TestReusingARotatedRefreshTokenRevokesItsFamily(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	u := h.signup("rita")
	first := u.refresh
	second := h.expect(h.do("POST", "/api/auth/refresh/", "", map[string]any{"refresh": first}), 200, "rotate").json(t)["refresh"].(string)
	third := h.expect(h.do("POST", "/api/auth/refresh/", "", map[string]any{"refresh": second}), 200, "rotate again").json(t)["refresh"].(string)

	r := h.expect(h.do("POST", "/api/auth/refresh/", "", map[string]any{"refresh": first}), 401, "reuse of a spent token")
	if r.header.Get("WWW-Authenticate") == "" {
		t.Fatal("401 without WWW-Authenticate")
	}
	h.expect(h.do("POST", "/api/auth/refresh/", "", map[string]any{"refresh": third}), 401, "newest token of the revoked family")

	// A new login starts a new family, unaffected.
	again := h.expect(h.do("POST", "/api/auth/login/", "", map[string]any{"username": u.name, "password": "correct horse"}), 200, "login again").json(t)
	h.expect(h.do("POST", "/api/auth/refresh/", "", map[string]any{"refresh": again["refresh"]}), 200, "refresh in a new family")
}

func TestALoggedOutRefreshTokenIsDead(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	u := h.signup("lou")
	h.expect(h.do("POST", "/api/auth/logout/", "", map[string]any{"refresh": u.refresh}), 204, "logout")
	h.expect(h.do("POST", "/api/auth/refresh/", "", map[string]any{"refresh": u.refresh}), 401, "refresh after logout")
	h.expect(h.do("POST", "/api/auth/logout/", "", map[string]any{"refresh": "junk"}), 401, "logout with junk")
}
