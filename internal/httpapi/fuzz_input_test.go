package httpapi

import (
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// expect4xx fails unless err is nil or maps to a client error.
func expect4xx(t *testing.T, input string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if s := toAPIError(err).status; s < 400 || s >= 500 {
		t.Fatalf("input %q gave status %d: %v", input, s, err)
	}
}

// FuzzDecodeRegisterBody: registration bodies decode and shape-check to a
// 4xx or to values that meet the documented rules, never a panic.
func FuzzDecodeRegisterBody(f *testing.F) {
	for _, s := range []string{
		`{"username":"alice","password":"correct horse","email":"a@example.com"}`,
		`{"username":"","password":""}`, `{"username":"a b","password":"x"}`, `{"username":1}`,
		`{"username":"alice","password":"correct horse","email":"Alice <a@example.com>"}`,
		`{"username":"` + strings.Repeat("a", 151) + `","password":"correct horse"}`,
		`{"username":"alice","password":"` + strings.Repeat("p", 5000) + `"}`, `{"username":"ålïçé","password":"\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000"}`,
		`{"username":"alice","password":"correct horse","is_admin":true}`, `null`, `{"username":"a"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/api/auth/register/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		in, err := decode[registerInput](req)
		if err == nil {
			err = in.validate()
			if err == nil && (!validUsername(in.Username.Value) || !utf8.ValidString(in.Username.Value)) {
				t.Fatalf("body %q accepted with username %q", body, in.Username.Value)
			}
		}
		expect4xx(t, body, err)
	})
}

// FuzzDecodeCredentialsBody: login and refresh bodies never panic and
// never fail with anything but a 4xx.
func FuzzDecodeCredentialsBody(f *testing.F) {
	for _, s := range []string{`{"username":"alice","password":"x"}`, `{"refresh":"a.b.c"}`, `{"username":["a"]}`,
		`{"username":"alice","password":"x","username":"bob"}`, `{}`, `"x"`, "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/api/auth/login/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if in, err := decode[credentialsInput](req); err == nil {
			var v validator
			present(&v, "username", in.Username, true)
			present(&v, "password", in.Password, true)
			expect4xx(t, body, v.err())
		} else {
			expect4xx(t, body, err)
		}
		req = httptest.NewRequest("POST", "/api/auth/refresh/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		_, err := decode[refreshInput](req)
		expect4xx(t, body, err)
	})
}

// FuzzDecodeDoctorAndMappingBodies: the other two resource bodies.
func FuzzDecodeDoctorAndMappingBodies(f *testing.F) {
	for _, s := range []string{`{"name":"Dr. Who","specialization":"time"}`, `{"name":"","specialization":null}`,
		`{"patient":1,"doctor":2}`, `{"patient":-1,"doctor":9223372036854775808}`, `{"patient":"1","doctor":1.5}`,
		`{"name":"` + strings.Repeat("x", 300) + `"}`, `{"patient":1e2,"doctor":0}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/api/doctors/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		in, err := decode[doctorInput](req)
		if err == nil {
			_, err = doctorArgs(in, true)
		}
		expect4xx(t, body, err)

		req = httptest.NewRequest("POST", "/api/mappings/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		m, err := decode[mappingInput](req)
		if err == nil {
			var v validator
			p, d := v.id("patient", m.Patient), v.id("doctor", m.Doctor)
			if err = v.err(); err == nil && (p <= 0 || d <= 0) {
				t.Fatalf("body %q accepted with ids %d, %d", body, p, d)
			}
		}
		expect4xx(t, body, err)
	})
}

// FuzzPageQuery: ?limit= and ?offset= give a 400 or the api functions'
// int arguments: nil when absent (the database's default), else the
// client's number, only clamped to int32 for the limit. The bounds are the
// database's (TestOpenAPIBoundsAreTheDatabases).
func FuzzPageQuery(f *testing.F) {
	for _, s := range []string{"limit=10&offset=20", "limit=0", "limit=-1", "limit=99999999999999999999",
		"offset=2147483648", "limit=1e3", "limit=%00", "limit=10&limit=20", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest("GET", "/api/patients/", nil)
		req.URL.RawQuery = query
		limit, offset, err := page(req)
		if err != nil {
			expect4xx(t, query, err)
			return
		}
		for name, got := range map[string]any{"limit": limit, "offset": offset} {
			s := req.URL.Query().Get(name)
			n, perr := strconv.ParseInt(s, 10, 64)
			switch {
			case s == "":
				if got != nil {
					t.Fatalf("query %q: absent %s gave %v, want nil", query, name, got)
				}
			case perr == nil && n == int64(int32(n)):
				if got != int32(n) {
					t.Fatalf("query %q: %s %d passed on as %v", query, name, n, got)
				}
			default:
				if _, ok := got.(int32); !ok || name == "offset" {
					t.Fatalf("query %q: out-of-range %s gave %v", query, name, got)
				}
			}
		}
	})
}

// FuzzClientAddress: whatever a client puts in X-Forwarded-For, the
// throttling address is an IP, and from an untrusted peer it is the peer.
func FuzzClientAddress(f *testing.F) {
	for _, s := range []string{"198.51.100.9", "1.2.3.4, 10.0.0.1", "junk", "", ",,,", "::1, 2001:db8::1", "10.0.0.1:80",
		"1.2.3.4\x00", strings.Repeat("1.1.1.1,", 100)} {
		f.Add(s, true)
		f.Add(s, false)
	}
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	f.Fuzz(func(t *testing.T, xff string, fromProxy bool) {
		req := httptest.NewRequest("POST", "/api/auth/login/", nil)
		req.RemoteAddr = "192.0.2.1:4000"
		if fromProxy {
			req.RemoteAddr = "10.0.0.2:4000"
		}
		req.Header.Set("X-Forwarded-For", xff)
		got := clientAddress(req, trusted)
		if _, err := netip.ParseAddr(got); err != nil {
			t.Fatalf("X-Forwarded-For %q gave %q, not an address", xff, got)
		}
		if !fromProxy && got != "192.0.2.1" {
			t.Fatalf("untrusted peer's X-Forwarded-For %q was believed: %q", xff, got)
		}
	})
}
