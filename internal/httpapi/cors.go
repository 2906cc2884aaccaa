package httpapi

import (
	"net/http"
	"slices"
)

// CORS response settings: the methods and request headers the API uses, and
// the response headers a browser script may read.
const (
	corsAllowMethods  = "GET, POST, PUT, PATCH, DELETE"
	corsAllowHeaders  = "Authorization, Content-Type, X-Request-Id, If-Match, If-None-Match"
	corsExposeHeaders = "X-Request-Id, Retry-After, Location, ETag"
	corsMaxAge        = "600"
)

// cors answers cross-origin requests from the allow-list only. With an
// empty list (the default) it adds nothing, so browsers refuse every
// cross-origin read. "*" in the list allows any origin, but then the
// literal "*" is sent and never Access-Control-Allow-Credentials: the API
// authenticates with bearer tokens, not cookies, so no response ever asks
// the browser to attach credentials. A listed origin is echoed with
// Vary: Origin, so caches keep answers for different origins apart.
func cors(allowed []string, next http.Handler) http.Handler {
	if len(allowed) == 0 {
		return next
	}
	any := slices.Contains(allowed, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if !any {
			h.Add("Vary", "Origin")
		}
		origin := r.Header.Get("Origin")
		ok := origin != "" && (any || slices.Contains(allowed, origin))
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if any {
			h.Set("Access-Control-Allow-Origin", "*")
		} else {
			h.Set("Access-Control-Allow-Origin", origin)
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			// Preflight: answered here, before routing.
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", corsAllowMethods)
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		next.ServeHTTP(w, r)
	})
}
