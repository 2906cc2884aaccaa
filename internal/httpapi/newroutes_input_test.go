package httpapi

import (
	"context"
	"fmt"
	"testing"
)

// TestNewRoutesAnswerBadInputWith4xx: the routes this wave added (audit,
// history, care, doctor accounts, conditional headers) answer malformed and
// out-of-range input with a 4xx problem, never a 5xx.
func TestNewRoutesAnswerBadInputWith4xx(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := h.Signup("badinput-root")
	if _, err := h.tdb.Pool.Exec(context.Background(), "update app.users set is_admin = true where id = $1", root.ID); err != nil {
		t.Fatal(err)
	}
	u := h.Signup("badinput-user")
	p := h.CreatePatient(u, "Bad Input", 40)
	d := h.CreateDoctor(u, "Dr Bad", "Cardiology")
	cases := []struct {
		method, path, token string
		body                any
		headers             []string
	}{
		{"GET", "/api/audit/events/?since=yesterday", root.Access, nil, nil},
		{"GET", "/api/audit/events/?since=99999-01-01T00:00:00Z", root.Access, nil, nil},
		{"GET", "/api/audit/events/?patient=-1", root.Access, nil, nil},
		{"GET", "/api/audit/events/?user=abc", root.Access, nil, nil},
		{"GET", "/api/audit/events/?patient=99999999999999999999", root.Access, nil, nil},
		{"GET", "/api/audit/events/?limit=-5", root.Access, nil, nil},
		{"GET", "/api/audit/events/", u.Access, nil, nil},
		{"GET", fmt.Sprintf("/api/patients/%d/access-log/?offset=-1", p), u.Access, nil, nil},
		{"GET", "/api/patients/99999999999/access-log/", u.Access, nil, nil},
		{"GET", fmt.Sprintf("/api/patients/%d/history/0/", p), u.Access, nil, nil},
		{"GET", fmt.Sprintf("/api/patients/%d/history/99999999999/", p), u.Access, nil, nil},
		{"GET", fmt.Sprintf("/api/patients/%d/history/x/", p), u.Access, nil, nil},
		{"GET", fmt.Sprintf("/api/doctors/%d/history/-1/", d), "", nil, nil},
		{"GET", "/api/care/patients/abc/", u.Access, nil, nil},
		{"GET", "/api/care/patients/?limit=abc", u.Access, nil, nil},
		{"PUT", fmt.Sprintf("/api/doctors/%d/account/", d), root.Access, map[string]any{"user": "x"}, nil},
		{"PUT", fmt.Sprintf("/api/doctors/%d/account/", d), root.Access, map[string]any{"user": -5}, nil},
		{"PUT", fmt.Sprintf("/api/doctors/%d/account/", d), root.Access, map[string]any{}, nil},
		{"PUT", fmt.Sprintf("/api/doctors/%d/account/", d), root.Access, map[string]any{"user": 987654321}, nil},
		{"PUT", fmt.Sprintf("/api/doctors/%d/account/", d), u.Access, map[string]any{"user": u.ID}, nil},
		{"DELETE", "/api/doctors/99999999/account/", root.Access, nil, nil},
		{"PATCH", fmt.Sprintf("/api/patients/%d/", p), u.Access, map[string]any{"age": 41}, []string{"If-Match", `W/"abc"`}},
		{"PATCH", fmt.Sprintf("/api/patients/%d/", p), u.Access, map[string]any{"age": 41}, []string{"If-Match", `W/"99999999999999"`}},
		{"DELETE", fmt.Sprintf("/api/doctors/%d/", d), u.Access, nil, []string{"If-Match", `"1", "2"`}},
		{"GET", fmt.Sprintf("/api/patients/%d/", p), u.Access, nil, []string{"If-None-Match", `W/`}},
	}
	for _, c := range cases {
		r := h.Do(c.method, c.path, c.token, c.body, c.headers...)
		if r.Status < 400 || r.Status >= 500 {
			t.Errorf("%s %s %v: %d %s, want a 4xx problem", c.method, c.path, c.headers, r.Status, r.Body)
			continue
		}
		if r.Problem() != nil {
			t.Errorf("%s %s: %d without a problem body: %s", c.method, c.path, r.Status, r.Body)
		}
	}
}
