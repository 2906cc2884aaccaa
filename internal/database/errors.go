package database

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Kind says what went wrong in terms callers act on, independent of HTTP.
// Its value is the stable snake_case code the REST API sends in problem
// bodies; internal/httpapi maps each Kind to a status.
type Kind string

// The kinds of SQL error. KindUnknown is every SQLSTATE the codes table
// does not list: a bug or an outage, never the caller's fault.
const (
	KindUnknown          Kind = ""
	KindNotFound         Kind = "not_found"
	KindForbidden        Kind = "forbidden"
	KindConflict         Kind = "conflict"
	KindInvalid          Kind = "invalid"
	KindNotAuthenticated Kind = "not_authenticated"
	KindTimeout          Kind = "timeout"
	KindRetry            Kind = "retry"
	// KindStale: a conditional write named a version that is no longer
	// the record's; Error.CurrentVersion is the one it has now.
	KindStale Kind = "version_mismatch"
	// KindGone: the record was deleted, and the caller could read it
	// before (the fhir functions' RGONE: 410 for its owner and admins).
	KindGone Kind = "gone"
	// KindUnprocessable: well-formed input that breaks a rule of this
	// server (the fhir functions' RUNPR: 422).
	KindUnprocessable Kind = "unprocessable"
	// KindLocked: the call gave up waiting (lock_timeout, Options.LockTimeout)
	// for a lock another session holds, typically a row a person's psql
	// transaction changed; Error.Relation names the table when known.
	KindLocked Kind = "locked"
)

// class is what one SQLSTATE means.
type class struct {
	kind Kind
	// text replaces PostgreSQL's message for clients: its own messages can
	// quote values or internal names. "" means the SQL message was written
	// for clients (class R, raised by the api functions) and may be shown.
	text string
}

// codes is THE table of SQLSTATEs. Class R codes are raised by the api
// functions (their registry heads sql/migrations/005_api.sql); the rest
// are PostgreSQL's own.
var codes = map[string]class{
	"RNTFD": {KindNotFound, ""},
	"RFRBD": {KindForbidden, ""},
	"RCNFL": {KindConflict, ""},
	"RINVL": {KindInvalid, ""},
	"RUNAU": {KindNotAuthenticated, ""},
	"RSTAL": {KindStale, ""},
	"RGONE": {KindGone, ""},
	"RUNPR": {KindUnprocessable, ""},
	"23505": {KindConflict, "A record with these values already exists."},
	"23503": {KindNotFound, "A referenced record does not exist."},
	"23514": {KindInvalid, "A value is out of range."},
	"23502": {KindInvalid, "A required value is missing."},
	"22P02": {KindInvalid, "A value has the wrong format."},
	"22003": {KindInvalid, "A number is out of range."},
	"22001": {KindInvalid, "A value is too long."},
	"22021": {KindInvalid, "A value contains a character that cannot be stored."},
	"42501": {KindForbidden, "You do not have permission to perform this action."},
	"42710": {KindConflict, "An object with this name already exists."},
	"57014": {KindTimeout, "The request took too long; try again shortly."},
	// A lock another session holds (Options.LockTimeout on REST calls):
	// 409 with Retry-After. app.lock_for_admin's and audit.prune's message,
	// which names that session for an admin, is shown (lockHolderNamed).
	"55P03": {KindLocked, "A record this request needs is being changed in another session; try again shortly."},
	// Serialization failures and deadlocks roll the transaction back, so
	// the client can safely retry.
	"40001": {KindRetry, "A concurrent change interfered; try again."},
	"40P01": {KindRetry, "A concurrent change interfered; try again."},
}

// Error is an error PostgreSQL raised, classified. Call returns it
// (wrapped) for every SQL error; AsError finds or builds it for callers
// that run their own statements.
type Error struct {
	// Code is the SQLSTATE.
	Code string
	// Kind classifies Code; KindUnknown for codes nobody expects.
	Kind Kind
	// Field is the request field at fault, from the error's column or its
	// constraint's name; "" when none or more than one is.
	Field string
	// Message is PostgreSQL's primary message. It may quote values and
	// internal names: log it, show ClientMessage.
	Message string
	// ClientMessage is the text a client may see: Message for codes the
	// api functions raise for clients, else a fixed sentence per code;
	// "" for KindUnknown.
	ClientMessage string
	// Constraint names the violated constraint, if any.
	Constraint string
	// Detail and Hint are PostgreSQL's DETAIL and HINT (log only).
	Detail, Hint string
	// CurrentVersion is, for KindStale, the record's version now (the api
	// functions send it in DETAIL as current_version=N); 0 otherwise.
	CurrentVersion int64
	// Relation is, for KindLocked, the table whose row the call waited
	// for, read from the error's context ("while updating tuple (0,1) in
	// relation \"patients\""); "" when the wait was for something else.
	Relation string

	pg *pgconn.PgError
}

