package httpapi

import (
	"context"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"healthcare/internal/auth"
)

// requestState is created once per request by the outermost middleware and
// filled in on the way in (request id, route pattern, user), so the access
// log and the panic handler, which run outside the router, can read it.
type requestState struct {
	id     string
	route  string
	userID int64
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
		st := &requestState{}
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
				writeError(sw, r.WithContext(log.WithContext(r.Context())), errPanic)
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

// withRequestID takes a sane X-Request-Id from the client (so a gateway's
// id follows the request into PostgreSQL) or makes one, and returns it.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = uuid.NewString()
		}
		stateFrom(r.Context()).id = id
		w.Header().Set("X-Request-Id", id)
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
// Never headers, bodies, tokens or passwords. It also puts a request logger
// in the context for writeError.
func accessLog(log zerolog.Logger, observe func(RequestInfo), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		st := stateFrom(r.Context())
		reqLog := log.With().Str("request_id", st.id).Logger()
		r = r.WithContext(reqLog.WithContext(r.Context()))
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
			reqLog.Info().Str("method", r.Method).Str("route", route).Int("status", status).
				Float64("duration_ms", float64(dur.Microseconds())/1000).Int64("user_id", st.userID).
				Int64("bytes", sw.bytes).Msg("request")
			if observe != nil {
				observe(RequestInfo{Method: r.Method, Route: st.route, Status: status, Duration: dur, UserID: st.userID})
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// securityHeaders hardens every response. Anything but an anonymous GET may
// carry personal data or tokens, so it must not be stored by caches.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Header.Get("Authorization") != "" || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody caps request bodies; decode reports the overflow as 413. A
// declared length over the limit is refused before reading anything.
func limitBody(limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			writeError(w, r, &http.MaxBytesError{Limit: limit})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// route records the matched pattern for the access log.
func route(pattern string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stateFrom(r.Context()).route = pattern
		next.ServeHTTP(w, r)
	})
}

type claimsKey struct{}

// claimsFrom returns the verified access token's claims; ok is false for
// anonymous requests.
func claimsFrom(ctx context.Context) (auth.Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(auth.Claims)
	return c, ok
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
		stateFrom(r.Context()).userID = claims.UserID
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, claims)))
	})
}
