package auth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fastParams keep tests quick; the PHC logic is the same at any cost.
var fastParams = Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

func newTestHasher(t *testing.T, p Params, n int) *Hasher {
	t.Helper()
	h, err := NewHasher(p, n)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashVerifyRoundTrip(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher(t, DefaultParams, 1)
	phc, err := h.Hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=7168,t=5,p=1$") {
		t.Fatalf("unexpected PHC prefix: %s", phc)
	}
	parts := strings.Split(phc, "$")
	if len(parts[4]) != 22 || len(parts[5]) != 43 || strings.Count(phc, "=") != 4 { // v= m= t= p=, no padding
		t.Fatalf("salt/key not raw base64 of 16/32 bytes: %s", phc)
	}
	ok, err := h.Verify(ctx, "correct horse battery", phc)
	if err != nil || !ok {
		t.Fatalf("Verify(right) = %v, %v", ok, err)
	}
	ok, err = h.Verify(ctx, "correct horse batterz", phc)
	if err != nil || ok {
		t.Fatalf("Verify(wrong) = %v, %v", ok, err)
	}
	other, _ := h.Hash(ctx, "correct horse battery")
	if other == phc {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	if h.NeedsRehash(phc) {
		t.Fatal("fresh hash needs rehash")
	}
}

func TestVerifyReadsParamsFromPHC(t *testing.T) {
	ctx := context.Background()
	old := newTestHasher(t, fastParams, 1)
	phc, err := old.Hash(ctx, "password123")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(phc, "$m=64,t=1,p=1$") {
		t.Fatalf("params not recorded: %s", phc)
	}
	cur := newTestHasher(t, Params{Memory: 128, Iterations: 2, Parallelism: 2, SaltLen: 16, KeyLen: 32}, 1)
	ok, err := cur.Verify(ctx, "password123", phc)
	if err != nil || !ok {
		t.Fatalf("hash made with other params not verified: %v, %v", ok, err)
	}
	if !cur.NeedsRehash(phc) {
		t.Fatal("NeedsRehash false for differing params")
	}
	if !cur.NeedsRehash("garbage") {
		t.Fatal("NeedsRehash false for garbage")
	}
	// Changing a parameter in the string changes the derived key.
	tampered := strings.Replace(phc, "t=1", "t=2", 1)
	if ok, err := cur.Verify(ctx, "password123", tampered); err != nil || ok {
		t.Fatalf("tampered params accepted: %v, %v", ok, err)
	}
}

func TestVerifyRejectsTamperedPHC(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher(t, fastParams, 1)
	phc, _ := h.Hash(ctx, "password123")
	parts := strings.Split(phc, "$")
	flip := func(s string) string {
		b := []byte(s)
		if b[3] == 'A' {
			b[3] = 'B'
		} else {
			b[3] = 'A'
		}
		return string(b)
	}
	// Tampered salt or key: well-formed, but no match.
	for _, bad := range []string{
		strings.Join(append(append([]string{}, parts[:4]...), flip(parts[4]), parts[5]), "$"),
		strings.Join(append(append([]string{}, parts[:5]...), flip(parts[5])), "$"),
	} {
		if ok, err := h.Verify(ctx, "password123", bad); err != nil || ok {
			t.Errorf("Verify(%q) = %v, %v; want false, nil", bad, ok, err)
		}
	}
	// Malformed: an error, never a match.
	malformed := []string{
		"",
		"password123",
		strings.Replace(phc, "argon2id", "argon2i", 1),
		strings.Replace(phc, "v=19", "v=16", 1),
		strings.Replace(phc, "m=64", "m=064", 1),
		strings.Replace(phc, "m=64", "m=-64", 1),
		strings.Replace(phc, "m=64", "m=4294967295", 1), // absurd memory
		strings.Replace(phc, "t=1", "t=0", 1),
		strings.Replace(phc, "p=1", "p=0", 1),
		strings.Replace(phc, "p=1", "p=256", 1),
		strings.Replace(phc, "m=64,t=1", "t=1,m=64", 1),
		phc + "$",
		phc + "=",
		strings.Join(append(append([]string{}, parts[:5]...), parts[5][:10]), "$"), // short key
		strings.Join(append(append([]string{}, parts[:4]...), "", parts[5]), "$"),  // no salt
	}
	for _, bad := range malformed {
		ok, err := h.Verify(ctx, "password123", bad)
		if ok || !errors.Is(err, ErrMalformedHash) {
			t.Errorf("Verify(%q) = %v, %v; want false, ErrMalformedHash", bad, ok, err)
		}
	}
}

func TestVerifyDummyNeverMatchesAndCostsWork(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher(t, fastParams, 1)
	var calls atomic.Int32
	real := h.derive
	h.derive = func(pw, salt []byte, tm, mem uint32, th uint8, kl uint32) []byte {
		calls.Add(1)
		if tm != fastParams.Iterations || mem != fastParams.Memory || kl != fastParams.KeyLen {
			t.Errorf("dummy uses params t=%d m=%d k=%d", tm, mem, kl)
		}
		return real(pw, salt, tm, mem, th, kl)
	}
	for _, pw := range []string{"", "password123", strings.Repeat("x", 100)} {
		if err := h.VerifyDummy(ctx, pw); err != nil {
			t.Fatal(err)
		}
	}
	if calls.Load() != 3 {
		t.Fatalf("VerifyDummy derived %d keys, want 3", calls.Load())
	}
}

func TestOverlongPasswords(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher(t, fastParams, 1)
	long := strings.Repeat("a", MaxPasswordBytes+1)
	if _, err := h.Hash(ctx, long); !errors.Is(err, ErrPasswordTooLong) {
		t.Fatalf("Hash(long) err = %v", err)
	}
	phc, _ := h.Hash(ctx, strings.Repeat("a", MaxPasswordBytes))
	if ok, err := h.Verify(ctx, strings.Repeat("a", MaxPasswordBytes), phc); !ok || err != nil {
		t.Fatalf("max-length password: %v, %v", ok, err)
	}
	if ok, err := h.Verify(ctx, long, phc); ok || err != nil {
		t.Fatalf("overlong password: %v, %v", ok, err)
	}
}

func TestValidatePassword(t *testing.T) {
	for pw, want := range map[string]error{
		"":                                      ErrPasswordTooShort,
		"1234567":                               ErrPasswordTooShort,
		"12345678":                              nil,
		"ééééééé":                               ErrPasswordTooShort, // 14 bytes, 7 characters
		"éééééééé":                              nil,
		strings.Repeat("a", MaxPasswordBytes):   nil,
		strings.Repeat("a", MaxPasswordBytes+1): ErrPasswordTooLong,
	} {
		if got := ValidatePassword(pw); got != want {
			t.Errorf("ValidatePassword(len %d) = %v, want %v", len(pw), got, want)
		}
	}
}

func TestNewHasherRejectsBadParams(t *testing.T) {
	for _, p := range []Params{
		{Memory: 0, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Iterations: 0, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Iterations: 1, Parallelism: 0, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 4, KeyLen: 32},
		{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 8},
	} {
		if _, err := NewHasher(p, 1); err == nil {
			t.Errorf("NewHasher(%+v) accepted", p)
		}
	}
	h := newTestHasher(t, fastParams, 0)
	if h.Concurrency() < 1 {
		t.Fatal("default concurrency < 1")
	}
}

// With concurrency 1, derivations never overlap, however many callers.
func TestSemaphoreBoundsConcurrency(t *testing.T) {
	for _, limit := range []int{1, 3} {
		h := newTestHasher(t, fastParams, limit)
		var cur, peak atomic.Int32
		h.derive = func(pw, salt []byte, tm, mem uint32, th uint8, kl uint32) []byte {
			n := cur.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
			cur.Add(-1)
			return make([]byte, kl)
		}
		phc, _ := newTestHasher(t, fastParams, 1).Hash(context.Background(), "password123")
		var wg sync.WaitGroup
		for i := 0; i < 12; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				var err error
				switch i % 3 {
				case 0:
					_, err = h.Hash(context.Background(), "password123")
				case 1:
					_, err = h.Verify(context.Background(), "password123", phc)
				default:
					err = h.VerifyDummy(context.Background(), "password123")
				}
				if err != nil {
					t.Error(err)
				}
			}(i)
		}
		wg.Wait()
		if got := peak.Load(); got != int32(limit) {
			t.Errorf("limit %d: peak concurrent derivations = %d", limit, got)
		}
	}
}

