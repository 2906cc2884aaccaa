package fhirapi

import (
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// query is a search's parameters, read once.
type query struct {
	values url.Values
	// strict is Prefer: handling=strict: unknown parameters are 400
	// rather than ignored (the self link shows what was used).
	strict bool
}

func newQuery(r *http.Request) query {
	q := query{values: r.URL.Query()}
	for _, v := range r.Header.Values("Prefer") {
		if strings.Contains(strings.ReplaceAll(v, " ", ""), "handling=strict") {
			q.strict = true
		}
	}
	return q
}

// known checks the parameter names against a route's (modifiers after
// ':' are the parameter's own business).
func (q query) known(params []SearchParam) error {
	if !q.strict {
		return nil
	}
	for name := range q.values {
		base, _, _ := strings.Cut(name, ":")
		switch base {
		case "_count", "_offset", "_format", "_until":
			continue
		}
		ok := false
		for _, p := range params {
			ok = ok || p.Name == base
		}
		if !ok {
			return invalid(name, "Unknown search parameter "+name+" (Prefer: handling=strict); GET /fhir/metadata lists the supported ones.")
		}
	}
	return nil
}

// one is the single value of a parameter, nil when absent; repeating it is 400.
func (q query) one(name string) (*string, error) {
	v, ok := q.values[name]
	if !ok {
		return nil, nil
	}
	if len(v) != 1 {
		return nil, invalid(name, name+" may be given once.")
	}
	return &v[0], nil
}

// text is a string parameter: SQL NULL when absent or empty.
func (q query) text(name string) (any, error) {
	v, err := q.one(name)
	if err != nil || v == nil || strings.TrimSpace(*v) == "" {
		return nil, err
	}
	if len(*v) > 200 {
		return nil, invalid(name, name+" is longer than any value it could match.")
	}
	return *v, nil
}

// page reads _count and _offset: non-negative integers (the database
// bounds _count as the REST lists are).
func (q query) page() (count, offset any, err error) {
	if count, err = q.int("_count"); err != nil {
		return nil, nil, err
	}
	offset, err = q.int("_offset")
	return count, offset, err
}

func (q query) int(name string) (any, error) {
	v, err := q.one(name)
	if err != nil || v == nil {
		return nil, err
	}
	n, perr := strconv.ParseInt(*v, 10, 64)
	if perr != nil || n < 0 {
		return nil, invalid(name, name+" must be a non-negative integer.")
	}
	return int32(min(n, math.MaxInt32)), nil
}

// id is a token parameter naming a record id: a positive int64; any other
// value matches nothing (-1, which no record has).
func (q query) id(name string) (any, error) {
	v, err := q.one(name)
	if err != nil || v == nil {
		return nil, err
	}
	s := *v
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:] // a reference such as Patient/7
	}
	n, perr := strconv.ParseInt(s, 10, 64)
	if perr != nil || n < 1 {
		return int64(-1), nil
	}
	return n, nil
}

// stringMatch is the modifier of a string parameter: nil (starts with),
// "exact" or "contains"; others are 400.
func (q query) stringMatch(name string) (value, modifier any, err error) {
	found := ""
	for k := range q.values {
		if base, mod, _ := strings.Cut(k, ":"); base == name {
			if found != "" {
				return nil, nil, invalid(name, name+" may be given once, with one modifier.")
			}
			found = k
			switch mod {
			case "", "exact", "contains":
			default:
				return nil, nil, invalid(k, name+" takes the modifiers :exact and :contains.")
			}
			if mod != "" {
				modifier = mod
			}
		}
	}
	if found == "" {
		return nil, nil, nil
	}
	value, err = q.text(found)
	if value == nil {
		modifier = nil
	}
	return value, modifier, err
}

// datePattern is FHIR's date/dateTime search value: a year, month, day, or
// a time to the minute, second or fraction, with an optional zone.
var datePattern = regexp.MustCompile(`^(eq|gt|ge|lt|le)?([0-9]{4})(-([0-9]{2})(-([0-9]{2})(T([0-9]{2}):([0-9]{2})(:([0-9]{2})(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?)?)?$`)

