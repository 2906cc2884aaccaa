package auth

// BearerToken extracts the token from an Authorization header value of the
// form "Bearer <token>" (RFC 6750 §2.1). The scheme is case-insensitive;
// exactly one space separates it from the token; the token is a non-empty
// b64token (ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/", then "="
// padding only) of at most MaxTokenBytes. Anything else is rejected rather
// than repaired, so there is one way to send a token.
func BearerToken(header string) (string, bool) {
	const scheme = "bearer "
	if len(header) <= len(scheme) || len(header)-len(scheme) > MaxTokenBytes {
		return "", false
	}
	for i := 0; i < len(scheme); i++ {
		c := header[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != scheme[i] {
			return "", false
		}
	}
	tok := header[len(scheme):]
	pad := false
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case c == '=':
			if i == 0 {
				return "", false
			}
			pad = true
		case pad:
			return "", false // only "=" may follow "="
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return "", false
		}
	}
	return tok, true
}
