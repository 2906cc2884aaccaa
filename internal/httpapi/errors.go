package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"healthcare/internal/database"
)

// fieldError names one invalid request field.
type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// problem is an RFC 9457 problem details body. Type is always
// "about:blank" (so Title is the status phrase); Code is the stable,
// machine-readable reason clients should switch on.
type problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Code      string       `json:"code"`
	RequestID string       `json:"request_id,omitempty"`
	Errors    []fieldError `json:"errors,omitempty"`
	// CurrentVersion is the record's version now, on a 412 for a stale
	// If-Match.
	CurrentVersion int64 `json:"current_version,omitempty"`
}

// apiError is an error the HTTP layer decided on itself (bad input, bad
// token). Detail is safe to show; cause is only logged.
type apiError struct {
	status  int
	code    string
	detail  string
	fields  []fieldError
	headers map[string]string
	cause   error
	// version is the current version a 412 names.
	version int64
	// expected marks a 5xx the server gives on purpose (/readyz while
	// draining): it is not logged as a failed request.
	expected bool
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return e.code + ": " + e.detail + ": " + e.cause.Error()
	}
	return e.code + ": " + e.detail
}

func (e *apiError) Unwrap() error { return e.cause }

func newError(status int, code, detail string) *apiError {
	return &apiError{status: status, code: code, detail: detail}
}

func invalidFields(fields ...fieldError) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "invalid", detail: "The request contains invalid fields.", fields: fields}
}

// Errors the handlers and middleware share.
var (
	errNotFound = newError(http.StatusNotFound, "not_found", "Not found.")
	errNoToken  = &apiError{status: http.StatusUnauthorized, code: "not_authenticated",
		detail:  "Authentication credentials were not provided.",
		headers: map[string]string{"WWW-Authenticate": `Bearer`}}
	errBadToken = &apiError{status: http.StatusUnauthorized, code: "token_not_valid",
		detail:  "Given token not valid for any token type.",
		headers: map[string]string{"WWW-Authenticate": `Bearer error="invalid_token"`}}
	errBadCredentials = &apiError{status: http.StatusUnauthorized, code: "no_active_account",
		detail:  "No active account found with the given credentials",
		headers: map[string]string{"WWW-Authenticate": `Bearer`}}
	errUnavailable = &apiError{status: http.StatusServiceUnavailable, code: "unavailable",
		detail:  "The service is temporarily unavailable; try again shortly.",
		headers: map[string]string{"Retry-After": "1"}}
	errBusy = &apiError{status: http.StatusTooManyRequests, code: "too_many_requests",
		detail:  "You have too many requests in progress; wait for one to finish and try again.",
		headers: map[string]string{"Retry-After": "1"}}
	errDraining = &apiError{status: http.StatusServiceUnavailable, code: "unavailable",
		detail:  "The server is shutting down; send requests to another instance.",
		headers: map[string]string{"Retry-After": "1"}, expected: true}
)

// kindStatus is the HTTP status of each kind of SQL error; which SQLSTATE
// is which kind is database's table (database/errors.go). Kinds not
// listed are 500s.
var kindStatus = map[database.Kind]int{
	database.KindNotFound:         http.StatusNotFound,
	database.KindForbidden:        http.StatusForbidden,
	database.KindConflict:         http.StatusConflict,
	database.KindInvalid:          http.StatusBadRequest,
	database.KindNotAuthenticated: http.StatusUnauthorized,
	database.KindTimeout:          http.StatusServiceUnavailable,
	database.KindRetry:            http.StatusServiceUnavailable,
	database.KindStale:            http.StatusPreconditionFailed,
	database.KindGone:             http.StatusGone,
	database.KindUnprocessable:    http.StatusUnprocessableEntity,
	// A row another session holds: the resource's state, not the
	// service, is what stands in the way (docs/design.md, "Sealed doors").
	database.KindLocked: http.StatusConflict,
}

