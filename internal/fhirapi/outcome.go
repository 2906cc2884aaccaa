package fhirapi

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"healthcare/internal/database"
)

// outcome is an error answered as an OperationOutcome with its status.
type outcome struct {
	status      int
	code        string // IssueType: invalid, login, forbidden, not-found, deleted, conflict, ...
	diagnostics string
	expression  string // the element at fault (Patient.name), if known
	headers     map[string]string
	cause       error
}

func (o *outcome) Error() string {
	if o.cause != nil {
		return o.code + ": " + o.diagnostics + ": " + o.cause.Error()
	}
	return o.code + ": " + o.diagnostics
}

func (o *outcome) Unwrap() error { return o.cause }

func newOutcome(status int, code, diagnostics string) *outcome {
	return &outcome{status: status, code: code, diagnostics: diagnostics}
}

// invalid is a 400 naming the parameter or element at fault.
func invalid(expression, diagnostics string) *outcome {
	return &outcome{status: http.StatusBadRequest, code: "invalid", diagnostics: diagnostics, expression: expression}
}

var (
	errUnknownPath = newOutcome(http.StatusNotFound, "not-found", "No such resource type or interaction on this server; GET /fhir/metadata lists what is supported.")
	errNotFound    = newOutcome(http.StatusNotFound, "not-found", "Resource not found.")
	errNoToken     = &outcome{status: http.StatusUnauthorized, code: "login", diagnostics: "Authentication credentials were not provided: send Authorization: Bearer <access token> (POST /api/auth/login/).",
		headers: map[string]string{"WWW-Authenticate": "Bearer"}}
	errBadToken = &outcome{status: http.StatusUnauthorized, code: "login", diagnostics: "The access token is not valid.",
		headers: map[string]string{"WWW-Authenticate": `Bearer error="invalid_token"`}}
	errNotAcceptable = newOutcome(http.StatusNotAcceptable, "not-supported", "This server speaks FHIR JSON only: accept application/fhir+json (or _format=json).")
	errMediaType     = newOutcome(http.StatusUnsupportedMediaType, "not-supported", "Send the resource as application/fhir+json.")
	errIfMatch       = newOutcome(http.StatusBadRequest, "invalid", `If-Match must be one entity tag, the ETag you read, such as W/"3", or *.`)
	errIfNoneMatch   = newOutcome(http.StatusBadRequest, "invalid", `If-None-Match must be * or a list of entity tags, such as W/"3".`)
	errNeedIfMatch   = newOutcome(http.StatusPreconditionRequired, "required", `This server requires If-Match on changes: send the ETag of the version you read.`)
)

// kindOutcome is the status and issue type of each kind of SQL error.
var kindOutcome = map[database.Kind]struct {
	status int
	code   string
}{
	database.KindNotFound:         {http.StatusNotFound, "not-found"},
	database.KindForbidden:        {http.StatusForbidden, "forbidden"},
	database.KindConflict:         {http.StatusConflict, "conflict"},
	database.KindInvalid:          {http.StatusBadRequest, "invalid"},
	database.KindUnprocessable:    {http.StatusUnprocessableEntity, "business-rule"},
	database.KindNotAuthenticated: {http.StatusUnauthorized, "login"},
	database.KindTimeout:          {http.StatusServiceUnavailable, "timeout"},
	database.KindRetry:            {http.StatusServiceUnavailable, "transient"},
	database.KindLocked:           {http.StatusConflict, "conflict"},
	database.KindStale:            {http.StatusPreconditionFailed, "conflict"},
	database.KindGone:             {http.StatusGone, "deleted"},
}

