package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"healthcare/internal/config"
)

var updateDocs = flag.Bool("update", false, "rewrite docs/configuration.md, .env.example and the README's command list from internal/config and the command table")

// The generated files, relative to this package.
const (
	configurationDoc = "../../docs/configuration.md"
	envExampleFile   = "../../.env.example"
	readmeFile       = "../../README.md"
)

// regenerate is how every generated text says it is made.
const regenerate = "go test ./cmd/healthcare -run TestGeneratedDocs -update"

// configurationReference is docs/configuration.md: the variables of
// internal/config, in its order, with its defaults and descriptions.
func configurationReference() string {
	var b strings.Builder
	fmt.Fprintf(&b, `# Configuration

<!-- Generated from internal/config (config.Variables) by %s.
     Edit the descriptions there, not here. -->

Every command reads its settings from environment variables, then from a
`+"`.env`"+` file in the working directory for any variable the environment
leaves empty, then from the defaults below. `+"`.env.example`"+` lists them all
(it is generated from the same list): copy it to `+"`.env`"+` and replace its
placeholders. The Django system's names keep working.

| variable | default | meaning |
|---|---|---|
`, regenerate)
	for _, v := range config.Variables() {
		def := "(none)"
		if v.Default != "" {
			def = "`" + v.Default + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", v.Name, def, strings.ReplaceAll(v.Description, "|", `\|`))
	}
	b.WriteString(`
## Notes

- The Go runtime's ` + "`GOMEMLIMIT`" + ` is honoured; when it is unset, ` + "`healthcare`" + `
  sets a soft memory limit of 15 MiB plus one argon2 matrix per concurrent
  hash (22 MiB with the defaults), which keeps the server near its memory
  budget (` + "`docs/benchmarks.md`" + `). ` + "`serve --pprof-addr 127.0.0.1:6060`" + ` exposes
  Go's profiler on a loopback address; it is off by default.
- The tools (` + "`migrate`, `createsuperuser`, `db-access`, `doctor`, `audit`" + `) use
  ` + "`--database-url`" + `, else ` + "`MIGRATION_DATABASE_URL`" + `, else the cluster of a ` + "`dev`" + `
  running from the same folder, and say which; never ` + "`DATABASE_URL`" + `. The
  ` + "`HUMAN_*`" + ` limits are theirs (and ` + "`dev`" + `'s); the server never reads them.
- ` + "`serve`" + ` refuses to start when ` + "`SECRET_KEY`" + ` is the example's placeholder,
  shorter than 32 bytes or visibly guessable (few distinct characters, a
  repeated pattern, runs such as ` + "`abcd`" + `), or when the database password is
  the example's placeholder; the message says how to generate one
  (` + "`openssl rand -hex 32` or `healthcare secret`" + `). ` + "`serve --check-config`" + ` checks
  the settings and exits without connecting anywhere; ` + "`migrate --runtime-role`" + `
  refuses a placeholder ` + "`DB_PASSWORD`" + ` too.
- ` + "`dev`" + ` is not configured by ` + "`.env`" + `: it runs its private cluster with its own
  key unless its command line (or ` + "`DATABASE_URL`" + ` in the environment itself)
  says otherwise, and prints where each setting came from.
`)
	return b.String()
}

// envExample is .env.example: every variable of internal/config with its
// description, and its default or placeholder.
func envExample() string {
	var b strings.Builder
	fmt.Fprintf(&b, `# Example configuration for `+"`serve`"+` and docker compose: copy to .env and
# fill in the blanks. Every variable the server reads is listed with its
# default (docs/configuration.md has the same list). .env holds secrets:
# never commit it.
#
# Generated from internal/config by %s.
#
# `+"`healthcare dev`"+` needs none of this, and .env does not change what it is:
# dev always runs its private cluster (unless told otherwise on its command
# line or by DATABASE_URL in the environment) and uses its own SECRET_KEY
# while the one below is the placeholder.
#
# `+"`serve`"+` refuses to start while SECRET_KEY or a password below is still
# the placeholder, and docker compose stops before starting anything.
# Generate each with `+"`openssl rand -hex 32`"+` (SECRET_KEY also with
# `+"`healthcare secret`"+`).
`, regenerate)
	for _, v := range config.Variables() {
		val := v.Default
		if v.Example != "" {
			val = v.Example
		}
		fmt.Fprintf(&b, "\n# %s\n%s=%s\n", v.Description, v.Name, val)
	}
	b.WriteString(`
# Used only by docker-compose.yml: the postgres image's superuser password
# (given to the migrate container only, never to the API).
POSTGRES_PASSWORD=change-me-postgres-password
`)
	return b.String()
}

// commandList is the README's list of commands, from the command table.
func commandList() string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("| command | what it does |\n|---|---|\n")
	for _, n := range names {
		fmt.Fprintf(&b, "| `%s` | %s |\n", n, commands[n].summary)
	}
	return b.String()
}