func TestSemaphoreHonoursContext(t *testing.T) {
	h := newTestHasher(t, fastParams, 1)
	release := make(chan struct{})
	started := make(chan struct{})
	h.derive = func(pw, salt []byte, tm, mem uint32, th uint8, kl uint32) []byte {
		close(started)
		<-release
		return make([]byte, kl)
	}
	done := make(chan error, 1)
	go func() {
		_, err := h.Hash(context.Background(), "password123")
		done <- err
	}()
	<-started

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(ctx, "password123"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Hash while slot busy: err = %v, want DeadlineExceeded", err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := h.Verify(ctx2, "password123", h.dummy); !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify with cancelled ctx: err = %v", err)
	}
	if err := h.VerifyDummy(ctx2, "password123"); !errors.Is(err, context.Canceled) {
		t.Fatalf("VerifyDummy with cancelled ctx: err = %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The slot was released: a new call proceeds.
	h.derive = func(pw, salt []byte, tm, mem uint32, th uint8, kl uint32) []byte { return make([]byte, kl) }
	if _, err := h.Hash(context.Background(), "password123"); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkHash(b *testing.B) {
	h, err := NewHasher(DefaultParams, 0)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyPassword(b *testing.B) {
	h, _ := NewHasher(DefaultParams, 0)
	ctx := context.Background()
	phc, _ := h.Hash(ctx, "correct horse battery")
	for b.Loop() {
		if ok, err := h.Verify(ctx, "correct horse battery", phc); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
