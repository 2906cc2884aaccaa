package httpapi

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"healthcare/internal/apitest"
)

// TestBadInputIsRefusedAndChangesNothing sends malformed and hostile
// requests; each gets its exact 4xx as problem+json, and the stored data
// is the same afterwards.
func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	u := h.Signup("ivan")
	pid := h.CreatePatient(u, "Ivan", 33)
	patient := fmt.Sprintf("/api/patients/%d/", pid)
	snapshot := func() []byte { return h.Do("GET", "/api/patients/", u.Access, nil).Body }
	before := snapshot()

	long := strings.Repeat("a", 100*1024)
	huge := `{"name":"` + strings.Repeat("a", 10<<20) + `","age":1}`
	tests := []struct {
		name        string
		method      string
		path        string
		body        string
		contentType string
		want        int
		field       string
	}{
		{"a string age is a type error", "POST", "/api/patients/", `{"name":"x","age":"30"}`, "", 400, "age"},
		{"a fractional age is a type error", "POST", "/api/patients/", `{"name":"x","age":30.5}`, "", 400, "age"},
		{"a negative age is out of range", "POST", "/api/patients/", `{"name":"x","age":-1}`, "", 400, "age"},
		{"an absurd age is out of range", "POST", "/api/patients/", `{"name":"x","age":100000}`, "", 400, "age"},
		{"an age beyond int64 is a type error", "POST", "/api/patients/", `{"name":"x","age":1e30}`, "", 400, "age"},
		{"an age beyond the database's int is a type error", "POST", "/api/patients/", `{"name":"x","age":3000000000}`, "", 400, "age"},
		{"a numeric name is a type error", "POST", "/api/patients/", `{"name":5,"age":3}`, "", 400, "name"},
		{"an empty name is refused", "POST", "/api/patients/", `{"name":"","age":3}`, "", 400, "name"},
		{"a blank name is refused", "POST", "/api/patients/", `{"name":"   ","age":3}`, "", 400, "name"},
		{"a 100 KB name is refused", "POST", "/api/patients/", `{"name":"` + long + `","age":3}`, "", 400, "name"},
		{"a NUL character in a name is refused", "POST", "/api/patients/", `{"name":"a\u0000b","age":3}`, "", 400, ""},
		{"a missing name is refused", "POST", "/api/patients/", `{"age":3}`, "", 400, "name"},
		{"a null age is refused", "POST", "/api/patients/", `{"name":"x","age":null}`, "", 400, "age"},
		{"a gender over 100 characters is refused by the database", "POST", "/api/patients/", `{"name":"x","age":3,"gender":"` + strings.Repeat("g", 101) + `"}`, "", 400, "gender"},
		{"a numeric gender is a type error", "POST", "/api/patients/", `{"name":"x","age":3,"gender":1}`, "", 400, "gender"},
		{"an unknown field is refused", "POST", "/api/patients/", `{"name":"x","age":3,"owner":2}`, "", 400, "owner"},
		{"a second JSON value is refused", "POST", "/api/patients/", `{"name":"x","age":3}{}`, "", 400, ""},
		{"malformed JSON is refused", "POST", "/api/patients/", `{"name":`, "", 400, ""},
		{"an array body is refused", "POST", "/api/patients/", `[1,2]`, "", 400, ""},
		{"an empty body is refused", "POST", "/api/patients/", ``, "", 400, ""},
		{"a 10 MB body is too large", "POST", "/api/patients/", huge, "", 413, ""},
		{"a form body is the wrong media type", "POST", "/api/patients/", `name=x&age=3`, "application/x-www-form-urlencoded", 415, ""},
		{"a missing content type is the wrong media type", "POST", "/api/patients/", `{"name":"x","age":3}`, "-", 415, ""},
		{"PUT needs every field", "PUT", patient, `{"name":"x"}`, "", 400, "age"},
		{"PATCH needs at least one field", "PATCH", patient, `{}`, "", 400, "non_field_errors"},
		{"PATCH refuses null", "PATCH", patient, `{"name":null}`, "", 400, "name"},
		{"a non-numeric path id is not found", "GET", "/api/patients/abc/", "", "", 404, ""},
		{"an overflowing path id is not found", "GET", "/api/patients/99999999999999999999/", "", "", 404, ""},
		{"a zero path id is not found", "DELETE", "/api/patients/0/", "", "", 404, ""},
		{"a negative path id is not found", "PUT", "/api/patients/-1/", `{"name":"x","age":3,"gender":"m"}`, "", 404, ""},
		{"a missing patient id is not found", "GET", "/api/patients/424242/", "", "", 404, ""},
		{"a mapping to a string patient is a type error", "POST", "/api/mappings/", `{"patient":"1","doctor":1}`, "", 400, "patient"},
		{"a mapping to a negative patient is refused", "POST", "/api/mappings/", `{"patient":-5,"doctor":1}`, "", 400, "patient"},
		{"a mapping to a missing doctor is not found", "POST", "/api/mappings/", fmt.Sprintf(`{"patient":%d,"doctor":987654}`, pid), "", 404, "doctor"},
		{"a negative limit is refused", "GET", "/api/patients/?limit=-1", "", "", 400, "limit"},
		{"a non-numeric offset is refused", "GET", "/api/patients/?offset=x", "", "", 400, "offset"},
		{"a negative offset is refused by the database", "GET", "/api/patients/?offset=-1", "", "", 400, "offset"},
		{"a limit below int32 is refused by the database", "GET", "/api/patients/?limit=-99999999999", "", "", 400, "limit"},
		{"a specialization of 101 characters is refused by the database", "POST", "/api/doctors/", `{"name":"Dr. X","specialization":"` + strings.Repeat("s", 101) + `"}`, "", 400, "specialization"},
		{"a blank specialization is refused by the database", "POST", "/api/doctors/", `{"name":"Dr. X","specialization":"  "}`, "", 400, "specialization"},
		{"a short password is refused", "POST", "/api/auth/register/", `{"username":"newbie","password":"short","email":"n@example.com"}`, "", 400, "password"},
		{"a bad username is refused", "POST", "/api/auth/register/", `{"username":"no spaces","password":"long enough","email":"n@example.com"}`, "", 400, "username"},
		{"a non-ASCII username is refused, as the database would", "POST", "/api/auth/register/", `{"username":"José","password":"long enough","email":"n@example.com"}`, "", 400, "username"},
		{"a username taken in another case conflicts", "POST", "/api/auth/register/", fmt.Sprintf(`{"username":%q,"password":"long enough","email":"n@example.com"}`, strings.ToUpper(u.Name)), "", 409, "username"},
		{"a bad email is refused", "POST", "/api/auth/register/", `{"username":"newbie","password":"long enough","email":"not-an-email"}`, "", 400, "email"},
		{"an email with two @ is refused", "POST", "/api/auth/register/", `{"username":"newbie","password":"long enough","email":"a@b@example.com"}`, "", 400, "email"},
		{"an email with a space is refused", "POST", "/api/auth/register/", `{"username":"newbie","password":"long enough","email":"a b@example.com"}`, "", 400, "email"},
		{"an email of 255 characters is refused", "POST", "/api/auth/register/", `{"username":"newbie","password":"long enough","email":"` + strings.Repeat("e", 243) + `@example.com"}`, "", 400, "email"},
		{"a taken username conflicts", "POST", "/api/auth/register/", fmt.Sprintf(`{"username":%q,"password":"long enough","email":"n@example.com"}`, u.Name), "", 409, "username"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.body != "" || tt.method == "POST" {
				body = tt.body
			}
			headers := []string{}
			switch tt.contentType {
			case "":
			case "-":
				headers = append(headers, "Content-Type", "")
			default:
				headers = append(headers, "Content-Type", tt.contentType)
			}
			r := h.Expect(h.Do(tt.method, tt.path, u.Access, body, headers...), tt.want, tt.name)
			if tt.field != "" {
				p := apitest.CheckProblem(t, r)
				errs, _ := p["errors"].([]any)
				found := false
				for _, e := range errs {
					if m, _ := e.(map[string]any); m["field"] == tt.field {
						found = true
					}
				}
				if !found {
					t.Fatalf("problem %s does not name field %q", r.Body, tt.field)
				}
			}
		})
	}
	if after := snapshot(); !bytes.Equal(before, after) {
		t.Fatalf("data changed:\nbefore %s\nafter  %s", before, after)
	}
}

