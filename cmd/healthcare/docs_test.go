package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"healthcare/internal/config"
)

// TestDocsListEveryVariable keeps .env.example and the README's
// configuration table in step with internal/config.
func TestDocsListEveryVariable(t *testing.T) {
	example, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range config.Variables() {
		if !regexp.MustCompile(`(?m)^` + v.Name + `=`).Match(example) {
			t.Errorf(".env.example does not list %s", v.Name)
		}
		if !strings.Contains(string(readme), "| `"+v.Name+"` |") {
			t.Errorf("README.md's configuration table does not list %s", v.Name)
		}
	}
}

// TestReadmeShowsTheWalkthroughScript: the README's curl walkthrough is
// docs/walkthrough.sh, which CI runs.
func TestReadmeShowsTheWalkthroughScript(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"go run ./cmd/healthcare dev", "go test ./...", "docs/walkthrough.sh"} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("README.md does not mention %q", want)
		}
	}
	if _, err := os.Stat("../../docs/walkthrough.sh"); err != nil {
		t.Error(err)
	}
}
