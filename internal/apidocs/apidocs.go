// Package apidocs serves an interactive reference of the OpenAPI document
// at GET /api/docs/: Swagger UI from the npm package swagger-ui-dist
// (vendored in dist/, see dist/README.md), embedded in the binary. The
// page loads only from this server (its Content-Security-Policy says so
// to the browser), and "Try it out" calls this server with the access
// token given to the Authorize button.
package apidocs

import (
	"embed"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/julienschmidt/httprouter"
)

// Path is the page; its assets are Path + file name.
const Path = "/api/docs/"

// SwaggerUIVersion is the vendored swagger-ui-dist release.
const SwaggerUIVersion = "5.35.0"

//go:embed index.html init.js dist/swagger-ui-bundle.js dist/swagger-ui.css dist/LICENSE dist/NOTICE dist/swagger-ui-bundle.js.LICENSE.txt
var files embed.FS

// assets maps the served names to embedded files and content types.
var assets = map[string]struct{ file, contentType string }{
	"":                                 {"index.html", "text/html; charset=utf-8"},
	"init.js":                          {"init.js", "text/javascript; charset=utf-8"},
	"swagger-ui-bundle.js":             {"dist/swagger-ui-bundle.js", "text/javascript; charset=utf-8"},
	"swagger-ui.css":                   {"dist/swagger-ui.css", "text/css; charset=utf-8"},
	"LICENSE":                          {"dist/LICENSE", "text/plain; charset=utf-8"},
	"NOTICE":                           {"dist/NOTICE", "text/plain; charset=utf-8"},
	"swagger-ui-bundle.js.LICENSE.txt": {"dist/swagger-ui-bundle.js.LICENSE.txt", "text/plain; charset=utf-8"},
}

// contentSecurityPolicy lets the page load scripts, styles and data only
// from this server (Swagger UI sets inline styles; icons are data: URIs).
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the page at Path and its assets at Path + name (the
// route's :file parameter); any other name goes to notFound.
func Handler(notFound http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := httprouter.ParamsFromContext(r.Context()).ByName("file")
		if name == "" && r.URL.Path != Path {
			name = path.Base(r.URL.Path)
		}
		a, ok := assets[strings.TrimPrefix(name, "/")]
		if !ok {
			notFound.ServeHTTP(w, r)
			return
		}
		body, err := files.ReadFile(a.file)
		if err != nil {
			http.Error(w, "missing asset", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Content-Length", strconv.Itoa(len(body)))
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "public, max-age=300")
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(body)
		}
	})
}
