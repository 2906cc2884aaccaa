package apitest

import (
	"net/http"
	"slices"
	"testing"
)

func TestProblemDemandsAWellFormedBodyForItsStatus(t *testing.T) {
	problem := http.Header{"Content-Type": {"application/problem+json"}}
	tests := []struct {
		name string
		r    Response
		ok   bool
	}{
		{"a full problem passes", Response{404, problem, []byte(`{"type":"about:blank","title":"Not Found","status":404,"code":"not_found"}`)}, true},
		{"plain JSON is not a problem", Response{404, http.Header{"Content-Type": {"application/json"}}, []byte(`{"type":"about:blank","title":"Not Found","status":404,"code":"not_found"}`)}, false},
		{"a status other than the response's fails", Response{400, problem, []byte(`{"type":"about:blank","title":"Not Found","status":404,"code":"not_found"}`)}, false},
		{"a problem without a code fails", Response{404, problem, []byte(`{"type":"about:blank","title":"Not Found","status":404}`)}, false},
		{"a body that is not JSON fails", Response{404, problem, []byte(`not found`)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.r.Problem(); (err == nil) != tt.ok {
				t.Fatalf("Problem() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestSyncBufferLinesHoldsCompleteLinesOnly(t *testing.T) {
	var b SyncBuffer
	if got := b.Lines(); len(got) != 0 {
		t.Fatalf("empty buffer: %q", got)
	}
	_, _ = b.Write([]byte("one\ntwo\nthr"))
	if got := b.Lines(); !slices.Equal(got, []string{"one", "two"}) {
		t.Fatalf("Lines() = %q", got)
	}
	_, _ = b.Write([]byte("ee\n"))
	if got := b.Lines(); !slices.Equal(got, []string{"one", "two", "three"}) {
		t.Fatalf("Lines() = %q", got)
	}
}

func TestEnvServesOnlyItsOwnVariables(t *testing.T) {
	t.Setenv("APITEST_FROM_PROCESS", "leak")
	e := Env{"A": "1", "B": ""}
	if e.Getenv("A") != "1" || e.Getenv("APITEST_FROM_PROCESS") != "" {
		t.Fatalf("Getenv reads %q, %q", e.Getenv("A"), e.Getenv("APITEST_FROM_PROCESS"))
	}
	got := e.Environ()
	slices.Sort(got)
	if !slices.Equal(got, []string{"A=1", "B="}) {
		t.Fatalf("Environ() = %q", got)
	}
}
