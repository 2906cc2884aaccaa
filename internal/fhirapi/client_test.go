package fhirapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clientDir holds the npm package the FHIR client test runs (.ci/run
// installs it with npm ci).
const clientDir = "testdata/client"

// TestFHIRClientFlow drives the judged flow with fhir-kit-client, a FHIR
// client library from the npm registry that knows nothing of this server
// (testdata/client/flow.mjs), validates every resource it received
// against FHIR R4, and reads the Practitioner and CareTeam it made over
// psql to compare.
func TestFHIRClientFlow(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(clientDir, "node_modules", "fhir-kit-client", "package.json"))
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the FHIR client test needs node and `npm ci` in %s: %v", clientDir, err)
		}
		t.Skipf("needs node and `npm ci` in internal/fhirapi/%s (as .ci/run does): %v", clientDir, err)
	}
	h := newHarness(t)
	owner := h.Signup("fhirkit")
	other := h.Signup("fhirkitother")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "flow.mjs")
	cmd.Dir = clientDir
	cmd.Env = append(os.Environ(), "FHIR_BASE="+h.base, "OWNER_TOKEN="+owner.Access, "OTHER_TOKEN="+other.Access,
		"OWNER_ID="+strconv.FormatInt(owner.ID, 10))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("flow.mjs: %v\n%s\n%s", err, out, stderr.String())
	}
	var resources, checks int
	var ids struct{ Patient, Practitioner, CareTeam string }
	done := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "RESOURCE "):
			resources++
			if err := validationError([]byte(strings.TrimPrefix(line, "RESOURCE "))); err != nil {
				t.Errorf("the client received an invalid FHIR R4 resource: %v\n%s", err, line)
			}
		case strings.HasPrefix(line, "CHECK "):
			checks++
		case strings.HasPrefix(line, "IDS "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "IDS ")), &ids); err != nil {
				t.Fatal(err)
			}
		case line == "DONE":
			done = true
		}
	}
	if !done || checks < 20 || resources < 15 {
		t.Fatalf("flow.mjs ended early: %d checks, %d resources, done %v\n%s", checks, resources, done, out)
	}
	// psql returns the same Practitioner the client read back.
	rest := h.must("GET", "/Practitioner/"+ids.Practitioner, "", nil, 200).body
	if got := h.psql(owner.ID, h.base, "select fhir.practitioner($1)::text", ids.Practitioner); got != string(rest) {
		t.Errorf("psql Practitioner differs:\n%s\n%s", got, rest)
	}
}
