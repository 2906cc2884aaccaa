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
	a, b := h.Signup("tess"), h.Signup("tom")
	now := time.Now()
	wrongKey := []byte("0123456789abcdef0123456789abcdef")
	tests := []struct {
		name  string
		token string
	}{
		{"a tampered payload is refused", tamper(t, a.Access, b.ID)},
		{"an unsigned alg none token is refused", algNone(a.Access)},
		{"a token signed with another key is refused", signed(t, wrongKey, a.ID, "access", now, now.Add(time.Minute))},
		{"an expired token is refused", signed(t, h.key, a.ID, "access", now.Add(-time.Hour), now.Add(-time.Minute))},
		{"a refresh token is not an access token", a.Refresh},
		{"garbage is refused", "not-a-jwt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/api/patients/", "/api/doctors/"} {
				r := h.Expect(h.Do("GET", path, tt.token, nil), 401, path)
				if got := r.Header.Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
					t.Fatalf("%s: WWW-Authenticate %q", path, got)
				}
			}
		})
	}

	t.Run("a missing token on a private route asks for one", func(t *testing.T) {
		r := h.Expect(h.Do("GET", "/api/patients/", "", nil), 401, "no token")
		if got := r.Header.Get("WWW-Authenticate"); got != "Bearer" {
			t.Fatalf("WWW-Authenticate %q, want Bearer", got)
		}
	})

	t.Run("an access token is not a refresh token", func(t *testing.T) {
		h.Expect(h.Do("POST", "/api/auth/refresh/", "", map[string]any{"refresh": a.Access}), 401, "access as refresh")
	})
}

func TestReusingARotatedRefreshTokenRevokesItsFamily(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	u := h.Signup("rita")
	first := u.Refresh
	second := h.Expect(h.Do("POST", "/api/auth/refresh/", "", map[string]any{"refresh": first}), 200, "rotate").JSON(t)["refresh"].(string)
	third := h.Expect(h.Do("POST", "/api/auth/refresh/", "", map[string]any{"refresh": second}), 200, "rotate again").JSON(t)["refresh"].(string)

	r := h.Expect(h.Do("POST", "/api/auth/refresh/", "", map[string]any{"refresh": first}), 401, "reuse of a spent token")
	if r.Header.Get("WWW-Authenticate") == "" {
		t.Fatal("401 without WWW-Authenticate")
	}
	h.Expect(h.Do("POST", "/api/auth/refresh/", "", map[string]any{"refresh": third}), 401, "newest token of the revoked family")

	// A new login starts a new family, unaffected.
	again := h.Expect(h.Do("POST", "/api/auth/login/", "", map[string]any{"username": u.Name, "password": "correct horse"}), 200, "login again").JSON(t)
	h.Expect(h.Do("POST", "/api/auth/refresh/", "", map[string]any{"refresh": again["refresh"]}), 200, "refresh in a new family")
}

func TestALoggedOutRefreshTokenIsDead(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	u := h.Signup("lou")
	h.Expect(h.Do("POST", "/api/auth/logout/", "", map[string]any{"refresh": u.Refresh}), 204, "logout")
	h.Expect(h.Do("POST", "/api/auth/refresh/", "", map[string]any{"refresh": u.Refresh}), 401, "refresh after logout")
	h.Expect(h.Do("POST", "/api/auth/logout/", "", map[string]any{"refresh": "junk"}), 401, "logout with junk")
}
