// Package etags reads the entity tags of If-Match and If-None-Match
// (RFC 9110 8.8.3) and the record versions this server's ETags name, for
// the REST API and the FHIR endpoint alike.
package etags

import (
	"strconv"
	"strings"
)

// Split splits a list of entity tags (RFC 9110 8.8.3: [W/] "opaque",
// separated by commas and optional white space) and returns their opaque
// parts without the quotes; false when it is not such a list.
func Split(s string) ([]string, bool) {
	var tags []string
	for {
		s = strings.TrimLeft(s, " \t")
		s = strings.TrimPrefix(s, "W/")
		if len(s) < 2 || s[0] != '"' {
			return nil, false
		}
		end := 1
		for end < len(s) && s[end] != '"' {
			c := s[end]
			if c < 0x21 || c == 0x7f { // etagc: %x21 / %x23-7E / obs-text
				return nil, false
			}
			end++
		}
		if end == len(s) {
			return nil, false
		}
		tags = append(tags, s[1:end])
		s = strings.TrimLeft(s[end+1:], " \t")
		if s == "" {
			return tags, true
		}
		if s[0] != ',' {
			return nil, false
		}
		s = s[1:]
	}
}

// Version is the version an opaque tag of this server's ETags (W/"<n>")
// names: a positive int32 written without sign or leading zero.
func Version(opaque string) (int32, bool) {
	if opaque == "" || opaque[0] == '0' || len(opaque) > 10 {
		return 0, false
	}
	v, err := strconv.ParseInt(opaque, 10, 32)
	if err != nil || v < 1 {
		return 0, false
	}
	return int32(v), true
}
