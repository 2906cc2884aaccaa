package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/rs/zerolog"

	"healthcare/internal/auth"
)

// requestState is created once per request by the outermost middleware and
// filled in on the way in (request id, route pattern, verified claims), so
// the access log and the panic handler, which run outside the router, can
// read it. One context value per request: every further layer writes here
// instead of copying the request with a new context.
type requestState struct {
	id string
	// clientID is the X-Request-Id the client sent (when sane): recorded
	// apart from id, never in its place.
	clientID string
	trusted  []netip.Prefix // proxies whose X-Forwarded-For is believed
	route    string
	claims   auth.Claims // zero for an anonymous request
	params   httprouter.Params
	log      *zerolog.Logger
}

type stateKey struct{}

func stateFrom(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	if st == nil {
		return &requestState{}
	}
	return st
}

func requestID(ctx context.Context) string { return stateFrom(ctx).id }

var nopLogger = zerolog.Nop()

// logger is the server's logger, a no-op outside the middleware chain;
// callers add the request id to their events.
func (st *requestState) logger() *zerolog.Logger {
	if st.log == nil {
		return &nopLogger
	}
	return st.log
}

// statusWriter records the status code for the access log and for recover.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// recoverPanics turns a handler panic into a 500 problem carrying the
// request id, and logs the stack. It is outermost, so it also creates the
// request state every inner layer fills in.
func recoverPanics(log zerolog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &requestState{log: &log}
		sw := &statusWriter{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v) // net/http's own way to abort a response
			}
			log.Error().Str("request_id", st.id).Interface("panic", v).
				Bytes("stack", debug.Stack()).Msg("handler panicked")
			if sw.status == 0 {
				writeError(sw, r, errPanic)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

var errPanic = newError(http.StatusInternalServerError, "internal", "An internal error occurred.")

// maxRequestIDLen bounds a client-supplied X-Request-Id.
const maxRequestIDLen = 64

// validRequestID accepts ids that are safe to log and to echo in a header.
func validRequestID(s string) bool {
	if s == "" || len(s) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// requestIDs makes request ids: a random prefix chosen at start-up, so ids
// from several server copies or restarts do not collide, and a counter, so
// making one costs an atomic add rather than a random UUID.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return &requestIDs{prefix: hex.EncodeToString(b[:]) + "-"}
}

func (g *requestIDs) next() string {
	return g.prefix + strconv.FormatUint(g.n.Add(1), 10)
}

// withRequestID gives every request the server's own id, sent back in
// X-Request-Id and recorded as the audit event's request_id. A sane
// X-Request-Id from the client (a gateway's id) is kept apart: the access
// log and the audit event's detail record it as client_request_id, so a
// client can correlate its requests but never choose, or imitate, the id
// the server vouches for.
// It also keeps the trusted proxies, so the client address the audit trail
// records is the one login throttling counts.
func withRequestID(ids *requestIDs, trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := ids.next()
		st := stateFrom(r.Context())
		st.id = id
		if c := r.Header.Get("X-Request-Id"); validRequestID(c) {
			st.clientID = c
		}
		st.trusted = trusted
		w.Header()["X-Request-Id"] = []string{id}
		next.ServeHTTP(w, r)
	})
}

// RequestInfo describes a finished request for Options.Observe.
type RequestInfo struct {
	Method   string
	Route    string // the route pattern, "" when no route matched
	Status   int
	Duration time.Duration
	UserID   int64
}

// accessLog writes one JSON line per request: ids, method, route pattern
// (never the raw path, which holds record ids), status, duration and user.
// Never headers, bodies, tokens or passwords.
func accessLog(log zerolog.Logger, observe func(RequestInfo), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		st := stateFrom(r.Context())
		sw, ok := w.(*statusWriter)
		if !ok {
			sw = &statusWriter{ResponseWriter: w}
		}
		defer func() {
			status := sw.status
			if status == 0 {
				status = http.StatusInternalServerError // a panic is unwinding
			}
			route := st.route
			if route == "" {
				route = "unmatched"
			}
			dur := time.Since(start)
			ev := log.Info().Str("request_id", st.id)
			if st.clientID != "" {
				ev = ev.Str("client_request_id", st.clientID)
			}
			ev.Str("method", r.Method).Str("route", route).Int("status", status).
				Float64("duration_ms", float64(dur.Microseconds())/1000).Int64("user_id", st.claims.UserID).
				Int64("bytes", sw.bytes).Msg("request")
			if observe != nil {
				observe(RequestInfo{Method: r.Method, Route: st.route, Status: status, Duration: dur, UserID: st.claims.UserID})
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// Header values every response shares. net/http only reads them, and
// assigning a shared slice saves the allocation Header.Set makes.
var (
	headerNosniff = []string{"nosniff"}
	headerNoStore = []string{"no-store"}
)

// securityHeaders hardens every response. Anything but an anonymous GET may
// carry personal data or tokens, so it must not be stored by caches.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Content-Type-Options"] = headerNosniff
		if r.Header.Get("Authorization") != "" || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			h["Cache-Control"] = headerNoStore
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody caps request bodies; decode reports the overflow as 413. A
// declared length over the limit is refused before reading anything. A
// request without a body (net/http's NoBody) has nothing to cap.
func limitBody(limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			writeError(w, r, &http.MaxBytesError{Limit: limit})
			return
		}
		if r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		next.ServeHTTP(w, r)
	})
}

// route records the matched pattern for the access log and the path
// parameters for pathParam. It is an httprouter.Handle rather than an
// http.Handler so the parameters go into the request state instead of a
// copy of the request with a new context.
func route(pattern string, next http.Handler) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		st := stateFrom(r.Context())
		st.route = pattern
		st.params = ps
		next.ServeHTTP(w, r)
	}
}

// pathParam is the value of the route's path parameter name, "" if none.
func pathParam(r *http.Request, name string) string {
	return stateFrom(r.Context()).params.ByName(name)
}

// authenticator verifies access tokens. Nothing but the verified claims is
// derived from the token; PostgreSQL decides what the user may do.
type authenticator struct{ tokens *auth.Tokens }

// Require answers 401 unless a valid access token is present.
func (a authenticator) Require(next http.Handler) http.Handler { return a.check(true, next) }

// Optional lets anonymous requests through, but a token that is present
// must be valid: a client that sent credentials should learn they failed.
func (a authenticator) Optional(next http.Handler) http.Handler { return a.check(false, next) }

func (a authenticator) check(required bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header := r.Header.Get("Authorization")
		if header == "" {
			if required {
				writeError(w, r, errNoToken)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		tok, ok := auth.BearerToken(header)
		if !ok {
			writeError(w, r, errBadToken)
			return
		}
		claims, err := a.tokens.Verify(tok, auth.TokenAccess)
		if err != nil {
			e := *errBadToken
			e.cause = err
			writeError(w, r, &e)
			return
		}
		stateFrom(r.Context()).claims = claims
		next.ServeHTTP(w, r)
	})
}
