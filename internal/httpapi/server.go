// Package httpapi is the REST server: httprouter routes, middleware,
// JSON decoding and shape checks, and problem+json errors over the
// database package.
//
// It follows docs/design.md's one rule: a handler verifies the token, checks
// the shape of the input, makes exactly one database.Call and writes the
// JSON PostgreSQL returned. It never filters rows or decides ownership;
// row-level security in PostgreSQL does.
package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/julienschmidt/httprouter"
	"github.com/rs/zerolog"

	"healthcare/internal/auth"
	"healthcare/internal/config"
	"healthcare/internal/database"
	"healthcare/internal/fhirapi"
)

// defaults fill the zero fields of Options: the server's configuration
// without any variable set, so every default has one source.
var defaults = config.Defaults()

// Options configure NewServer. The zero value is usable: zero fields take
// internal/config's defaults.
type Options struct {
	// MaxBodyBytes caps request bodies; larger ones get 413. Zero:
	// MAX_BODY_BYTES's default.
	MaxBodyBytes int64
	// Observe, when set, is called once per finished request (metrics).
	Observe func(RequestInfo)
	// Ready, when set, is called by GET /readyz after the database ping,
	// e.g. to compare the migration version with the binary's.
	Ready func(ctx context.Context) error
	// Draining, when set and true, makes GET /readyz answer 503 without
	// asking the database: the server is stopping and load balancers
	// should send elsewhere (internal/drain).
	Draining func() bool
	// LoginThrottle limits failed logins per account and per address.
	LoginThrottle LoginThrottle
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// address for login throttling; empty means the connection's peer.
	TrustedProxies []netip.Prefix
	// RequireIfMatch makes If-Match mandatory on PUT, PATCH and DELETE of
	// patients and doctors (428 without it), so no client overwrites a
	// version it has not read.
	RequireIfMatch bool
	// FHIRBaseURL is the public base URL of /fhir that Bundles name;
	// empty: from each request's Host.
	FHIRBaseURL string
	// CORSAllowedOrigins is the CORS allow-list ("*" for any origin);
	// empty, the default, turns CORS off.
	CORSAllowedOrigins []string
}

// Server is the REST API as an http.Handler.
type Server struct {
	handler http.Handler
}

// NewServer wires the middleware chain around the router:
// recover -> request id -> access log -> security headers -> CORS ->
// /fhir (internal/fhirapi, its own body limit and OperationOutcome errors)
// or body limit -> router (-> per route: token check -> handler).
func NewServer(opts Options, db *database.DB, tokens *auth.Tokens, hasher *auth.Hasher, logger zerolog.Logger) *Server {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = defaults.MaxBodyBytes
	}
	router := newRouter()
	addRoutes(router, deps{opts: opts, db: db, tokens: tokens, hasher: hasher})
	var h http.Handler = trailingSlash(router)
	h = limitBody(opts.MaxBodyBytes, h)
	h = withFHIR(fhirapi.New(fhirapi.Options{DB: db, Tokens: tokens, Base: opts.FHIRBaseURL, MaxBodyBytes: opts.MaxBodyBytes,
		RequireIfMatch: opts.RequireIfMatch, Enter: enterFHIR}), h)
	h = cors(opts.CORSAllowedOrigins, h)
	h = securityHeaders(h)
	h = accessLog(logger, opts.Observe, h)
	h = withRequestID(newRequestIDs(), opts.TrustedProxies, h)
	h = recoverPanics(logger, h)
	return &Server{handler: h}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// newRouter configures httprouter's edge cases: a missing or extra
// trailing slash redirects to the seed's canonical path (301 for GET;
// other methods are answered by trailingSlash first); wrong methods get
// 405 with Allow; unknown paths a 404 problem.
func newRouter() *httprouter.Router {
	r := httprouter.New()
	r.RedirectTrailingSlash = true
	r.RedirectFixedPath = false // ids and usernames are case-sensitive; do not guess
	r.HandleMethodNotAllowed = true
	r.HandleOPTIONS = true
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, errNotFound)
	})
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// httprouter has already set the Allow header.
		writeError(w, r, newError(http.StatusMethodNotAllowed, "method_not_allowed",
			"Method "+r.Method+" is not allowed on this resource."))
	})
	return r
}

// trailingSlash answers a request other than GET or HEAD whose path lacks
// (or has an extra) trailing slash, where the other spelling is a route of
// the same method: 308 Permanent Redirect to the right path, so clients
// that follow redirects resend the same method and body, with a
// problem+json body naming that path for those that do not (httprouter
// would send an empty 307).
func trailingSlash(router *httprouter.Router) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		if r.Method == http.MethodGet || r.Method == http.MethodHead || path == "/" {
			router.ServeHTTP(w, r)
			return
		}
		if h, _, tsr := router.Lookup(r.Method, path); h != nil || !tsr {
			router.ServeHTTP(w, r)
			return
		}
		right := path + "/"
		if strings.HasSuffix(path, "/") {
			right = strings.TrimSuffix(path, "/")
		}
		location := right
		if r.URL.RawQuery != "" {
			location += "?" + r.URL.RawQuery
		}
		writeError(w, r, &apiError{status: http.StatusPermanentRedirect, code: "trailing_slash",
			detail: fmt.Sprintf("The path is %s (mind the trailing slash): send %s %s. Clients that follow this redirect resend the same request there.",
				right, r.Method, right),
			headers: map[string]string{"Location": location}})
	})
}

func healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, []byte(`{"status":"ok"}`))
	})
}

func readyz(db *database.DB, ready func(context.Context) error, draining func() bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if draining != nil && draining() {
			writeError(w, r, errDraining)
			return
		}
		err := db.Ping(r.Context())
		if err == nil && ready != nil {
			err = ready(r.Context())
		}
		if err != nil {
			e := *errUnavailable
			e.cause = err
			writeError(w, r, &e)
			return
		}
		writeJSON(w, http.StatusOK, []byte(`{"status":"ready"}`))
	})
}

// withFHIR sends the paths under /fhir to the FHIR endpoint, which answers
// its own errors as OperationOutcomes, and everything else on.
func withFHIR(fhir, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fhirapi.Owns(r.URL.Path) {
			fhir.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// enterFHIR records a FHIR route and its caller for the access log and
// returns the identity its database call acts for.
func enterFHIR(r *http.Request, pattern string, claims auth.Claims) database.Identity {
	st := stateFrom(r.Context())
	st.route = pattern
	st.claims = claims
	return identity(r)
}
