package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

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
	errDraining = &apiError{status: http.StatusServiceUnavailable, code: "unavailable",
		detail:  "The server is shutting down; send requests to another instance.",
		headers: map[string]string{"Retry-After": "1"}, expected: true}
)

// sqlState is what one SQLSTATE becomes over HTTP.
type sqlState struct {
	status int
	code   string
	// clientMessage: the SQL message was written for clients (class R) and
	// may be shown; PostgreSQL's own messages can quote values or internal
	// names and are replaced by detail.
	clientMessage bool
	detail        string
}

// sqlStates is THE table from SQLSTATE to HTTP. Class R codes are raised by
// the api functions (their registry heads sql/migrations/005_api.sql); the
// rest are PostgreSQL's own.
var sqlStates = map[string]sqlState{
	"RNTFD": {http.StatusNotFound, "not_found", true, ""},
	"RFRBD": {http.StatusForbidden, "forbidden", true, ""},
	"RCNFL": {http.StatusConflict, "conflict", true, ""},
	"RINVL": {http.StatusBadRequest, "invalid", true, ""},
	"RUNAU": {http.StatusUnauthorized, "not_authenticated", true, ""},
	"23505": {http.StatusConflict, "conflict", false, "A record with these values already exists."},
	"23503": {http.StatusNotFound, "not_found", false, "A referenced record does not exist."},
	"23514": {http.StatusBadRequest, "invalid", false, "A value is out of range."},
	"23502": {http.StatusBadRequest, "invalid", false, "A required value is missing."},
	"22P02": {http.StatusBadRequest, "invalid", false, "A value has the wrong format."},
	"22003": {http.StatusBadRequest, "invalid", false, "A number is out of range."},
	"22001": {http.StatusBadRequest, "invalid", false, "A value is too long."},
	"22021": {http.StatusBadRequest, "invalid", false, "A value contains a character that cannot be stored."},
	"42501": {http.StatusForbidden, "forbidden", false, "You do not have permission to perform this action."},
	"57014": {http.StatusServiceUnavailable, "timeout", false, "The request took too long; try again shortly."},
	// Serialization failures and deadlocks roll the transaction back, so
	// the client can safely retry.
	"40001": {http.StatusServiceUnavailable, "retry", false, "A concurrent change interfered; try again."},
	"40P01": {http.StatusServiceUnavailable, "retry", false, "A concurrent change interfered; try again."},
}

// knownFields are the request fields a constraint name may point at, and
// tablePrefixes the table names that start constraint names.
var (
	knownFields   = []string{"username", "email", "password", "name", "age", "gender", "specialization", "patient", "doctor"}
	tablePrefixes = []string{"patient_doctors_", "patients_", "doctors_", "users_"}
)

// fieldFromConstraint guesses the field behind a constraint named in the
// <table>_<column>_<kind> convention (patients_age_check -> age,
// patient_doctors_doctor_id_fkey -> doctor). More than one candidate (a
// unique pair) means no single field is at fault.
func fieldFromConstraint(constraint string) string {
	for _, p := range tablePrefixes {
		if rest, ok := strings.CutPrefix(constraint, p); ok {
			constraint = rest
			break
		}
	}
	found := ""
	for _, part := range strings.Split(constraint, "_") {
		if slices.Contains(knownFields, part) {
			if found != "" && found != part {
				return ""
			}
			found = part
		}
	}
	return found
}

// fromPgError turns a server error into an apiError using sqlStates.
func fromPgError(pgErr *pgconn.PgError, err error) *apiError {
	st, ok := sqlStates[pgErr.Code]
	if !ok {
		return nil
	}
	e := &apiError{status: st.status, code: st.code, detail: st.detail, cause: err}
	if st.clientMessage {
		e.detail = pgErr.Message
	}
	if st.status == http.StatusServiceUnavailable {
		e.headers = map[string]string{"Retry-After": "1"}
	}
	if st.status == http.StatusUnauthorized {
		e.headers = map[string]string{"WWW-Authenticate": "Bearer"}
	}
	field := pgErr.ColumnName
	if field == "" && pgErr.Code[0] == '2' {
		field = fieldFromConstraint(pgErr.ConstraintName)
	}
	switch {
	case pgErr.Code == "23503" && field == "":
		e.status, e.code = http.StatusBadRequest, "invalid"
	case field != "" && (pgErr.Code[0] == '2' || pgErr.Code == "RINVL" || pgErr.Code == "RNTFD" || pgErr.Code == "RCNFL"):
		e.fields = []fieldError{{Field: field, Message: e.detail}}
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
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if e := fromPgError(pgErr, err); e != nil {
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
