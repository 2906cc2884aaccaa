package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
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

// routeCall matches one registration in internal/httpapi/routes.go.
type routeCall struct{ method, path string }

// registeredRoutes reads internal/httpapi/routes.go and returns every
// (method, path) it registers, so a route added there without an entry in
// the document fails this package's tests. httpapi does not export its
// route table; its source is the list.
func registeredRoutes(t *testing.T) []routeCall {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "../../httpapi/routes.go", nil, 0)
	if err != nil {
		t.Skipf("internal/httpapi/routes.go not readable: %v", err)
	}
	methods := map[string]string{}
	// Constants like `get, post = http.MethodGet, http.MethodPost`.
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != len(vs.Values) {
			return true
		}
		for i, name := range vs.Names {
			if sel, ok := vs.Values[i].(*ast.SelectorExpr); ok && strings.HasPrefix(sel.Sel.Name, "Method") {
				methods[name.Name] = strings.ToUpper(strings.TrimPrefix(sel.Sel.Name, "Method"))
			}
		}
		return true
	})
	method := func(e ast.Expr) string {
		switch e := e.(type) {
		case *ast.Ident:
			return methods[e.Name]
		case *ast.SelectorExpr:
			return strings.ToUpper(strings.TrimPrefix(e.Sel.Name, "Method"))
		case *ast.BasicLit:
			s, _ := strconv.Unquote(e.Value)
			return s
		}
		return ""
	}
	str := func(e ast.Expr) (string, bool) {
		// The document's own route is registered as openapi.Path.
		if sel, ok := e.(*ast.SelectorExpr); ok && sel.Sel.Name == "Path" {
			if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "openapi" {
				return openapi.Path, true
			}
		}
		lit, ok := e.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(lit.Value)
		return s, err == nil
	}
	var out []routeCall
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) < 3 {
			return true
		}
		var name string
		switch fn := call.Fun.(type) {
		case *ast.Ident:
			name = fn.Name
		case *ast.SelectorExpr:
			name = fn.Sel.Name
		}
		if name != "handle" && name != "Handler" && name != "Handle" && name != "HandlerFunc" {
			return true
		}
		m := method(call.Args[0])
		p, ok := str(call.Args[1])
		// A registration wrapped as route("/public/pattern", h) documents
		// its public pattern there (httprouter cannot express it directly).
		if inner, isCall := call.Args[2].(*ast.CallExpr); isCall && len(inner.Args) > 0 {
			if id, isIdent := inner.Fun.(*ast.Ident); isIdent && id.Name == "route" {
				if pub, isStr := str(inner.Args[0]); isStr {
					p, ok = pub, true
				}
			}
		}
		if m != "" && ok {
			out = append(out, routeCall{m, p})
		}
		return true
	})
	if len(out) == 0 {
		t.Fatal("found no routes in internal/httpapi/routes.go; update registeredRoutes")
	}
	return out
}

var paramRE = regexp.MustCompile(`:([A-Za-z_]+)`)

func TestEveryRegisteredRouteIsDocumented(t *testing.T) {
	doc, err := Document()
	if err != nil {
		t.Fatal(err)
	}
	routes := registeredRoutes(t)
	seen := map[string]bool{}
	for _, r := range routes {
		path := paramRE.ReplaceAllString(r.path, "{$1}")
		seen[r.method+" "+path] = true
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(r.method) == nil {
			t.Errorf("%s %s is registered in internal/httpapi/routes.go but has no operation in openapi.yaml", r.method, path)
		}
	}
	if !seen["GET "+openapi.Path] {
		t.Errorf("GET %s (the document itself) is not registered in internal/httpapi/routes.go", openapi.Path)
	}
	// And the reverse: nothing documented that the server does not serve.
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !seen[method+" "+path] {
				t.Errorf("%s %s is documented but not registered in internal/httpapi/routes.go", method, path)
			}
		}
	}
}

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
			`{"count":1,"next":null,"previous":null,"results":[{"id":1,"name":"Dr A","specialization":"cardiology","created_by":null,"created_at":"2026-01-01T00:00:00+00:00","updated_at":"2026-01-01T00:00:00+00:00"}]}`, true},
		{"a page without count is refused", "GET", "/api/doctors/", 200, hdr,
			`{"next":null,"previous":null,"results":[]}`, false},
		{"a problem body conforms", "GET", "/api/patients/7/", 404, problem,
			`{"type":"about:blank","title":"Not Found","status":404,"detail":"Not found.","code":"not_found"}`, true},
		{"an undocumented status is refused", "GET", "/api/patients/7/", 418, problem,
			`{"type":"about:blank","title":"x","status":418,"code":"x"}`, false},
		{"a patient with a wrong gender is refused", "POST", "/api/patients/", 201, hdr,
			`{"id":1,"name":"A","age":3,"gender":"x","user":1,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}`, false},
		{"a delete answers 204 with no body", "DELETE", "/api/mappings/3/", 204, http.Header{}, ``, true},
		{"the patient's doctors page conforms", "GET", "/api/mappings/patient/2/", 200, hdr,
			`{"count":1,"next":null,"previous":null,"results":[{"id":1,"name":"Dr A","specialization":"x","created_by":1,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","mapping_id":4,"mapped_at":"2026-01-01T00:00:00Z"}]}`, true},
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
