package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"healthcare/internal/openapi"
)

func TestDocumentIsValid(t *testing.T) {
	doc, err := Document()
	if err != nil {
		t.Fatal(err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi version %q, want 3.1.x", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("document does not validate: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(openapi.Spec(), &m); err != nil {
		t.Fatalf("Spec is not JSON: %v", err)
	}
	if m["openapi"] != "3.1.0" {
		t.Fatalf("served openapi = %v", m["openapi"])
	}
	if _, err := NewValidator(); err != nil {
		t.Fatal(err)
	}
}

// Every route of the server is documented, and only those: see
// TestEveryRouteIsDocumented in internal/httpapi, which reads the route
// table httpapi exports.

func TestValidatorAcceptsAndRefuses(t *testing.T) {
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	hdr := http.Header{"Content-Type": {"application/json"}}
	problem := http.Header{"Content-Type": {"application/problem+json"}}
	cases := []struct {
		name, method, path string
		status             int
		header             http.Header
		body               string
		ok                 bool
	}{
		{"a doctor page conforms", "GET", "/api/doctors/", 200, hdr,
			`{"count":1,"next":null,"previous":null,"results":[{"id":1,"version":1,"name":"Dr A","specialization":"cardiology","created_by":null,"created_at":"2026-01-01T00:00:00+00:00","updated_at":"2026-01-01T00:00:00+00:00"}]}`, true},
		{"a page without count is refused", "GET", "/api/doctors/", 200, hdr,
			`{"next":null,"previous":null,"results":[]}`, false},
		{"a problem body conforms", "GET", "/api/patients/7/", 404, problem,
			`{"type":"about:blank","title":"Not Found","status":404,"detail":"Not found.","code":"not_found"}`, true},
		{"an undocumented status is refused", "GET", "/api/patients/7/", 418, problem,
			`{"type":"about:blank","title":"x","status":418,"code":"x"}`, false},
		{"a patient with a FHIR gender outside the set is refused", "POST", "/api/patients/", 201, hdr,
			`{"id":1,"version":1,"name":"A","age":3,"gender":"x","gender_fhir":"x","user":1,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}`, false},
		{"a patient with its gender as sent conforms", "POST", "/api/patients/", 201, hdr,
			`{"id":1,"version":1,"name":"A","age":3,"gender":"Non-binary","gender_fhir":"other","user":1,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}`, true},
		{"a patient without its version is refused", "POST", "/api/patients/", 201, hdr,
			`{"id":1,"name":"A","age":3,"gender":"Non-binary","gender_fhir":"other","user":1,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}`, false},
		{"a patient answer without its ETag is refused", "GET", "/api/patients/1/", 200, hdr,
			`{"id":1,"version":1,"name":"A","age":3,"gender":"Non-binary","gender_fhir":"other","user":1,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}`, false},
		{"a patient answer with its ETag conforms", "GET", "/api/patients/1/", 200, http.Header{"Content-Type": {"application/json"}, "Etag": {`W/"1"`}},
			`{"id":1,"version":1,"name":"A","age":3,"gender":"Non-binary","gender_fhir":"other","user":1,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}`, true},
		{"a 412 names the current version", "PATCH", "/api/patients/1/", 412, http.Header{"Content-Type": {"application/problem+json"}, "Etag": {`W/"4"`}},
			`{"type":"about:blank","title":"Precondition Failed","status":412,"code":"version_mismatch","current_version":4}`, true},
		{"a 412 without the current version is refused", "PATCH", "/api/patients/1/", 412, http.Header{"Content-Type": {"application/problem+json"}, "Etag": {`W/"4"`}},
			`{"type":"about:blank","title":"Precondition Failed","status":412,"code":"version_mismatch"}`, false},
		{"a delete answers 204 with no body", "DELETE", "/api/mappings/3/", 204, http.Header{}, ``, true},
		{"the patient's doctors page conforms", "GET", "/api/mappings/patient/2/", 200, hdr,
			`{"count":1,"next":null,"previous":null,"results":[{"id":1,"version":2,"name":"Dr A","specialization":"x","created_by":1,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","mapping_id":4,"mapped_at":"2026-01-01T00:00:00Z"}]}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "http://127.0.0.1:12345"+tc.path, nil)
			err := v.ValidateResponse(ctx, req, tc.status, tc.header, []byte(tc.body))
			if tc.ok && err != nil {
				t.Fatalf("want valid, got %v", err)
			}
			if !tc.ok && err == nil {
				t.Fatal("want an error, got none")
			}
		})
	}
}

func TestValidateRequest(t *testing.T) {
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	good := httptest.NewRequest("POST", "/api/patients/", strings.NewReader(`{"name":"A","age":30,"gender":"f"}`))
	good.Header.Set("Content-Type", "application/json")
	if err := v.ValidateRequest(context.Background(), good); err != nil {
		t.Fatalf("valid request refused: %v", err)
	}
	bad := httptest.NewRequest("POST", "/api/patients/", strings.NewReader(`{"name":"A","age":-1}`))
	bad.Header.Set("Content-Type", "application/json")
	if err := v.ValidateRequest(context.Background(), bad); err == nil {
		t.Fatal("negative age accepted")
	}
}

var update = flag.Bool("update", false, "rewrite internal/openapi/openapi.json from openapi.yaml")

// TestServedJSONIsTheYAML keeps the served, pre-rendered openapi.json equal
// to the hand-written openapi.yaml; run with -update after editing the YAML.
func TestServedJSONIsTheYAML(t *testing.T) {
	want, err := RenderJSON()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("../openapi.json", want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(openapi.Spec(), want) {
		t.Fatal("internal/openapi/openapi.json is stale: run go test ./internal/openapi/openapitest -run TestServedJSONIsTheYAML -update")
	}
}

// TestEveryRequestBodyHasAnExample: each JSON request body carries an
// example that its schema accepts, so the docs page and a collection
// imported into Postman start from a real body.
func TestEveryRequestBodyHasAnExample(t *testing.T) {
	doc, err := Document()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody == nil {
				continue
			}
			mt := op.RequestBody.Value.Content.Get("application/json")
			if mt == nil {
				t.Errorf("%s %s: no JSON request body", method, path)
				continue
			}
			n++
			if mt.Example == nil {
				t.Errorf("%s %s (%s): the request body has no example", method, path, op.OperationID)
				continue
			}
			if err := mt.Schema.Value.VisitJSON(mt.Example); err != nil {
				t.Errorf("%s %s: the example does not match the schema: %v", method, path, err)
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d request bodies found", n)
	}
}
