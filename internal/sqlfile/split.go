// Package sqlfile splits hand-written PostgreSQL scripts into statements.
// tern splits the same way but keeps its splitter internal; this one also
// keeps each statement's leading comments with it, so a definition and the
// comment that explains it travel together.
package sqlfile

import "strings"

// Split returns the statements of script in order, each with its
// terminating semicolon and the comments and blank lines before it. It
// understands single-quoted strings (a doubled quote escapes one), quoted identifiers,
// dollar-quoted bodies, and -- and /* */ comments; text after the last
// semicolon is returned as a final statement unless it is blank or only
// comments.
func Split(script string) []string {
	var out []string
	start, i, n := 0, 0, len(script)
	for i < n {
		switch c := script[i]; {
		case c == '-' && strings.HasPrefix(script[i:], "--"):
			i = skipTo(script, i, "\n")
		case c == '/' && strings.HasPrefix(script[i:], "/*"):
			i = skipTo(script, i+2, "*/")
		case c == '\'':
			i = skipQuoted(script, i, '\'')
		case c == '"':
			i = skipQuoted(script, i, '"')
		case c == '$':
			if tag := dollarTag(script, i); tag != "" {
				i = skipTo(script, i+len(tag), tag)
			} else {
				i++
			}
		case c == ';':
			out = append(out, script[start:i+1])
			i++
			start = i
		default:
			i++
		}
	}
	if rest := script[start:]; strings.TrimSpace(StripComments(rest)) != "" {
		out = append(out, rest)
	}
	return out
}

// skipTo returns the index just past the first end found from i, or len(s).
func skipTo(s string, i int, end string) int {
	if j := strings.Index(s[i:], end); j >= 0 {
		return i + j + len(end)
	}
	return len(s)
}

// skipQuoted returns the index just past the quoted text starting at i; a
// doubled quote is an escaped one.
func skipQuoted(s string, i int, q byte) int {
	for i++; i < len(s); i++ {
		if s[i] == q {
			if i+1 < len(s) && s[i+1] == q {
				i++
				continue
			}
			return i + 1
		}
	}
	return len(s)
}

// dollarTag returns the $tag$ opening a dollar-quoted string at i, or "" if
// none starts there (a positional parameter such as $1, or a $ inside a
// word).
func dollarTag(s string, i int) string {
	if i > 0 && isWordByte(s[i-1]) {
		return ""
	}
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '$':
			return s[i : j+1]
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || (j > i+1 && c >= '0' && c <= '9'):
		default:
			return ""
		}
	}
	return ""
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// StripComments removes the -- comment lines and blank lines that lead a
// statement, leaving the statement itself.
func StripComments(stmt string) string {
	for {
		stmt = strings.TrimLeft(stmt, " \t\r\n")
		if !strings.HasPrefix(stmt, "--") {
			return stmt
		}
		if j := strings.IndexByte(stmt, '\n'); j >= 0 {
			stmt = stmt[j+1:]
		} else {
			return ""
		}
	}
}
