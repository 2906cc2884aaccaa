// Package auth holds the server's credential primitives: argon2id password
// hashing bounded by a semaphore, JWT access and refresh tokens signed with
// HS256 (lestrrat-go/jwx), a cache of verified access tokens, and strict
// parsing of the Authorization header.
//
// Nothing here talks to the database or decides who may see what: PostgreSQL
// does that. This package only proves who the caller is.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Password length limits. The minimum is the seed's (Django's
// MinimumLengthValidator, counted in characters); the maximum, in bytes,
// stops a client from making the server hash megabytes per request.
const (
	MinPasswordLength = 8
	MaxPasswordBytes  = 1024
)

// ErrPasswordTooShort and ErrPasswordTooLong are returned by ValidatePassword.
var (
	ErrPasswordTooShort = fmt.Errorf("password must be at least %d characters long", MinPasswordLength)
	ErrPasswordTooLong  = fmt.Errorf("password must be at most %d bytes long", MaxPasswordBytes)
	// ErrMalformedHash means a stored hash is not an argon2id PHC string
	// this package can read (or its parameters are out of bounds).
	ErrMalformedHash = errors.New("malformed argon2id hash")
)

// ValidatePassword checks the length rules for a new password. The error
// message is safe to show to the client.
func ValidatePassword(password string) error {
	if len(password) > MaxPasswordBytes {
		return ErrPasswordTooLong
	}
	if utf8.RuneCountInString(password) < MinPasswordLength {
		return ErrPasswordTooShort
	}
	return nil
}

// Params are argon2id cost parameters.
type Params struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
	SaltLen     uint32 // bytes
	KeyLen      uint32 // bytes
}

