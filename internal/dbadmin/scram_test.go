package dbadmin

import (
	"regexp"
	"testing"
)

// A known answer computed independently (Python's hashlib.pbkdf2_hmac and
// hmac) for password "pencil", salt 00 01 .. 0f and 4096 iterations.
func TestVerifierKnownAnswer(t *testing.T) {
	salt := make([]byte, 16)
	for i := range salt {
		salt[i] = byte(i)
	}
	got, err := verifier("pencil", salt)
	if err != nil {
		t.Fatal(err)
	}
	const want = "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$zHCdol2044/ZyWzPLi7oxApCkamKw9Z+E4U/QApd/5Y=:dd5peBOitVnLNFu7VmwP+HiDaaw4OUCv396eVCWhYiE="
	if got != want {
		t.Fatalf("verifier = %s\n          want %s", got, want)
	}
}

func TestVerifierShape(t *testing.T) {
	v, err := scramVerifier("secret")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$`).MatchString(v) {
		t.Fatalf("verifier %q", v)
	}
	if w, _ := scramVerifier("secret"); w == v {
		t.Fatal("two verifiers of one password share a salt")
	}
}