// toOutcome maps any error to the answer it deserves; unknown errors are
// 500s whose detail is only logged.
func toOutcome(err error) *outcome {
	var o *outcome
	if errors.As(err, &o) {
		return o
	}
	if errors.Is(err, database.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &outcome{status: http.StatusServiceUnavailable, code: "transient", diagnostics: "The service is temporarily unavailable; try again shortly.",
			headers: map[string]string{"Retry-After": "1"}, cause: err}
	}
	if errors.Is(err, database.ErrBusy) {
		return &outcome{status: http.StatusTooManyRequests, code: "throttled",
			diagnostics: "Too many of your requests are in progress at once; try again shortly.",
			headers:     map[string]string{"Retry-After": "1"}, cause: err}
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &outcome{status: http.StatusRequestEntityTooLarge, code: "too-long",
			diagnostics: "The request body is larger than " + strconv.FormatInt(tooBig.Limit, 10) + " bytes.", cause: err}
	}
	if se, ok := database.AsError(err); ok {
		if k, ok := kindOutcome[se.Kind]; ok {
			o := &outcome{status: k.status, code: k.code, diagnostics: se.ClientMessage, expression: se.Field, cause: err}
			switch {
			case se.Kind == database.KindLocked:
				o.headers = map[string]string{"Retry-After": "1"}
			case k.status == http.StatusUnauthorized:
				o.headers = map[string]string{"WWW-Authenticate": "Bearer"}
			case k.status == http.StatusServiceUnavailable:
				o.headers = map[string]string{"Retry-After": "1"}
			case k.status == http.StatusPreconditionFailed:
				if se.CurrentVersion > 0 {
					o.headers = map[string]string{"ETag": etag(strconv.FormatInt(se.CurrentVersion, 10))}
				}
			}
			return o
		}
	}
	return &outcome{status: http.StatusInternalServerError, code: "exception", diagnostics: "An internal error occurred.", cause: err}
}

// operationOutcome is the FHIR body of an error.
type operationOutcome struct {
	ResourceType string  `json:"resourceType"`
	Issue        []issue `json:"issue"`
}

type issue struct {
	Severity    string   `json:"severity"`
	Code        string   `json:"code"`
	Diagnostics string   `json:"diagnostics,omitempty"`
	Expression  []string `json:"expression,omitempty"`
}

// writeError is the one place errors become responses: an OperationOutcome
// with the status, never problem+json.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	o := toOutcome(err)
	is := issue{Severity: "error", Code: o.code, Diagnostics: o.diagnostics}
	if o.expression != "" {
		is.Expression = []string{o.expression}
	}
	body, mErr := json.Marshal(operationOutcome{ResourceType: "OperationOutcome", Issue: []issue{is}})
	if mErr != nil {
		body = []byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"fatal","code":"exception"}]}`)
	}
	h := w.Header()
	for k, v := range o.headers {
		h.Set(k, v)
	}
	writeBody(w, o.status, body)
}

// headerFHIR is the Content-Type of every answer.
var headerFHIR = []string{"application/fhir+json; charset=utf-8"}

// writeBody writes a FHIR JSON body.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = headerFHIR
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// formats are the _format values this server answers.
var formats = []string{"json", "application/json", "application/fhir+json", "application/json+fhir", "fhir+json"}

// jsonTypes are the media types this server reads and writes.
var jsonTypes = []string{"application/fhir+json", "application/json", "application/json+fhir"}

// negotiate checks _format and Accept: JSON only (406 otherwise).
func negotiate(r *http.Request) error {
	// _format overrides Accept; the query is parsed only when it may hold it.
	if strings.Contains(r.URL.RawQuery, "_format") {
		if f, ok := r.URL.Query()["_format"]; ok {
			if len(f) != 1 || !slices.Contains(formats, strings.TrimSpace(f[0])) {
				return errNotAcceptable
			}
			return nil
		}
	}
	values := r.Header["Accept"]
	if len(values) == 0 {
		return nil
	}
	accept := strings.Join(values, ",")
	if strings.TrimSpace(accept) == "" {
		return nil
	}
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if mt == "*/*" || mt == "application/*" || slices.Contains(jsonTypes, mt) {
			return nil
		}
	}
	return errNotAcceptable
}

// checkContentType accepts FHIR JSON (and plain JSON) bodies.
func checkContentType(r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !slices.Contains(jsonTypes, mt) {
		return errMediaType
	}
	return nil
}
