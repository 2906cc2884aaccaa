package config

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
)

// ExampleSecretKey is .env.example's SECRET_KEY: a placeholder to replace,
// never a key.
const ExampleSecretKey = "change-me-to-64-hex-chars-from-openssl-rand-hex-32"

// GenerateHint says how to make a good secret.
const GenerateHint = "generate one with `openssl rand -hex 32` or `healthcare secret`"

// MinSecretKeyBytes is the shortest SECRET_KEY accepted outside DEBUG.
const MinSecretKeyBytes = 32

// IsPlaceholder reports whether s is one of the example's placeholders
// (.env.example and docker-compose.yml say change-me...) rather than a
// real secret.
func IsPlaceholder(s string) bool {
	l := strings.ToLower(s)
	return s == ExampleSecretKey || strings.Contains(l, "change-me") || strings.Contains(l, "changeme") ||
		strings.Contains(l, "change_me")
}

// CheckSecretKey refuses a SECRET_KEY that is the example's placeholder,
// shorter than 32 bytes, or visibly low in entropy: few distinct
// characters, a short pattern repeated, or mostly runs (aaaa, abcd, 4321).
// A key from `openssl rand -hex 32` (64 hex digits) always passes.
func CheckSecretKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("required (at least %d bytes; %s)", MinSecretKeyBytes, GenerateHint)
	case IsPlaceholder(key):
		return fmt.Errorf("is the example's placeholder, not a key: %s", GenerateHint)
	case len(key) < MinSecretKeyBytes:
		return fmt.Errorf("must be at least %d bytes, got %d: %s", MinSecretKeyBytes, len(key), GenerateHint)
	}
	if why := lowEntropy(key); why != "" {
		return fmt.Errorf("is too easy to guess (%s): %s", why, GenerateHint)
	}
	return nil
}

// lowEntropy says why s looks guessable, or "".
func lowEntropy(s string) string {
	b := []byte(s)
	counts := map[byte]int{}
	for _, c := range b {
		counts[c]++
	}
	if len(counts) < 8 {
		return fmt.Sprintf("only %d distinct characters", len(counts))
	}
	for unit := 1; unit <= len(b)/2; unit++ {
		repeated := true
		for i := unit; i < len(b); i++ {
			if b[i] != b[i-unit] {
				repeated = false
				break
			}
		}
		if repeated {
			return fmt.Sprintf("a %d-character pattern repeated", unit)
		}
	}
	// Runs: neighbours equal or one apart (aaaa, abcd, 9876).
	runs := 0
	for i := 1; i < len(b); i++ {
		if d := int(b[i]) - int(b[i-1]); d >= -1 && d <= 1 {
			runs++
		}
	}
	if runs*2 > len(b)-1 {
		return "mostly runs of neighbouring characters"
	}
	// Shannon entropy per character: 4 bits for random hex digits,
	// under 3 for text with a few characters repeated over and over.
	var h float64
	for _, n := range counts {
		p := float64(n) / float64(len(b))
		h -= p * math.Log2(p)
	}
	if h < 3 {
		return fmt.Sprintf("%.1f bits per character", h)
	}
	return ""
}

// databasePassword returns the password of a URL or key=value connection
// string, "" when it has none.
func databasePassword(dsn string) string {
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return ""
		}
		if pw, ok := u.User.Password(); ok {
			return pw
		}
		return u.Query().Get("password")
	}
	m := dsnPassword.FindStringSubmatch(dsn)
	if m == nil {
		return ""
	}
	v := m[2]
	if strings.HasPrefix(v, "'") && strings.HasSuffix(v, "'") && len(v) >= 2 {
		v = strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(v[1 : len(v)-1])
	}
	return v
}

// CheckDatabasePassword refuses a connection string whose password is one
// of the example's placeholders.
func CheckDatabasePassword(dsn string) error {
	if pw := databasePassword(dsn); pw != "" && IsPlaceholder(pw) {
		return errors.New("the database password is the example's placeholder: set a real one " +
			"(`openssl rand -hex 24`) in the database and in DB_PASSWORD or DATABASE_URL")
	}
	return nil
}