func TestHostileTextIsStoredVerbatim(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	u := h.Signup("vera")
	names := []string{
		`Robert'); DROP TABLE app.patients;--`,
		`%_\ " ' $1 ::text`,
		"Zoë 🩺🏥 名前",
	}
	for _, name := range names {
		r := h.Expect(h.Do("POST", "/api/patients/", u.Access, map[string]any{"name": name, "age": 7}), 201, "create")
		id := r.ID(t, "id")
		got := h.Expect(h.Do("GET", fmt.Sprintf("/api/patients/%d/", id), u.Access, nil), 200, "get").JSON(t)["name"]
		if got != name {
			t.Errorf("stored %q, read back %q", name, got)
		}
		doc := h.Expect(h.Do("POST", "/api/doctors/", u.Access, map[string]any{"name": name, "specialization": name}), 201, "doctor")
		if doc.JSON(t)["specialization"] != name {
			t.Errorf("doctor specialization %s, want %q", doc.Body, name)
		}
	}
	// The search filter treats LIKE wildcards literally.
	r := h.Expect(h.Do("GET", "/api/doctors/?search=%25_", "", nil), 200, "search")
	if ids := r.IDs(t); len(ids) != 1 {
		t.Errorf("search for %%_ matched %d doctors, want 1: %s", len(ids), r.Body)
	}
}