// dateRange reads a date parameter (repeatable, each an AND) into one
// half-open range [from, before); nil ends are open.
func (q query) dateRange(name string) (from, before any, err error) {
	var lo, hi *time.Time
	for _, v := range q.values[name] {
		m := datePattern.FindStringSubmatch(v)
		if m == nil {
			return nil, nil, invalid(name, name+" must be a date or time such as ge2024-01-31 or lt2024-02-01T10:00:00Z, with an optional prefix eq, gt, ge, lt or le.")
		}
		start, end, ok := dateBounds(m)
		if !ok {
			return nil, nil, invalid(name, name+": "+v+" is not a valid date or time.")
		}
		var f, b *time.Time
		switch m[1] {
		case "", "eq":
			f, b = &start, &end
		case "gt":
			f = &end
		case "ge":
			f = &start
		case "lt":
			b = &start
		case "le":
			b = &end
		}
		if f != nil && (lo == nil || f.After(*lo)) {
			lo = f
		}
		if b != nil && (hi == nil || b.Before(*hi)) {
			hi = b
		}
	}
	if lo != nil {
		from = *lo
	}
	if hi != nil {
		before = *hi
	}
	return from, before, nil
}

// dateBounds is the range a matched date value covers at its precision.
func dateBounds(m []string) (start, end time.Time, ok bool) {
	atoi := func(s string, def int) int {
		if s == "" {
			return def
		}
		n, _ := strconv.Atoi(s)
		return n
	}
	year, month, day := atoi(m[2], 0), atoi(m[4], 1), atoi(m[6], 1)
	hour, minute, sec := atoi(m[8], 0), atoi(m[9], 0), atoi(m[11], 0)
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return start, end, false
	}
	loc := time.UTC
	if z := m[13]; z != "" && z != "Z" {
		h, mi := atoi(z[1:3], 0), atoi(z[4:6], 0)
		if h > 14 || mi > 59 {
			return start, end, false
		}
		off := (h*60 + mi) * 60
		if z[0] == '-' {
			off = -off
		}
		loc = time.FixedZone(z, off)
	}
	nanos := 0
	if frac := m[12]; frac != "" {
		digits := frac[1:]
		nanos = atoi((digits + "000000000")[:9], 0)
	}
	start = time.Date(year, time.Month(month), day, hour, minute, sec, nanos, loc)
	if start.Day() != day || int(start.Month()) != month {
		return start, end, false // 2023-02-31
	}
	switch {
	case m[3] == "":
		end = start.AddDate(1, 0, 0)
	case m[5] == "":
		end = start.AddDate(0, 1, 0)
	case m[7] == "":
		end = start.AddDate(0, 0, 1)
	case m[10] == "":
		end = start.Add(time.Minute)
	case m[12] == "":
		end = start.Add(time.Second)
	default:
		end = start.Add(time.Duration(math.Pow10(9 - (len(m[12]) - 1))))
	}
	return start, end, true
}

// specialty is a token search on a CodeableConcept's text: specialty or
// specialty:text, the text (after any system|) matched case-insensitively.
func (q query) specialty() (any, error) {
	_, plain := q.values["specialty"]
	_, text := q.values["specialty:text"]
	if plain && text {
		return nil, invalid("specialty", "Give specialty once.")
	}
	name := "specialty"
	if text {
		name = "specialty:text"
	}
	v, err := q.text(name)
	if err != nil || v == nil {
		return nil, err
	}
	s := v.(string)
	if i := strings.LastIndexByte(s, '|'); i >= 0 {
		s = s[i+1:]
	}
	return s, nil
}

// eitherID is a reference parameter with two names (patient and subject):
// one of them, once.
func (q query) eitherID(a, b string) (any, error) {
	_, hasA := q.values[a]
	_, hasB := q.values[b]
	if hasA && hasB {
		return nil, invalid(b, "Give "+a+" or "+b+", not both.")
	}
	if hasB {
		return q.id(b)
	}
	return q.id(a)
}

// until is _until, the newest audit event the pages of one search show
// (the server puts it in the links it gives): a positive integer.
func (q query) until() (any, error) {
	v, err := q.one("_until")
	if err != nil || v == nil {
		return nil, err
	}
	n, perr := strconv.ParseInt(*v, 10, 64)
	if perr != nil || n < 0 {
		return nil, invalid("_until", "_until must be a non-negative integer, as the page links give it.")
	}
	return n, nil
}
