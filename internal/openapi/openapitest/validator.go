// Package openapitest checks requests and responses against the API's
// OpenAPI 3.1 document (internal/openapi/openapi.yaml) with
// github.com/getkin/kin-openapi, so HTTP tests fail when the server and the
// document disagree. It is for tests only: the server itself serves the
// pre-rendered JSON and links no YAML or OpenAPI library.
//
// kin-openapi understands OpenAPI 3.1 (type arrays with "null", const, JSON
// Schema 2020-12) and validates 3.1 documents with its JSON Schema 2020-12
// validator.
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"healthcare/internal/openapi"
)

var load = sync.OnceValues(func() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openapi.YAML())
	if err != nil {
		return nil, fmt.Errorf("openapi: parse openapi.yaml: %w", err)
	}
	return doc, nil
})

// Document returns the parsed document. The value is shared: do not modify it.
func Document() (*openapi3.T, error) { return load() }

// RenderJSON renders openapi.yaml as the JSON that internal/openapi embeds
// and serves (openapi.json is this function's output, refreshed with
// `go test ./internal/openapi/openapitest -run TestServedJSONIsTheYAML -update`).
func RenderJSON() ([]byte, error) {
	doc, err := load()
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("openapi: encode document: %w", err)
	}
	return append(b, '\n'), nil
}

// Validator checks request/response pairs against the document. Build one
// per test binary with NewValidator; it is safe for concurrent use.
type Validator struct {
	router routers.Router
}

// NewValidator builds a Validator. The document's servers are dropped from
// its copy so requests to any host (httptest's random ports) find their
// route.
func NewValidator() (*Validator, error) {
	doc, err := load()
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi: invalid document: %w", err)
	}
	cp := *doc
	cp.Servers = nil
	router, err := legacy.NewRouter(&cp)
	if err != nil {
		return nil, fmt.Errorf("openapi: build router: %w", err)
	}
	return &Validator{router: router}, nil
}

// FindRoute returns the document's route (path template) for req, or an
// error when the document has no operation for its method and path.
func (v *Validator) FindRoute(req *http.Request) (*routers.Route, map[string]string, error) {
	return v.router.FindRoute(req)
}

// ValidateResponse checks that the response (status, headers, body) is one
// the document allows for req's operation. Statuses the operation does not
// list are errors. The request's own body is not checked here (tests send
// invalid bodies on purpose); use ValidateRequest for that.
//
// req.Body is not read, so callers may pass the request they already sent.
func (v *Validator) ValidateResponse(ctx context.Context, req *http.Request, status int, header http.Header, body []byte) error {
	in, err := v.requestInput(req, &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc})
	if err != nil {
		return err
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("openapi: response %d to %s %s: %w", status, req.Method, in.Route.Path, err)
	}
	return nil
}

// ValidateRequest checks req (parameters and body) against the document.
// It reads and restores req.Body. Security requirements are not checked:
// the server's own tests cover tokens.
func (v *Validator) ValidateRequest(ctx context.Context, req *http.Request) error {
	in, err := v.requestInput(req, &openapi3filter.Options{
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		MultiError:         true,
	})
	if err != nil {
		return err
	}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		return fmt.Errorf("openapi: request %s %s: %w", req.Method, in.Route.Path, err)
	}
	return nil
}

// requestInput finds req's operation in the document; an undocumented
// method and path is an error.
func (v *Validator) requestInput(req *http.Request, opts *openapi3filter.Options) (*openapi3filter.RequestValidationInput, error) {
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		return nil, fmt.Errorf("openapi: %s %s: %w", req.Method, req.URL.Path, err)
	}
	return &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}, nil
}