// DefaultParams is OWASP's argon2id configuration m=7 MiB, t=5, p=1: one of
// the equivalent settings the OWASP Password Storage Cheat Sheet lists, and
// the one with the smallest memory, because the server's whole RSS budget is
// 40 MiB and LOGIN_CONCURRENCY hashes may run at once.
var DefaultParams = Params{Memory: 7168, Iterations: 5, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// Bounds on parameters read back from a stored PHC string, so that a corrupt
// or hostile row cannot make Verify allocate gigabytes or spin for minutes.
const (
	maxMemoryKiB  = 256 * 1024
	maxIterations = 64
	minSaltLen    = 8
	maxSaltLen    = 64
	minKeyLen     = 16
	maxKeyLen     = 64
)

// Validate reports whether p can be used to hash new passwords.
func (p Params) Validate() error {
	switch {
	case p.Parallelism < 1:
		return errors.New("argon2 parallelism must be at least 1")
	case p.Memory < 8*uint32(p.Parallelism):
		return errors.New("argon2 memory must be at least 8 KiB per lane")
	case p.Memory > maxMemoryKiB:
		return fmt.Errorf("argon2 memory must be at most %d KiB", maxMemoryKiB)
	case p.Iterations < 1 || p.Iterations > maxIterations:
		return fmt.Errorf("argon2 iterations must be between 1 and %d", maxIterations)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("argon2 salt length must be between %d and %d bytes", minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("argon2 key length must be between %d and %d bytes", minKeyLen, maxKeyLen)
	}
	return nil
}

// Hasher hashes and verifies passwords with argon2id. At most `concurrency`
// derivations run at once: argon2 is deliberately expensive in CPU and
// memory, and a login flood must not starve every other route or blow the
// memory budget. Callers that cannot get a slot before their context ends
// receive the context's error (the HTTP layer answers 503).
type Hasher struct {
	params Params
	sem    chan struct{}
	dummy  string
	// derive is argon2.IDKey; tests replace it to observe concurrency.
	derive func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte
}

// NewHasher returns a Hasher using p for new hashes and allowing concurrency
// simultaneous derivations (<= 0 means runtime.GOMAXPROCS(0)).
func NewHasher(p Params, concurrency int) (*Hasher, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if concurrency <= 0 {
		concurrency = runtime.GOMAXPROCS(0)
	}
	h := &Hasher{params: p, sem: make(chan struct{}, concurrency), derive: argon2.IDKey}
	// The dummy hash only has to cost the same to verify as a real one: a
	// fixed salt and an all-zero key with the current parameters do. No
	// password derives to it, so VerifyDummy can never succeed.
	h.dummy = encodePHC(p, make([]byte, p.SaltLen), make([]byte, p.KeyLen))
	return h, nil
}

// Concurrency returns the number of derivations allowed at once.
func (h *Hasher) Concurrency() int { return cap(h.sem) }

func (h *Hasher) acquire(ctx context.Context) error {
	// Fail fast when the context is already done, even if a slot is free,
	// so a cancelled request never burns CPU.
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.sem }

// collectFromKiB is the argon2 memory from which a derivation is followed
// by a garbage collection (test parameters of a few KiB skip it).
const collectFromKiB = 1024

// collect reclaims the argon2 matrix a derivation just used, while the
// caller still holds its slot. x/crypto allocates a fresh matrix (7 MiB at
// the defaults) inside every IDKey call and offers no way to reuse one; left
// to the pacer, the next derivation allocates its matrix before the last
// one is collected, so two are resident and, under the memory limit, the
// runtime returns pages to the kernel only to fault them in again. One
// collection per login is cheap next to the hash and measured better on
// both counts (docs/benchmarks.md: 29 -> 22 ms of server CPU per login,
// peak RSS 39.6 -> 34 MiB).
func collect(memoryKiB uint32) {
	if memoryKiB >= collectFromKiB {
		runtime.GC()
	}
}

// Hash derives a new PHC string for password with a fresh random salt.
// It does not apply ValidatePassword's minimum (the caller decides when the
// rule applies) but refuses passwords longer than MaxPasswordBytes.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if len(password) > MaxPasswordBytes {
		return "", ErrPasswordTooLong
	}
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: read salt: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	p := h.params
	key := h.derive([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen)
	collect(p.Memory)
	return encodePHC(p, salt, key), nil
}

// Verify reports whether password matches the stored hash. Besides this
// package's argon2id PHC strings it reads the formats of the Django system
// (django.go): pbkdf2_sha256 and pbkdf2_sha1 at the hash's own iteration
// count, and Django's argon2 at its own parameters. An unusable hash (one
// starting with "!", as Django and the importer write them) never matches
// and costs the same work as a wrong password. Parameters are always read
// from the stored string (so the defaults can change without invalidating
// old hashes; see NeedsRehash). A malformed hash is an error, never a
// match. Passwords longer than MaxPasswordBytes never match and cost
// nothing, whether or not the user exists.
func (h *Hasher) Verify(ctx context.Context, password, stored string) (bool, error) {
	switch {
	case strings.HasPrefix(stored, "$"):
		return h.verifyPHC(ctx, password, stored, "argon2id")
	case strings.HasPrefix(stored, unusablePrefix):
		if err := h.VerifyDummy(ctx, password); err != nil {
			return false, err
		}
		return false, nil
	case strings.HasPrefix(stored, djangoArgon2+"$"):
		return h.verifyDjangoArgon2(ctx, password, stored)
	}
	return h.verifyPBKDF2(ctx, password, stored)
}

// verifyPHC checks password against an argon2 PHC string of one of the
// variants named.
func (h *Hasher) verifyPHC(ctx context.Context, password, phc string, variants ...string) (bool, error) {
	variant, p, salt, want, err := decodePHCVariant(phc, variants...)
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
	derive := h.derive
	if variant == "argon2i" {
		derive = argon2.Key
	}
	got := derive([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, uint32(len(want)))
	collect(p.Memory)
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// VerifyDummy spends the same work as Verify against a hash made with the
// current parameters and always fails. Login calls it when the user does not
// exist (or is inactive), so that case costs the same time as a wrong
// password and usernames cannot be probed by timing.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	_, err := h.Verify(ctx, password, h.dummy)
	return err
}

// NeedsRehash reports whether stored is anything but an argon2id hash in
// the current parameters (other parameters, a Django format, or a string
// that cannot be read), so login can store a fresh hash. An unusable hash
// never needs one: no password matches it.
func (h *Hasher) NeedsRehash(stored string) bool {
	if strings.HasPrefix(stored, unusablePrefix) {
		return false
	}
	p, salt, key, err := decodePHC(stored)
	if err != nil {
		return true
	}
	return p.Memory != h.params.Memory || p.Iterations != h.params.Iterations ||
		p.Parallelism != h.params.Parallelism || uint32(len(salt)) != h.params.SaltLen ||
		uint32(len(key)) != h.params.KeyLen
}

var b64 = base64.RawStdEncoding

// encodePHC formats $argon2id$v=19$m=<m>,t=<t>,p=<p>$<salt>$<key>.
func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Iterations, p.Parallelism,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decodePHC parses a PHC string strictly: exact field order, decimal
// numbers without signs or leading zeros, canonical unpadded base64, and
// parameters within bounds.
func decodePHC(phc string) (Params, []byte, []byte, error) {
	_, p, salt, key, err := decodePHCVariant(phc, "argon2id")
	return p, salt, key, err
}

// decodePHCVariant is decodePHC for any of the argon2 variants named, and
// returns the one found.
func decodePHCVariant(phc string, variants ...string) (string, Params, []byte, []byte, error) {
	var p Params
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || !slices.Contains(variants, parts[1]) {
		return "", p, nil, nil, ErrMalformedHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return "", p, nil, nil, ErrMalformedHash
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return "", p, nil, nil, ErrMalformedHash
	}
	m, ok1 := phcUint(kv[0], "m=")
	t, ok2 := phcUint(kv[1], "t=")
	par, ok3 := phcUint(kv[2], "p=")
	if !ok1 || !ok2 || !ok3 || par < 1 || par > 255 {
		return "", p, nil, nil, ErrMalformedHash
	}
	salt, err := b64.Strict().DecodeString(parts[4])
	if err != nil {
		return "", p, nil, nil, ErrMalformedHash
	}
	key, err := b64.Strict().DecodeString(parts[5])
	if err != nil {
		return "", p, nil, nil, ErrMalformedHash
	}
	p = Params{Memory: m, Iterations: t, Parallelism: uint8(par), SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	if p.Validate() != nil {
		return "", Params{}, nil, nil, ErrMalformedHash
	}
	return parts[1], p, salt, key, nil
}

func phcUint(s, prefix string) (uint32, bool) {
	v, ok := strings.CutPrefix(s, prefix)
	if !ok || v == "" || len(v) > 10 || (len(v) > 1 && v[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(n), true
}
