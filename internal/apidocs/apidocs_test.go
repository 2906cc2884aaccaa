package apidocs

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"healthcare/internal/openapi/openapitest"
)

// TestTheDocumentNamesEveryFile: the file parameter openapi.yaml documents
// for /api/docs/{file} is exactly what the handler serves.
func TestTheDocumentNamesEveryFile(t *testing.T) {
	doc, err := openapitest.Document()
	if err != nil {
		t.Fatal(err)
	}
	item := doc.Paths.Value(Path + "{file}")
	if item == nil || item.Get == nil {
		t.Fatalf("openapi.yaml has no GET %s{file}", Path)
	}
	var documented []string
	for _, p := range item.Get.Parameters {
		if p.Value.Name == "file" {
			for _, v := range p.Value.Schema.Value.Enum {
				documented = append(documented, fmt.Sprint(v))
			}
		}
	}
	var served []string
	for name := range assets {
		if name != "" {
			served = append(served, name)
		}
	}
	slices.Sort(documented)
	slices.Sort(served)
	if !slices.Equal(documented, served) {
		t.Fatalf("openapi.yaml documents %v, the handler serves %v", documented, served)
	}
}

// TestThePageLoadsOnlyFromThisServer: the page and its script name no
// other host, every file is served with a policy that tells the browser
// to load from this server only, and unknown names are not found.
func TestThePageLoadsOnlyFromThisServer(t *testing.T) {
	notFound := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := Handler(notFound)
	for name, a := range assets {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", Path+name, nil))
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != a.contentType {
			t.Errorf("%s%s: %d %q", Path, name, rec.Code, rec.Header().Get("Content-Type"))
		}
		csp := rec.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("%s%s: Content-Security-Policy %q", Path, name, csp)
		}
		if (name == "" || name == "init.js") && strings.Contains(rec.Body.String(), "//") &&
			(strings.Contains(rec.Body.String(), "http://") || strings.Contains(rec.Body.String(), "https://")) {
			t.Errorf("%s%s names another host", Path, name)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", Path+"swagger-ui-bundle.js.map", nil))
	if rec.Code != http.StatusTeapot {
		t.Errorf("an unknown file: %d, want the not-found handler", rec.Code)
	}
}
