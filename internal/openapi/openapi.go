// Package openapi holds the API's OpenAPI 3.1 document and serves it at
// GET /api/openapi.json.
//
// The document is written by hand in openapi.yaml (easier to review than
// JSON). openapi.json is its rendering, committed beside it and embedded, so
// the server serves static bytes and links no YAML or OpenAPI library; the
// tests in openapitest fail when the two differ or when a response of the
// HTTP tests does not match the document.
package openapi

import (
	_ "embed"
	"net/http"
	"strconv"
)

//go:embed openapi.yaml
var source []byte

//go:embed openapi.json
var rendered []byte

// Path is where Handler is meant to be mounted.
const Path = "/api/openapi.json"

// YAML returns the hand-written source document.
func YAML() []byte { return source }

// Spec returns the document as JSON.
func Spec() []byte { return rendered }

// Handler serves Spec as application/json. It needs no token: the
// document describes the API, not anyone's data.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := Spec()
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		h.Set("Cache-Control", "public, max-age=300")
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(body)
		}
	})
}
