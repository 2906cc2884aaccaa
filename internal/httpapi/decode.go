package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// field is a JSON member that remembers whether it was present and whether
// it was null, which pointers cannot tell apart: PATCH must refuse an
// explicit null rather than read it as "keep".
type field[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *field[T]) UnmarshalJSON(b []byte) error {
	f.Set = true
	if bytes.Equal(b, []byte("null")) {
		f.Null = true
		return nil
	}
	return json.Unmarshal(b, &f.Value)
}

// decode reads exactly one JSON object of type T from the body. It demands
// Content-Type application/json (415), refuses unknown fields, trailing
// data and wrong types (400, with the field named), and reports bodies over
// the limit set by limitBody (413).
func decode[T any](r *http.Request) (T, error) {
	var v T
	if err := checkJSONContentType(r.Header.Get("Content-Type")); err != nil {
		return v, err
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, decodeError(err)
	}
	// Exactly one value: anything but whitespace after it is an error.
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return v, err
		}
		return v, newError(http.StatusBadRequest, "malformed", "The body must contain a single JSON object.")
	}
	return v, nil
}

func checkJSONContentType(ct string) error {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be application/json.")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "JSON must be encoded as UTF-8.")
	}
	return nil
}

// decodeError explains a json.Decoder failure to the client.
func decodeError(err error) error {
	var (
		tooBig    *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		return err
	case errors.Is(err, io.EOF):
		return newError(http.StatusBadRequest, "malformed", "The request body is empty.")
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return newError(http.StatusBadRequest, "malformed", "The request body is not valid JSON.")
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return newError(http.StatusBadRequest, "malformed", "The body must be a JSON object.")
		}
		return invalidFields(fieldError{Field: typeErr.Field, Message: "Expected " + jsonKind(typeErr.Type.Kind().String()) + "."})
	}
	// encoding/json has no typed error for unknown fields.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name, _ = strconv.Unquote(name)
		return invalidFields(fieldError{Field: name, Message: "Unknown field."})
	}
	return newError(http.StatusBadRequest, "malformed", "The request body could not be read.")
}

func jsonKind(goKind string) string {
	switch {
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "uint"):
		return "an integer"
	case goKind == "string":
		return "a string"
	case goKind == "bool":
		return "a boolean"
	}
	return "a different type"
}

// validator collects field errors so a client sees all of them at once.
type validator struct{ errs []fieldError }

func (v *validator) add(name, msg string) {
	v.errs = append(v.errs, fieldError{Field: name, Message: msg})
}

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	return invalidFields(v.errs...)
}

// present checks a field's presence: required fields must be there, and no
// field may be null. It reports whether the value should be used.
func present[T any](v *validator, name string, f field[T], required bool) bool {
	switch {
	case f.Null:
		v.add(name, "This field may not be null.")
		return false
	case !f.Set:
		if required {
			v.add(name, "This field is required.")
		}
		return false
	}
	return true
}

// The checks below are the ones that must happen before the database is
// reached: presence, null and type. Lengths, ranges and formats are the
// database's (sql/migrations): the api functions answer a value out of
// bounds with RINVL naming the field, a 400 as precise as a Go check would
// give, and TestOpenAPIBoundsAreTheDatabases keeps openapi.yaml's bounds
// equal to theirs.

// text trims a string field of white space, as the seed's serializers did;
// it returns nil when the field is absent (keep the current value). Blank
// and too long are for the database to refuse.
func (v *validator) text(name string, f field[string], required bool) *string {
	if !present(v, name, f, required) {
		return nil
	}
	s := strings.TrimSpace(f.Value)
	return &s
}

// value returns a present field's value, nil when it is absent.
func value[T any](v *validator, name string, f field[T], required bool) *T {
	if !present(v, name, f, required) {
		return nil
	}
	return &f.Value
}

// id checks a field holding a record id (a positive integer).
func (v *validator) id(name string, f field[int64]) int64 {
	if !present(v, name, f, true) {
		return 0
	}
	if f.Value <= 0 {
		v.add(name, "Ensure this value is a positive integer.")
	}
	return f.Value
}

// pathID reads a record id from the path. Like the seed's <int:pk> routes,
// anything that is not a positive integer in int64 range simply matches no
// record: 404, the same answer as an id that does not exist.
func pathID(r *http.Request, name string) (int64, error) {
	s := pathParam(r, name)
	if s == "" || len(s) > 19 || s[0] == '0' {
		return 0, errNotFound
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errNotFound
		}
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errNotFound
	}
	return id, nil
}

// page parses ?limit= and ?offset= into the api functions' int
// parameters: nil when absent. The functions apply the default page size
// (50), clamp larger limits to 100 as DRF does, and refuse a limit below 1
// or a negative offset (app.page_limit, app.page_offset). Here only the
// type is checked: a limit beyond int32 is clamped to it (so the database
// caps it like any other large limit), an offset beyond it is refused.
func page(r *http.Request) (limit, offset any, err error) {
	q := r.URL.Query()
	var v validator
	if s := q.Get("limit"); s != "" {
		n, perr := strconv.ParseInt(s, 10, 32)
		switch {
		case errors.Is(perr, strconv.ErrRange) && s[0] == '-':
			limit = int32(math.MinInt32)
		case errors.Is(perr, strconv.ErrRange):
			limit = int32(math.MaxInt32)
		case perr != nil:
			v.add("limit", "Ensure this value is an integer.")
		default:
			limit = int32(n)
		}
	}
	if s := q.Get("offset"); s != "" {
		n, perr := strconv.ParseInt(s, 10, 32)
		if perr != nil {
			v.add("offset", "Ensure this value is an integer no greater than 2147483647.")
		} else {
			offset = int32(n)
		}
	}
	if err := v.err(); err != nil {
		return nil, nil, err
	}
	return limit, offset, nil
}

// queryText reads an optional free-text filter: absent or blank is nil. A
// filter longer than any stored value simply matches nothing; text that is
// not UTF-8 could not reach the database at all.
func queryText(r *http.Request, v *validator, name string) *string {
	s := strings.TrimSpace(r.URL.Query().Get(name))
	if s == "" {
		return nil
	}
	if !utf8.ValidString(s) {
		v.add(name, "Enter valid UTF-8 text.")
	}
	return &s
}