// Markers around the generated part of the README.
const (
	commandsBegin = "<!-- commands: generated from the command table in cmd/healthcare by " + regenerate + " -->\n"
	commandsEnd   = "<!-- end of commands -->\n"
)

// readmeWithCommands returns readme with the text between the markers
// replaced by commandList; ok is false when the markers are missing.
func readmeWithCommands(readme string) (string, bool) {
	i := strings.Index(readme, commandsBegin)
	j := strings.Index(readme, commandsEnd)
	if i < 0 || j < i {
		return readme, false
	}
	return readme[:i+len(commandsBegin)] + commandList() + readme[j:], true
}

// TestGeneratedDocs: docs/configuration.md, .env.example and the README's
// command list are what internal/config and the command table say; with
// -update it rewrites them.
func TestGeneratedDocs(t *testing.T) {
	readme, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	newReadme, ok := readmeWithCommands(string(readme))
	if !ok {
		t.Fatalf("README.md has no command list between %q and %q", commandsBegin, commandsEnd)
	}
	for _, f := range []struct{ path, want string }{
		{configurationDoc, configurationReference()},
		{envExampleFile, envExample()},
		{readmeFile, newReadme},
	} {
		if *updateDocs {
			if err := os.WriteFile(f.path, []byte(f.want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, []byte(f.want)) {
			t.Errorf("%s is not what internal/config and the command table say: run `%s`", f.path, regenerate)
		}
	}
}

// TestDocsListEveryVariable: whatever the generator does, every variable
// is in .env.example and the configuration reference, and every command
// in the README.
func TestDocsListEveryVariable(t *testing.T) {
	example, err := os.ReadFile(envExampleFile)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := os.ReadFile(configurationDoc)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range config.Variables() {
		if !regexp.MustCompile(`(?m)^` + v.Name + `=`).Match(example) {
			t.Errorf(".env.example does not list %s", v.Name)
		}
		if !strings.Contains(string(ref), "| `"+v.Name+"` |") {
			t.Errorf("docs/configuration.md does not list %s", v.Name)
		}
	}
	for name := range commands {
		if !strings.Contains(string(readme), "| `"+name+"` |") {
			t.Errorf("README.md's command list does not list %s", name)
		}
	}
}

// TestReadmeIsAnEntryPage: the README is short, shows the two commands,
// the walkthrough (with BASE= for another port) and one section per door,
// obtains the tokens it uses before using them, and never assumes
// `healthcare` is on PATH.
func TestReadmeIsAnEntryPage(t *testing.T) {
	b, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	if n := strings.Count(readme, "\n"); n > 250 {
		t.Errorf("README.md has %d lines, want at most about 250", n)
	}
	for _, want := range []string{"go run ./cmd/healthcare dev", "go test ./...", "docs/walkthrough.sh", "BASE=",
		"## REST", "## psql", "## Reporting", "docs/configuration.md", "docs/operations.md", "docs/doors.md"} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.md does not mention %q", want)
		}
	}
	if _, err := os.Stat("../../docs/walkthrough.sh"); err != nil {
		t.Error(err)
	}
	// A token a command to paste uses is obtained above it. (The
	// walkthrough's printed output shows the script's own $ACCESS.)
	lines := strings.Split(readme, "\n")
	for _, token := range []string{"$ADMIN", "$DRRAO", "$ACCESS"} {
		set := -1
		for i, line := range lines {
			if set < 0 && strings.HasPrefix(line, strings.TrimPrefix(token, "$")+"=$(") {
				set = i
			}
			if strings.HasPrefix(line, "curl ") && strings.Contains(line, token) && (set < 0 || set > i) {
				t.Errorf("README.md line %d uses %s before it obtains it", i+1, token)
			}
		}
	}
	// Commands are run as ./healthcare or go run, never from PATH.
	for i, line := range lines {
		if m := regexp.MustCompile(`(^|[\s$(])healthcare (serve|migrate|createsuperuser|db-access|doctor|audit|dev|secret|version|healthcheck)\b`).FindString(line); m != "" {
			t.Errorf("README.md line %d runs healthcare from PATH: %s", i+1, strings.TrimSpace(line))
		}
	}
}