// fromSQLError turns a classified server error into an apiError, or nil
// for kinds no client should see.
func fromSQLError(se *database.Error, err error) *apiError {
	status, ok := kindStatus[se.Kind]
	if !ok {
		return nil
	}
	e := &apiError{status: status, code: string(se.Kind), detail: se.ClientMessage, cause: err}
	switch {
	case se.Kind == database.KindLocked:
		e.headers = map[string]string{"Retry-After": "1"}
	case status == http.StatusServiceUnavailable:
		e.headers = map[string]string{"Retry-After": "1"}
	case status == http.StatusUnauthorized:
		e.headers = map[string]string{"WWW-Authenticate": "Bearer"}
	case status == http.StatusPreconditionFailed:
		// The version to read again, as a GET would tag it.
		e.version = se.CurrentVersion
		if se.CurrentVersion > 0 {
			e.headers = map[string]string{"ETag": etag(strconv.AppendInt(nil, se.CurrentVersion, 10))}
		}
	}
	if se.Field != "" {
		e.fields = []fieldError{{Field: se.Field, Message: e.detail}}
	}
	return e
}

// toAPIError maps any error to the response it deserves. Unknown errors
// are 500s.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, database.ErrBusy) {
		e := *errBusy
		e.cause = err
		return &e
	}
	if errors.Is(err, database.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		e := *errUnavailable
		e.cause = err
		return &e
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &apiError{status: http.StatusRequestEntityTooLarge, code: "too_large",
			detail: "The request body is larger than " + strconv.FormatInt(tooBig.Limit, 10) + " bytes.", cause: err}
	}
	if se, ok := database.AsError(err); ok {
		if e := fromSQLError(se, err); e != nil {
			return e
		}
	}
	if errors.Is(err, context.Canceled) {
		// The client went away; nobody reads this answer.
		return &apiError{status: 499, code: "client_closed", detail: "The client closed the request.", cause: err}
	}
	return &apiError{status: http.StatusInternalServerError, code: "internal", detail: "An internal error occurred.", cause: err}
}

// writeError is the single place errors become responses: an RFC 9457
// application/problem+json body, with internal detail logged, never sent.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := toAPIError(err)
	status := e.status
	st := stateFrom(r.Context())
	if e.code == string(database.KindLocked) && !database.NamesLockHolder(err) {
		e.detail = lockedDetail(st, err)
	}
	log := st.logger()
	switch {
	case status >= 500 && !e.expected:
		log.Error().Str("request_id", st.id).Err(err).Str("code", e.code).Msg("request failed")
	case e.cause != nil:
		log.Debug().Str("request_id", st.id).Err(err).Str("code", e.code).Msg("request refused")
	}
	if status == 499 {
		status = http.StatusServiceUnavailable
	}
	p := problem{
		Type:   "about:blank",
		Title:  http.StatusText(status),
		Status: status,
		Detail: e.detail,
		Code:   e.code,
		Errors: e.fields,

		CurrentVersion: e.version,
	}
	if status >= 500 {
		p.RequestID = st.id
	}
	body, mErr := json.Marshal(p)
	if mErr != nil {
		body = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500,"code":"internal"}`)
		status = http.StatusInternalServerError
	}
	h := w.Header()
	for k, v := range e.headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// recordNouns name the tables whose rows a request may wait for, and
// routeNouns the routes' first segments, as the API calls their records.
var (
	recordNouns = map[string]string{
		"patients": "patient", "doctors": "doctor", "patient_doctors": "mapping", "users": "account",
	}
	routeNouns = map[string]string{"patients": "patient", "doctors": "doctor", "mappings": "mapping"}
)

// lockedDetail says which record a lock timeout waited for: the route's
// own record by its id ("Patient 7 is being changed in another session"),
// unless the wait was known to be for a row of another table (then the
// kind of record), else any record. PostgreSQL names the table only for a
// wait on the holder's transaction, not for one queued behind another
// waiter for the same row, so a wait of unknown table on a route of one
// record is taken to be for that record, by far the likeliest.
func lockedDetail(st *requestState, err error) string {
	const retry = " is being changed in another session; try again shortly."
	noun := ""
	if se, ok := database.AsError(err); ok {
		noun = recordNouns[se.Relation]
	}
	// The route's record: /api/<table>/:id/...
	if rest, ok := strings.CutPrefix(st.route, "/api/"); ok {
		table, tail, _ := strings.Cut(rest, "/")
		own := routeNouns[table]
		if own != "" && (noun == "" || noun == own) && strings.HasPrefix(tail, ":id/") {
			if id := st.params.ByName("id"); id != "" {
				return strings.ToUpper(own[:1]) + own[1:] + " " + id + retry
			}
		}
	}
	if noun == "" {
		return "A record this request needs" + retry
	}
	article := "A "
	if strings.IndexByte("aeiou", noun[0]) >= 0 {
		article = "An "
	}
	return article + noun + " record this request needs" + retry
}
