package auth

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"hash"
	"strings"

	"golang.org/x/crypto/pbkdf2"
)

// The password formats of the Django system, which `healthcare import
// django` carries over so its users log in with their old passwords; the
// first successful login replaces them with an argon2id hash (NeedsRehash),
// as Django itself upgrades hashes.
//
//	pbkdf2_sha256$<iterations>$<salt>$<base64 key>   Django's default
//	pbkdf2_sha1$<iterations>$<salt>$<base64 key>
//	argon2$argon2id$v=19$m=<m>,t=<t>,p=<p>$<salt>$<key>   (also argon2i)
//
// Anything starting with "!" is unusable (Django's set_unusable_password,
// and what the importer stores for a format it cannot verify).
const (
	djangoPBKDF2SHA256 = "pbkdf2_sha256"
	djangoPBKDF2SHA1   = "pbkdf2_sha1"
	djangoArgon2       = "argon2"
	unusablePrefix     = "!"

	// maxPBKDF2Iterations bounds the work a stored row can ask for: Django
	// 5.2 writes 1,000,000 and 6.0 1,200,000; one verification at this
	// bound costs about a second of one core.
	maxPBKDF2Iterations = 4_000_000
)

// ErrUnsupportedHash means a stored hash is in a format no login can
// verify (bcrypt_sha256, unsalted md5, ...).
var ErrUnsupportedHash = errors.New("unsupported password hash format")

// Unusable returns the hash the importer stores for an account whose
// password cannot be carried over: it names the old format and no password
// ever matches it.
func Unusable(format string) string {
	return unusablePrefix + "unusable: " + format
}

// HashFormat names the format of a stored hash ("argon2id", "pbkdf2_sha256",
// "pbkdf2_sha1", "argon2", "unusable", or for anything else the algorithm
// name before its first "$") and says whether a login can verify it: nil
// when it can, ErrUnsupportedHash for another algorithm or an unusable
// hash, ErrMalformedHash for a known algorithm whose string cannot be read
// or whose parameters are out of bounds. It derives nothing.
func HashFormat(stored string) (string, error) {
	switch {
	case strings.HasPrefix(stored, "$argon2id$"):
		_, _, _, _, err := decodePHCVariant(stored, "argon2id")
		return "argon2id", err
	case strings.HasPrefix(stored, unusablePrefix):
		return "unusable", ErrUnsupportedHash
	case strings.HasPrefix(stored, djangoArgon2+"$"):
		_, _, _, _, err := decodePHCVariant(strings.TrimPrefix(stored, djangoArgon2), "argon2id", "argon2i")
		return djangoArgon2, err
	}
	alg, _, _ := strings.Cut(stored, "$")
	if alg != djangoPBKDF2SHA256 && alg != djangoPBKDF2SHA1 {
		if alg == "" {
			alg = "empty"
		}
		return alg, ErrUnsupportedHash
	}
	_, _, _, _, err := decodePBKDF2(stored)
	return alg, err
}

// verifyDjangoArgon2 checks Django's Argon2PasswordHasher format: "argon2"
// followed by argon2-cffi's PHC string.
func (h *Hasher) verifyDjangoArgon2(ctx context.Context, password, stored string) (bool, error) {
	return h.verifyPHC(ctx, password, strings.TrimPrefix(stored, djangoArgon2), "argon2id", "argon2i")
}

// verifyPBKDF2 checks Django's PBKDF2 formats at the hash's own iteration
// count.
func (h *Hasher) verifyPBKDF2(ctx context.Context, password, stored string) (bool, error) {
	digest, iterations, salt, want, err := decodePBKDF2(stored)
	if err != nil {
		return false, err
	}
	if len(password) > MaxPasswordBytes {
		return false, nil
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	got := pbkdf2.Key([]byte(password), salt, iterations, len(want), digest)
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// decodePBKDF2 reads <algorithm>$<iterations>$<salt>$<base64 key> as
// Django writes it: the salt is text without "$" used as its bytes, the key
// standard base64 with padding.
func decodePBKDF2(stored string) (func() hash.Hash, int, []byte, []byte, error) {
	parts := strings.Split(stored, "$")
	if len(parts) != 4 {
		return nil, 0, nil, nil, ErrMalformedHash
	}
	var digest func() hash.Hash
	switch parts[0] {
	case djangoPBKDF2SHA256:
		digest = sha256.New
	case djangoPBKDF2SHA1:
		digest = sha1.New
	default:
		return nil, 0, nil, nil, ErrMalformedHash
	}
	iterations, ok := phcUint(parts[1], "")
	if !ok || iterations < 1 || iterations > maxPBKDF2Iterations {
		return nil, 0, nil, nil, ErrMalformedHash
	}
	if parts[2] == "" || len(parts[2]) > maxSaltLen*2 {
		return nil, 0, nil, nil, ErrMalformedHash
	}
	key, err := base64.StdEncoding.Strict().DecodeString(parts[3])
	if err != nil || len(key) < minKeyLen || len(key) > maxKeyLen {
		return nil, 0, nil, nil, ErrMalformedHash
	}
	return digest, int(iterations), []byte(parts[2]), key, nil
}
