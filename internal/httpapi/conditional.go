package httpapi

import (
	"bytes"
	"net/http"
	"strings"

	"healthcare/internal/database"
	"healthcare/internal/etags"
)

// Versions, ETags and conditional requests (issue 14). A patient or doctor
// carries a version that PostgreSQL bumps on every change; its ETag is
// W/"<version>". The version is compared with If-Match inside the api
// function's own UPDATE or DELETE (sql/migrations/014_versions.sql), so no
// other write can come between the check and the write; a mismatch is the
// database's RSTAL, answered 412 here.

// anyVersion is what an If-Match that matches any current representation
// (absent, or "*") passes as the expected version: NULL, no condition. A
// record that does not exist is 404 either way, which RFC 9110 13.2.1
// allows: preconditions are ignored when the answer would not be 2xx.
var anyVersion any

// noVersion never matches: versions start at 1. It is sent for an entity
// tag that is well formed but not one this server made (RFC 9110: no
// current representation matches it, so 412).
const noVersion int32 = 0

var (
	errMalformedIfMatch = newError(http.StatusBadRequest, "malformed_precondition",
		`If-Match must be * or one entity tag, the ETag you read, such as W/"3".`)
	errMalformedIfNoneMatch = newError(http.StatusBadRequest, "malformed_precondition",
		`If-None-Match must be * or a list of entity tags, such as W/"3".`)
	errIfMatchRequired = newError(http.StatusPreconditionRequired, "precondition_required",
		`This server requires If-Match on changes (REQUIRE_IF_MATCH): send the ETag of the version you read, or * to change whatever is current.`)
)

// expectedVersion reads If-Match for a PUT, PATCH or DELETE: the version
// the api function must find (an int32), or anyVersion. Malformed is 400;
// absent is 428 when required.
func expectedVersion(r *http.Request, required bool) (any, error) {
	values := r.Header.Values("If-Match")
	if len(values) == 0 {
		if required {
			return nil, errIfMatchRequired
		}
		return anyVersion, nil
	}
	header := strings.TrimSpace(strings.Join(values, ","))
	if header == "*" {
		return anyVersion, nil
	}
	tags, ok := etags.Split(header)
	if !ok || len(tags) != 1 {
		return nil, errMalformedIfMatch
	}
	v, ok := etags.Version(tags[0])
	if !ok {
		return noVersion, nil
	}
	return v, nil
}

// versionKey is how PostgreSQL's json_build_object writes the key; the
// version is the second member of a patient or a doctor (app.patient_json,
// app.doctor_json), right after the numeric id, so it is found in the
// first bytes and is always the record's own.
var versionKey = []byte(`"version" : `)

// versionPrefix bounds the search: `{"id" : ` + 19 digits + `, ` and the key.
const versionPrefix = 48

// bodyVersion returns the digits of the record's version in body, a
// patient's or doctor's JSON, without decoding it; nil when absent.
func bodyVersion(body []byte) []byte {
	head := body[:min(len(body), versionPrefix)]
	i := bytes.Index(head, versionKey)
	if i < 0 {
		return nil
	}
	rest := body[i+len(versionKey):]
	n := 0
	for n < len(rest) && n < 10 && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n == 0 {
		return nil
	}
	return rest[:n]
}

// etag is the ETag of a version.
func etag(version []byte) string {
	b := make([]byte, 0, len(version)+4)
	b = append(b, `W/"`...)
	b = append(b, version...)
	return string(append(b, '"'))
}

// noneMatch is a parsed If-None-Match: "*" or entity tags' opaque parts.
type noneMatch struct {
	star bool
	tags []string
}

// parseNoneMatch reads If-None-Match; ok is false when it is absent.
func parseNoneMatch(r *http.Request) (nm noneMatch, ok bool, err error) {
	values := r.Header.Values("If-None-Match")
	if len(values) == 0 {
		return nm, false, nil
	}
	header := strings.TrimSpace(strings.Join(values, ","))
	if header == "*" {
		return noneMatch{star: true}, true, nil
	}
	tags, valid := etags.Split(header)
	if !valid {
		return nm, false, errMalformedIfNoneMatch
	}
	return noneMatch{tags: tags}, true, nil
}

// matches compares weakly (RFC 9110 13.1.2): "*" matches any current
// representation.
func (nm noneMatch) matches(version []byte) bool {
	if nm.star {
		return true
	}
	for _, t := range nm.tags {
		if t == string(version) {
			return true
		}
	}
	return false
}

// callRecord is callAPI for a route answering one patient or doctor: the
// answer carries ETag W/"<version>", and a GET whose If-None-Match names
// the current version is 304 with the ETag and no body.
func callRecord(w http.ResponseWriter, r *http.Request, db *database.DB, fn database.Func, args ...any) {
	var nm noneMatch
	conditional := false
	if r.Method == http.MethodGet {
		var err error
		if nm, conditional, err = parseNoneMatch(r); err != nil {
			writeError(w, r, err)
			return
		}
	}
	body, err := db.Call(r.Context(), identity(r), fn, args...)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if body == nil {
		writeError(w, r, errNotFound)
		return
	}
	if version := bodyVersion(body); version != nil {
		w.Header()["Etag"] = []string{etag(version)}
		if conditional && nm.matches(version) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	writeJSON(w, http.StatusOK, body)
}

// pathVersion reads a version from the path: a positive int32, anything
// else matches no version (404), like pathID.
func pathVersion(r *http.Request) (int32, error) {
	v, ok := etags.Version(pathParam(r, "version"))
	if !ok {
		return 0, errNotFound
	}
	return v, nil
}