func (e *Error) Error() string { return e.pg.Error() }

// Unwrap returns the driver's error, for logs and for errors.Is checks
// such as pgconn.SafeToRetry.
func (e *Error) Unwrap() error { return e.pg }

// AsError returns the classified SQL error in err's chain, or false when
// err did not come from the server.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return newError(pg), true
	}
	return nil, false
}

// IsKind reports whether err is a SQL error of kind k.
func IsKind(err error, k Kind) bool {
	e, ok := AsError(err)
	return ok && e.Kind == k
}

// lockHolderNamed is in the message of app.lock_for_admin and audit.prune
// when they give up waiting: the rest names the session that holds the
// lock, for the admin who acted (they are used for admins only).
const lockHolderNamed = " by another session: pid "

// NamesLockHolder reports whether err is a lock timeout whose message
// names the session holding the lock (an administrative act's), to be
// shown as it is.
func NamesLockHolder(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "55P03" && strings.Contains(pg.Message, lockHolderNamed)
}

func newError(pg *pgconn.PgError) *Error {
	c := codes[pg.Code]
	e := &Error{
		Code: pg.Code, Kind: c.kind, Message: pg.Message, ClientMessage: c.text,
		Constraint: pg.ConstraintName, Detail: pg.Detail, Hint: pg.Hint, pg: pg,
	}
	if c.kind != KindUnknown && c.text == "" || pg.Code == "55P03" && strings.Contains(pg.Message, lockHolderNamed) {
		e.ClientMessage = pg.Message
	}
	integrity := strings.HasPrefix(pg.Code, "2") // classes 22 (data) and 23 (integrity)
	field := pg.ColumnName
	if field == "" && integrity {
		field = fieldFromConstraint(pg.ConstraintName)
	}
	if pg.Code == "55P03" {
		if m := relationRE.FindStringSubmatch(pg.Where); m != nil {
			e.Relation = m[1]
		}
	}
	if pg.Code == "RSTAL" {
		if v, ok := strings.CutPrefix(pg.Detail, "current_version="); ok {
			e.CurrentVersion, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	switch {
	case pg.Code == "23503" && field == "":
		// A reference nobody named in the request: the input is wrong,
		// not a record missing.
		e.Kind = KindInvalid
	case field != "" && (integrity || pg.Code == "RINVL" || pg.Code == "RUNPR" || pg.Code == "RNTFD" || pg.Code == "RCNFL"):
		e.Field = field
	}
	return e
}

// relationRE finds the table in the context PostgreSQL gives a wait for a
// row (XactLockTableWait's "while locking tuple (0,5) in relation ...").
var relationRE = regexp.MustCompile(`tuple \([0-9]+,[0-9]+\) in relation "([^"]+)"`)

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

// refusalPrefix starts the answer of an api function that refused an
// attempt it recorded in the audit trail: at the REST door it returns
// {"error" : {"code" : ..., "message" : ..., "field" : ...}} instead of
// raising, so the refusal's event commits with the request (app.refuse in
// sql/definitions/access_log.sql; at the psql door it raises). No other
// api answer starts with an "error" key.
var refusalPrefix = []byte(`{"error" : {`)

// asRefusal turns such an answer into the Error the function would have
// raised.
func asRefusal(body []byte) (*Error, bool) {
	if !bytes.HasPrefix(body, refusalPrefix) {
		return nil, false
	}
	var r struct {
		Error struct {
			Code    string  `json:"code"`
			Message string  `json:"message"`
			Field   *string `json:"field"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Error.Code == "" {
		return nil, false
	}
	pg := &pgconn.PgError{Severity: "ERROR", Code: r.Error.Code, Message: r.Error.Message}
	if r.Error.Field != nil {
		pg.ColumnName = *r.Error.Field
	}
	return newError(pg), true
}
