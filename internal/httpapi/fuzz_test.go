package httpapi

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/julienschmidt/httprouter"
)

// FuzzDecodePatientBody: no body, however hostile, makes decoding and
// shape-checking panic or produce anything but a 4xx.
func FuzzDecodePatientBody(f *testing.F) {
	for _, s := range []string{
		`{"name":"x","age":3,"gender":"f"}`, `{"name":null}`, `{"age":1e400}`, `[]`, `{"name":"x"}{}`,
		`{"name":"\u0000","age":-0}`, `{"name":"` + strings.Repeat("é", 201) + `","age":1}`, ``, `{"owner":1}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/api/patients/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		in, err := decode[patientInput](req)
		if err == nil {
			_, err = patientArgs(in, true, true)
		}
		if err != nil {
			if s := toAPIError(err).status; s < 400 || s >= 500 {
				t.Fatalf("body %q gave status %d: %v", body, s, err)
			}
		}
	})
}

// FuzzPathID: only canonical positive int64s are ids; everything else is 404.
func FuzzPathID(f *testing.F) {
	for _, s := range []string{"1", "0", "-1", "01", "+1", "9223372036854775807", "9223372036854775808", "1e3", "abc", " 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		req := httptest.NewRequest("GET", "/", nil)
		ctx := context.WithValue(req.Context(), httprouter.ParamsKey, httprouter.Params{{Key: "id", Value: s}})
		id, err := pathID(req.WithContext(ctx), "id")
		if err != nil {
			if toAPIError(err).status != 404 {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if id <= 0 || strings.TrimLeft(s, "0123456789") != "" || s[0] == '0' {
			t.Fatalf("%q accepted as %d", s, id)
		}
	})
}
