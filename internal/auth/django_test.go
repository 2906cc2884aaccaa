package auth

import (
	"context"
	stdpbkdf2 "crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

// DjangoPBKDF2 makes a hash in Django's pbkdf2_sha256 format with the
// standard library's PBKDF2 (an implementation independent of the one
// Verify uses), as Django's PBKDF2PasswordHasher.encode does.
func djangoPBKDF2(t testing.TB, password, salt string, iterations int) string {
	key, err := stdpbkdf2.Key(sha256.New, password, []byte(salt), iterations, 32)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("pbkdf2_sha256$%d$%s$%s", iterations, salt, base64.StdEncoding.EncodeToString(key))
}

// djangoArgon2Hash makes a hash in Django's Argon2PasswordHasher format:
// "argon2" and argon2-cffi's PHC string of argon2id over the salt's bytes.
func djangoArgon2Hash(password, salt string, m, t uint32, p uint8) string {
	key := argon2.IDKey([]byte(password), []byte(salt), t, m, p, 32)
	return fmt.Sprintf("argon2$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, t, p,
		base64.RawStdEncoding.EncodeToString([]byte(salt)), base64.RawStdEncoding.EncodeToString(key))
}

func TestVerifyDjangoHashes(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher(t, fastParams, 1)
	// Django's own test vector (PBKDF2PasswordHasher at Django 5.2's
	// 1,000,000 iterations), computed once with Python's hashlib.
	const vector = "pbkdf2_sha256$1000000$seasalt$r1uLUxoxpP2Ued/qxvmje7UH9PUJBkRrvf9gGPL7Cps="
	if got := djangoPBKDF2(t, "lètmein", "seasalt", 1000000); got != vector {
		t.Fatalf("test oracle disagrees with the known vector: %s", got)
	}
	for _, c := range []struct {
		name, stored, password string
	}{
		{"pbkdf2_sha256 vector", vector, "lètmein"},
		// Written by Django 3.2.25 itself (Debian 12's python3-django,
		// make_password with these salts): its argon2 defaults are
		// m=102400, t=2, p=8 with a 16-byte key.
		{"Django 3.2 pbkdf2_sha256", "pbkdf2_sha256$260000$seasalt$YlZ2Vggtqdc61YjArZuoApoBh9JNGYoDRBUGu6tcJQo=", "lètmein"},
		{"Django 3.2 argon2", "argon2$argon2id$v=19$m=102400,t=2,p=8$WnIwS3E4blQydld4OXlBMWJDM2RFNA$MjO/L4y+EUCjNNIwIqRCpA", "battery staple"},
		{"pbkdf2_sha256", djangoPBKDF2(t, "correct horse", "Zr0Kq8nT2vWx9yA1bC3dE4", 1200), "correct horse"},
		{"argon2id", djangoArgon2Hash("battery staple", "Zr0Kq8nT2vWx9yA1bC3dE4", 64, 2, 2), "battery staple"},
	} {
		ok, err := h.Verify(ctx, c.password, c.stored)
		if !ok || err != nil {
			t.Errorf("%s: Verify(right password) = %v, %v", c.name, ok, err)
		}
		ok, err = h.Verify(ctx, c.password+"x", c.stored)
		if ok || err != nil {
			t.Errorf("%s: Verify(wrong password) = %v, %v", c.name, ok, err)
		}
		if !h.NeedsRehash(c.stored) {
			t.Errorf("%s: NeedsRehash = false for a Django hash", c.name)
		}
		if f, err := HashFormat(c.stored); err != nil {
			t.Errorf("%s: HashFormat = %s, %v", c.name, f, err)
		}
	}
}

func TestUnusableAndUnsupportedHashes(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher(t, fastParams, 1)
	for stored, format := range map[string]string{
		"!Yl0YQ1ZNQq9AUjn1ac4aP9pVcUPbtqQ6F9Zmfx8B":                       "unusable",
		Unusable("bcrypt_sha256"):                                         "unusable",
		"bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuuRoR3sXBg0a4z.7zQ5RaU": "bcrypt_sha256",
		"unsalted_md5$$5f4dcc3b5aa765d61d8327deb882cf99":                  "unsalted_md5",
		"5f4dcc3b5aa765d61d8327deb882cf99":                                "5f4dcc3b5aa765d61d8327deb882cf99",
		"":                                                                "empty",
	} {
		got, err := HashFormat(stored)
		if got != format || !errors.Is(err, ErrUnsupportedHash) {
			t.Errorf("HashFormat(%q) = %q, %v; want %q, ErrUnsupportedHash", stored, got, err, format)
		}
	}
	var calls int
	h.derive = func(pw, salt []byte, tm, mem uint32, th uint8, kl uint32) []byte {
		calls++
		return make([]byte, kl)
	}
	// An unusable hash never matches, costs one derivation like a wrong
	// password, and never asks for a rehash.
	for _, stored := range []string{"!", Unusable("bcrypt_sha256")} {
		calls = 0
		if ok, err := h.Verify(ctx, "anything", stored); ok || err != nil || calls != 1 {
			t.Errorf("Verify(%q) = %v, %v after %d derivations; want false, nil after 1", stored, ok, err, calls)
		}
		if h.NeedsRehash(stored) {
			t.Errorf("NeedsRehash(%q) = true", stored)
		}
	}
}

func TestMalformedDjangoHashes(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher(t, fastParams, 1)
	good := djangoPBKDF2(t, "pw", "salt", 10)
	key := good[strings.LastIndex(good, "$")+1:]
	for _, bad := range []string{
		"pbkdf2_sha256$10$salt",                     // missing key
		"pbkdf2_sha256$0$salt$" + key,               // no iterations
		"pbkdf2_sha256$010$salt$" + key,             // leading zero
		"pbkdf2_sha256$4000001$salt$" + key,         // beyond the bound
		"pbkdf2_sha256$10$$" + key,                  // empty salt
		"pbkdf2_sha256$10$salt$" + key[:len(key)-1], // broken base64
		"pbkdf2_sha256$10$salt$c2hvcnQ=",            // key too short
		"argon2$argon2d$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$" + key,
		"argon2$argon2id$v=19$m=1048576,t=1,p=1$c2FsdHNhbHQ$c2FsdHNhbHRzYWx0c2FsdA", // 1 GiB
		"argon2$argon2id$m=64,t=1,p=1$c2FsdHNhbHQ$c2FsdHNhbHRzYWx0c2FsdA",           // argon2 1.0 format
	} {
		if ok, err := h.Verify(ctx, "pw", bad); ok || !errors.Is(err, ErrMalformedHash) {
			t.Errorf("Verify(%q) = %v, %v; want false, ErrMalformedHash", bad, ok, err)
		}
		if _, err := HashFormat(bad); !errors.Is(err, ErrMalformedHash) {
			t.Errorf("HashFormat(%q) = %v; want ErrMalformedHash", bad, err)
		}
	}
}

// NeedsRehash is false exactly for argon2id in the current parameters.
func TestNeedsRehashFollowsTheParameters(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher(t, fastParams, 1)
	current, _ := h.Hash(ctx, "password123")
	if h.NeedsRehash(current) {
		t.Fatal("a hash in the current parameters needs a rehash")
	}
	more := fastParams
	more.Iterations++
	h2 := newTestHasher(t, more, 1)
	if !h2.NeedsRehash(current) {
		t.Fatal("a hash with fewer iterations than configured needs no rehash")
	}
	if ok, err := h2.Verify(ctx, "password123", current); !ok || err != nil {
		t.Fatalf("old parameters no longer verify: %v, %v", ok, err)
	}
}
