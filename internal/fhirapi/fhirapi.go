// Package fhirapi is the FHIR R4 face of the REST server, at /fhir: JSON
// only (application/fhir+json), the same bearer tokens, OperationOutcome
// errors.
//
// It keeps docs/design.md's one rule: a handler verifies the token, checks
// the shape of the input, makes exactly one database.Call of a function of
// schema fhir (sql/definitions/fhir.sql), which builds the resource or
// Bundle under the same policies and records the audit event, and writes
// the JSON PostgreSQL returned. The route table (routes.go) is the whole
// surface; the CapabilityStatement at /fhir/metadata is generated from it.
package fhirapi

import (
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"

	"healthcare/internal/auth"
	"healthcare/internal/database"
)

// Prefix is where the FHIR base starts on the server.
const Prefix = "/fhir"

// Options configure New.
type Options struct {
	DB     *database.DB
	Tokens *auth.Tokens
	// Base is the public base URL of the FHIR endpoint (such as
	// https://records.example.org/fhir), which Bundles and Location
	// headers name; empty: taken from each request's Host.
	Base string
	// MaxBodyBytes caps request bodies (413 beyond).
	MaxBodyBytes int64
	// RequireIfMatch makes If-Match mandatory on PUT and DELETE (428).
	RequireIfMatch bool
	// Enter is called once per routed request with the route's pattern
	// and the verified claims (zero when anonymous); it returns the
	// identity the database call acts for. The REST server records the
	// route and user for its access log here.
	Enter func(r *http.Request, pattern string, claims auth.Claims) database.Identity
}

// server holds what the handlers need.
type server struct {
	opts Options
	// routes is the table New registered, which the CapabilityStatement
	// describes.
	routes []Route
}

// New returns the /fhir handler: every route of the table, and an
// OperationOutcome for everything else under the prefix.
func New(opts Options) http.Handler {
	if opts.Enter == nil {
		opts.Enter = func(*http.Request, string, auth.Claims) database.Identity { return database.Identity{} }
	}
	s := &server{opts: opts, routes: routes}
	r := httprouter.New()
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = true
	r.HandleOPTIONS = false
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, errUnknownPath)
	})
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, newOutcome(http.StatusMethodNotAllowed, "not-supported", "Method "+r.Method+" is not supported on this resource."))
	})
	for _, rt := range routes {
		r.Handle(rt.Method, rt.Path, s.handle(rt))
	}
	return r
}

// Owns reports whether path belongs to the FHIR endpoint.
func Owns(path string) bool {
	return path == Prefix || strings.HasPrefix(path, Prefix+"/")
}

// handle wraps a route's handler: format negotiation, the token check its
// Auth asks for, and the identity of the call.
func (s *server) handle(rt Route) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		if err := negotiate(r); err != nil {
			s.opts.Enter(r, rt.Path, auth.Claims{})
			writeError(w, r, err)
			return
		}
		claims, err := s.verify(r, rt.Auth)
		id := s.opts.Enter(r, rt.Path, claims)
		if err != nil {
			writeError(w, r, err)
			return
		}
		rt.handler(s, w, r, call{id: id, params: ps})
	}
}

// call is one request's identity and path parameters.
type call struct {
	id     database.Identity
	params httprouter.Params
}

// verify checks the bearer token the route's Auth asks for.
func (s *server) verify(r *http.Request, a Auth) (auth.Claims, error) {
	if a == Public {
		return auth.Claims{}, nil
	}
	header := r.Header.Get("Authorization")
	if header == "" {
		if a == TokenRequired {
			return auth.Claims{}, errNoToken
		}
		return auth.Claims{}, nil
	}
	tok, ok := auth.BearerToken(header)
	if !ok {
		return auth.Claims{}, errBadToken
	}
	claims, err := s.opts.Tokens.Verify(tok, auth.TokenAccess)
	if err != nil {
		return auth.Claims{}, errBadToken
	}
	return claims, nil
}

// base is the public base URL: the configured one, else the request's
// scheme and Host with /fhir.
func (s *server) base(r *http.Request) string {
	if s.opts.Base != "" {
		return strings.TrimRight(s.opts.Base, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + Prefix
}
