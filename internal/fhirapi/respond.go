package fhirapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"healthcare/internal/etags"
)

// Versions and conditional requests, as the REST API has them: a
// resource's meta.versionId is the record's version, its ETag W/"<n>",
// and If-Match becomes the fhir function's expected version, compared in
// the SQL write itself (412 on a stale one).

// etag is the ETag of a version.
func etag(version string) string { return `W/"` + version + `"` }

// meta is what the first bytes of a resource PostgreSQL built say about
// it: fhir.*_resource put meta right after the id, so it is found without
// decoding the body.
type meta struct {
	id, version, lastUpdated string
}

// metaHead bounds the search: resourceType, id and meta come first.
const metaHead = 256

// resourceMeta reads id, meta.versionId and meta.lastUpdated from the head
// of a resource; empty strings when absent.
func resourceMeta(body []byte) meta {
	head := body[:min(len(body), metaHead)]
	return meta{id: member(head, `"id" : "`), version: member(head, `"versionId" : "`), lastUpdated: member(head, `"lastUpdated" : "`)}
}

// member is the string value after key in head (json_build_object's
// spacing, or none), "" when absent.
func member(head []byte, key string) string {
	k := []byte(key)
	i := bytes.Index(head, k)
	if i < 0 {
		k = bytes.ReplaceAll(k, []byte(" "), nil)
		if i = bytes.Index(head, k); i < 0 {
			return ""
		}
	}
	rest := head[i+len(k):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// versionHeaders sets ETag and Last-Modified from a resource's meta.
func versionHeaders(w http.ResponseWriter, m meta) {
	h := w.Header()
	if m.version != "" {
		h["Etag"] = []string{etag(m.version)}
	}
	if t, err := time.Parse(time.RFC3339Nano, m.lastUpdated); err == nil {
		h["Last-Modified"] = []string{t.UTC().Format(http.TimeFormat)}
	}
}

// writeResource answers one resource with its ETag and Last-Modified, or
// 304 when If-None-Match names its version (the read still happened and
// is in the audit trail).
func writeResource(w http.ResponseWriter, r *http.Request, status int, body []byte, nm noneMatch) {
	m := resourceMeta(body)
	versionHeaders(w, m)
	if nm.matches(m.version) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeBody(w, status, body)
}

// noneMatch is a parsed If-None-Match: "*" or entity tags' opaque parts.
type noneMatch struct {
	present bool
	star    bool
	tags    []string
}

// parseNoneMatch reads If-None-Match.
func parseNoneMatch(r *http.Request) (noneMatch, error) {
	values := r.Header.Values("If-None-Match")
	if len(values) == 0 {
		return noneMatch{}, nil
	}
	header := strings.TrimSpace(strings.Join(values, ","))
	if header == "*" {
		return noneMatch{present: true, star: true}, nil
	}
	tags, ok := etags.Split(header)
	if !ok {
		return noneMatch{}, errIfNoneMatch
	}
	return noneMatch{present: true, tags: tags}, nil
}

// matches compares weakly (RFC 9110 13.1.2).
func (nm noneMatch) matches(version string) bool {
	if !nm.present || version == "" {
		return false
	}
	if nm.star {
		return true
	}
	for _, t := range nm.tags {
		if t == version {
			return true
		}
	}
	return false
}

// anyVersion is the expected version of an unconditional write: NULL.
var anyVersion any

// expectedVersion reads If-Match: the version the fhir function must find,
// or anyVersion. An entity tag this server did not make never matches (0).
func expectedVersion(r *http.Request, required bool) (any, error) {
	values := r.Header.Values("If-Match")
	if len(values) == 0 {
		if required {
			return nil, errNeedIfMatch
		}
		return anyVersion, nil
	}
	header := strings.TrimSpace(strings.Join(values, ","))
	if header == "*" {
		return anyVersion, nil
	}
	tags, ok := etags.Split(header)
	if !ok || len(tags) != 1 {
		return nil, errIfMatch
	}
	v, ok := etags.Version(tags[0])
	if !ok {
		return int32(0), nil
	}
	return v, nil
}

// pathID is a positive int64 id from the path; anything else is the same
// 404 as an id that does not exist.
func pathID(c call, name string) (int64, error) {
	s := c.params.ByName(name)
	if s == "" || s[0] == '0' || len(s) > 19 {
		return 0, errNotFound
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 1 {
		return 0, errNotFound
	}
	return v, nil
}

// maxDepth bounds the nesting of a resource a client sends (PostgreSQL's
// jsonb parser would otherwise meet its stack limit).
const maxDepth = 32

// readResource reads the body: one JSON object of at most MaxBodyBytes,
// with no NUL character in its strings (jsonb cannot store one), returned
// as it was sent for the fhir function to map.
func (s *server) readResource(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if err := checkContentType(r); err != nil {
		return nil, err
	}
	limit := s.opts.MaxBodyBytes
	if limit <= 0 {
		limit = 1 << 20
	}
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, err
		}
		return nil, invalid("", "The request body could not be read.")
	}
	if !utf8.Valid(body) || !json.Valid(body) {
		return nil, invalid("", "The body is not well-formed JSON.")
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, invalid("", "The body is not well-formed JSON.")
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, invalid("", "The body must be a FHIR resource: a JSON object.")
	}
	if msg := checkValues(v, 0); msg != "" {
		return nil, invalid("", msg)
	}
	return body, nil
}

// checkValues refuses what PostgreSQL's jsonb cannot hold.
func checkValues(v any, depth int) string {
	if depth > maxDepth {
		return "The resource is nested too deeply."
	}
	switch x := v.(type) {
	case string:
		if strings.IndexByte(x, 0) >= 0 {
			return "Strings may not contain the NUL character."
		}
	case map[string]any:
		for k, e := range x {
			if strings.IndexByte(k, 0) >= 0 {
				return "Strings may not contain the NUL character."
			}
			if msg := checkValues(e, depth+1); msg != "" {
				return msg
			}
		}
	case []any:
		for _, e := range x {
			if msg := checkValues(e, depth+1); msg != "" {
				return msg
			}
		}
	}
	return ""
}

// preferMinimal reports whether Prefer asks for return=minimal (the
// default, and return=representation, answer the resource).
func preferMinimal(r *http.Request) bool {
	for _, v := range r.Header.Values("Prefer") {
		for _, p := range strings.Split(v, ",") {
			if strings.EqualFold(strings.ReplaceAll(strings.TrimSpace(p), " ", ""), "return=minimal") {
				return true
			}
		}
	}
	return false
}
