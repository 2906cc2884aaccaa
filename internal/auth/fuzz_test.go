package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The fuzz targets use a fixed key and clock so that the committed seed
// tokens under testdata/fuzz/FuzzVerify stay valid: some must be accepted
// for the fuzzer to explore the accepting paths.
var (
	fuzzKey = []byte("fuzz-key-not-a-secret-0123456789abcdef")
	fuzzNow = time.Date(2025, 1, 1, 0, 0, 30, 0, time.UTC)
)

// hmacSig is an independent HS256 oracle: base64url(HMAC-SHA256(key, input)).
func hmacSig(key []byte, input string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(input))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func fuzzTokens(t testing.TB) *Tokens {
	return newTestTokens(t, &fakeClock{now: fuzzNow}, func(o *TokenOptions) {
		o.Key = fuzzKey
		o.AccessTTL = time.Hour
		o.RefreshTTL = time.Hour
	})
}

func FuzzVerify(f *testing.F) {
	issuer := newTestTokens(f, &fakeClock{now: fuzzNow.Add(-time.Second)}, func(o *TokenOptions) { o.Key = fuzzKey })
	acc, _, _ := issuer.IssueAccess(1, testSession)
	ref, _, _ := issuer.IssueRefresh(2, "")
	for _, s := range []string{acc, ref, "", "a.b.c", acc + "x", strings.Replace(acc, ".", "..", 1)} {
		f.Add(s)
	}
	tk := fuzzTokens(f)
	f.Fuzz(func(t *testing.T, token string) {
		for _, want := range []TokenType{TokenAccess, TokenRefresh} {
			c, err := tk.Verify(token, want)
			if err != nil {
				if c != (Claims{}) {
					t.Fatalf("claims with error: %+v", c)
				}
				continue
			}
			// Accepted: it must carry our MAC over exactly its first two
			// parts, declare HS256, and have the wanted type and a user.
			parts := strings.Split(token, ".")
			if len(parts) != 3 || hmacSig(fuzzKey, parts[0]+"."+parts[1]) != parts[2] {
				t.Fatalf("accepted a token not signed with the key: %q", token)
			}
			raw, _ := base64.RawURLEncoding.DecodeString(parts[0])
			var hdr map[string]any
			if json.Unmarshal(raw, &hdr) != nil || hdr["alg"] != "HS256" {
				t.Fatalf("accepted header %s", raw)
			}
			if c.Type != want || c.UserID <= 0 || !fuzzNow.Before(c.ExpiresAt.Add(Leeway)) {
				t.Fatalf("accepted claims %+v for %s", c, want)
			}
		}
	})
}

func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc.def.ghi", "bearer x", "Bearer  x", "Basic x", "Bearer a=b", "Bearer ", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		tok, ok := BearerToken(header)
		if !ok {
			if tok != "" {
				t.Fatalf("token %q returned with ok=false", tok)
			}
			return
		}
		if len(header) < 8 || !strings.EqualFold(header[:7], "Bearer ") || header[7:] != tok {
			t.Fatalf("BearerToken(%q) = %q", header, tok)
		}
		if tok == "" || len(tok) > MaxTokenBytes || strings.ContainsAny(tok, " \t\r\n,;\"\\") {
			t.Fatalf("BearerToken(%q) accepted bad token %q", header, tok)
		}
	})
}

// The committed corpus must keep at least one accepted token (seed00, an
// access token, and seed01, a refresh token), or the fuzzer never reaches
// the accepting paths.
func TestFuzzCorpusHasValidTokens(t *testing.T) {
	tk := fuzzTokens(t)
	for file, want := range map[string]TokenType{"seed00": TokenAccess, "seed01": TokenRefresh} {
		b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzVerify", file))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		tok, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tk.Verify(tok, want); err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}
}
