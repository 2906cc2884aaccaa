package fhirapi

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// expect4xx fails unless err is nil or an OperationOutcome with a 4xx.
func expect4xx(t *testing.T, input string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if s := toOutcome(err).status; s < 400 || s >= 500 {
		t.Fatalf("input %q gave status %d: %v", input, s, err)
	}
}

// FuzzSearchParameters: every search's parameters read to arguments or a
// 4xx, never a panic; a date range is never empty-ended backwards by
// accident of parsing (from and before are whole instants).
func FuzzSearchParameters(f *testing.F) {
	for _, s := range []string{"name=ada&gender=female", "_lastUpdated=ge2024-01-01&_lastUpdated=lt2024-02", "_lastUpdated=2024-02-31",
		"_id=Patient/7", "name:contains=x&name=y", "_count=-1", "_count=99999999999999999999", "_offset=1e3",
		"date=gt2024-01-01T10:00:00.123456789+14:00", "date=le2024-12-31T23:59:59Z", "specialty=http://x|Cardiology&specialty:text=y",
		"entity=1&patient=2", "_until=5", "%zz", "name=" + strings.Repeat("a", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		values, err := url.ParseQuery(raw)
		if err != nil {
			return // net/http would not hand such a query over either
		}
		q := query{values: values, strict: strings.Contains(raw, "strict")}
		for _, args := range []func(query) ([]any, error){patientSearchArgs, practitionerSearchArgs, practitionerRoleSearchArgs,
			careTeamSearchArgs, auditEventSearchArgs} {
			a, err := args(q)
			expect4xx(t, raw, err)
			for _, v := range a {
				if tm, ok := v.(time.Time); ok && (tm.Year() < 0 || tm.Year() > 10000) {
					t.Fatalf("%q gave the instant %v", raw, tm)
				}
			}
		}
		_, _, err = q.page()
		expect4xx(t, raw, err)
		expect4xx(t, raw, q.known(patientSearch))
	})
}

// FuzzReadResource: a request body is a JSON object handed on as sent, or
// a 4xx (malformed, not an object, NUL characters, too deep, too large).
func FuzzReadResource(f *testing.F) {
	for _, s := range []string{`{"resourceType":"Patient"}`, `[1]`, `"x"`, `{"a":"\u0000"}`, `{"a":`, strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40),
		"\xff", `{"resourceType":"Patient","name":[{"text":"Ada"}]}`, strings.Repeat("x", 5000)} {
		f.Add(s, "application/fhir+json")
	}
	f.Add(`{}`, "text/plain")
	s := &server{opts: Options{MaxBodyBytes: 4096}}
	f.Fuzz(func(t *testing.T, body, contentType string) {
		req := httptest.NewRequest(http.MethodPost, "/fhir/Patient", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		got, err := s.readResource(httptest.NewRecorder(), req)
		expect4xx(t, body, err)
		if err == nil && (string(got) != body || body[0] == '[') {
			t.Fatalf("body %q read as %q", body, got)
		}
	})
}
