package auth

import (
	"strings"
	"testing"
)

func TestBearerToken(t *testing.T) {
	long := strings.Repeat("a", MaxTokenBytes)
	for header, want := range map[string]string{
		"Bearer abc.def.ghi":  "abc.def.ghi",
		"bearer abc":          "abc",
		"BEARER abc":          "abc",
		"bEaReR a-b_c~d+e/f=": "a-b_c~d+e/f=",
		"Bearer abc==":        "abc==",
		"Bearer " + long:      long,
	} {
		got, ok := BearerToken(header)
		if !ok || got != want {
			t.Errorf("BearerToken(%.40q) = %.40q, %v; want %.40q", header, got, ok, want)
		}
	}
	for _, header := range []string{
		"", "Bearer", "Bearer ", "Bearer  abc", "Bearer\tabc", " Bearer abc", "Bearer abc ",
		"Bearer abc def", "Basic abc", "Bearerabc", "Token abc", "Bearer =abc", "Bearer a=b",
		"Bearer abc\n", "Bearer a\x00b", "Bearer é", "Bearer " + long + "a", "Beare abc", "Bearer: abc",
	} {
		if got, ok := BearerToken(header); ok {
			t.Errorf("BearerToken(%.40q) accepted: %.40q", header, got)
		}
	}
}

func BenchmarkBearerToken(b *testing.B) {
	h := "Bearer " + strings.Repeat("abcdefgh", 40)
	for b.Loop() {
		if _, ok := BearerToken(h); !ok {
			b.Fatal()
		}
	}
}
