package httpapi

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

// TestCareTeamOverREST is issue 13's judgement at the REST door: an admin
// links bob's account to doctor D; alice maps her patient P to D; bob
// lists and reads P under /api/care/patients/, cannot change it and cannot
// read alice's other patient; alice deletes the mapping and bob's next
// request for P is 404; alice's creator rights on a doctor bob's patient
// is mapped to are gone (409 on delete). (The psql door of the same story
// is sql/care_test.go.)
func TestCareTeamOverREST(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root, alice, bob := h.Signup("root"), h.Signup("alice"), h.Signup("bob")
	if _, err := h.tdb.Pool.Exec(context.Background(), "update app.users set is_admin = true where id = $1", root.ID); err != nil {
		t.Fatal(err)
	}
	d := h.CreateDoctor(alice, "Dr. Asha Rao", "Cardiology")
	account := fmt.Sprintf("/api/doctors/%d/account/", d)

	// Only admins link and unlink.
	h.Expect(h.Do("PUT", account, alice.Access, map[string]any{"user": bob.ID}), 403, "alice links bob")
	h.Expect(h.Do("PUT", account, bob.Access, map[string]any{"user": bob.ID}), 403, "bob links himself")
	h.Expect(h.Do("DELETE", account, bob.Access, nil), 403, "bob unlinks")
	h.Expect(h.Do("PUT", account, root.Access, map[string]any{"user": 0}), 400, "a user id that is no id")
	h.Expect(h.Do("PUT", account, root.Access, map[string]any{"user": 987654321}), 404, "a user that does not exist")
	h.Expect(h.Do("PUT", "/api/doctors/987654321/account/", root.Access, map[string]any{"user": bob.ID}), 404, "a doctor that does not exist")
	linked := h.Expect(h.Do("PUT", account, root.Access, map[string]any{"user": bob.ID}), 200, "the admin links bob").JSON(t)
	if linked["account"] != float64(bob.ID) {
		t.Fatalf("linked doctor %v, want account %d", linked, bob.ID)
	}
	other := h.CreateDoctor(root, "Dr. Lena Fischer", "Pediatrics")
	h.Expect(h.Do("PUT", fmt.Sprintf("/api/doctors/%d/account/", other), root.Access, map[string]any{"user": bob.ID}), 409, "bob has a doctor record already")

	// The account is shown to admins and bob only.
	docPath := fmt.Sprintf("/api/doctors/%d/", d)
	if got := h.Expect(h.Do("GET", docPath, bob.Access, nil), 200, "bob reads his doctor").JSON(t); got["account"] != float64(bob.ID) {
		t.Errorf("bob sees %v, want his account", got)
	}
	for who, token := range map[string]string{"alice": alice.Access, "anonymous": ""} {
		if got := h.Expect(h.Do("GET", docPath, token, nil), 200, who+" reads the doctor").JSON(t); got["account"] != nil {
			t.Errorf("%s sees the account: %v", who, got)
		}
	}

	p := h.CreatePatient(alice, "Ravi Kumar", 42)
	p2 := h.CreatePatient(alice, "Meera Iyer", 35)
	mapping := h.Expect(h.Do("POST", "/api/mappings/", alice.Access, map[string]any{"patient": p, "doctor": d}), 201, "alice maps P to D").ID(t, "id")

	care := h.Expect(h.Do("GET", "/api/care/patients/", bob.Access, nil), 200, "bob lists his care")
	if ids := care.IDs(t); !slices.Equal(ids, []int64{p}) {
		t.Fatalf("bob's care list %v, want [%d]", ids, p)
	}
	entry := care.JSON(t)["results"].([]any)[0].(map[string]any)
	if entry["mapping"] != float64(mapping) || entry["mapped_at"] == nil || entry["user"] != float64(alice.ID) {
		t.Errorf("care entry %v, want the mapping %d and its date", entry, mapping)
	}
	pPath := fmt.Sprintf("/api/patients/%d/", p)
	cPath := fmt.Sprintf("/api/care/patients/%d/", p)
	if got := h.Expect(h.Do("GET", cPath, bob.Access, nil), 200, "bob reads P in care").JSON(t); got["name"] != "Ravi Kumar" {
		t.Errorf("bob reads %v", got)
	}
	for _, c := range []struct {
		what, method, path string
		body               any
		want               int
	}{
		{"bob reads P through the policies", "GET", pPath, nil, 200},
		{"bob cannot patch P", "PATCH", pPath, map[string]any{"age": 1}, 403},
		{"bob cannot replace P", "PUT", pPath, map[string]any{"name": "x", "age": 1, "gender": "m"}, 403},
		{"bob cannot delete P", "DELETE", pPath, nil, 403},
		{"bob cannot map P elsewhere", "POST", "/api/mappings/", map[string]any{"patient": p, "doctor": other}, 403},
		{"bob cannot remove P's mapping", "DELETE", fmt.Sprintf("/api/mappings/%d/", mapping), nil, 403},
		{"bob cannot read P's access log", "GET", pPath + "access-log/", nil, 403},
		{"bob cannot read alice's other patient in care", "GET", fmt.Sprintf("/api/care/patients/%d/", p2), nil, 404},
		{"bob cannot read alice's other patient", "GET", fmt.Sprintf("/api/patients/%d/", p2), nil, 404},
		{"bob cannot patch alice's other patient", "PATCH", fmt.Sprintf("/api/patients/%d/", p2), map[string]any{"age": 1}, 404},
		{"alice has no care view", "GET", cPath, nil, 404},
	} {
		token := bob.Access
		if c.what == "alice has no care view" {
			token = alice.Access
		}
		h.Expect(h.Do(c.method, c.path, token, c.body), c.want, c.what)
	}
	if ids := h.Expect(h.Do("GET", "/api/patients/", bob.Access, nil), 200, "bob lists his patients").IDs(t); len(ids) != 0 {
		t.Errorf("the care view mixed into bob's own patients: %v", ids)
	}
	if got := h.Expect(h.Do("GET", pPath, alice.Access, nil), 200, "P unchanged").JSON(t); got["name"] != "Ravi Kumar" || got["age"] != float64(42) {
		t.Errorf("P changed: %v", got)
	}
	// Alice's access log shows bob opened P.
	var log struct {
		Results []struct {
			User   *int64
			Action string
			Detail map[string]any
		}
	}
	h.Expect(h.Do("GET", pPath+"access-log/", alice.Access, nil), 200, "alice's access log").Decode(t, &log)
	seen := 0
	for _, e := range log.Results {
		if e.User != nil && *e.User == bob.ID && e.Detail["via"] == "care_team" {
			seen++
		}
	}
	if seen != 2 {
		t.Errorf("alice's access log shows %d care reads by bob, want 2 (the list and the read)", seen)
	}

	// Alice's creator rights on a doctor bob's patient is mapped to are gone.
	d2 := h.CreateDoctor(alice, "Dr. Marco Rossi", "Cardiology")
	q := h.CreatePatient(bob, "Tom Baker", 58)
	bobsMapping := h.Expect(h.Do("POST", "/api/mappings/", bob.Access, map[string]any{"patient": q, "doctor": d2}), 201, "bob maps Q to alice's doctor").ID(t, "id")
	h.Expect(h.Do("DELETE", fmt.Sprintf("/api/doctors/%d/", d2), alice.Access, nil), 409, "alice deletes a doctor bob's patient is mapped to")
	h.Expect(h.Do("PATCH", fmt.Sprintf("/api/doctors/%d/", d2), alice.Access, map[string]any{"name": "Dr. Nobody"}), 403, "alice renames it")
	h.Expect(h.Do("PATCH", docPath, alice.Access, map[string]any{"name": "Dr. Nobody"}), 403, "alice renames the doctor linked to bob")
	h.Expect(h.Do("DELETE", docPath, alice.Access, nil), 403, "alice deletes the doctor linked to bob")
	h.Expect(h.Do("PATCH", docPath, bob.Access, map[string]any{"name": "Dr. Asha Rao-Menon"}), 200, "bob renames his own record")
	h.Expect(h.Do("DELETE", docPath, bob.Access, nil), 409, "bob deletes his record, which alice's patient is mapped to")

	// Alice removes the mapping: bob's next request for P is 404.
	h.Expect(h.Do("DELETE", fmt.Sprintf("/api/mappings/%d/", mapping), alice.Access, nil), 204, "alice removes the mapping")
	h.Expect(h.Do("GET", cPath, bob.Access, nil), 404, "bob reads P in care after the mapping went")
	h.Expect(h.Do("GET", pPath, bob.Access, nil), 404, "bob reads P after the mapping went")
	if ids := h.Expect(h.Do("GET", "/api/care/patients/", bob.Access, nil), 200, "bob lists his care").IDs(t); len(ids) != 0 {
		t.Errorf("bob's care list after the mapping went: %v", ids)
	}

	// An admin removes the doctor and bob's mapping with it.
	h.Expect(h.Do("DELETE", fmt.Sprintf("/api/doctors/%d/", d2), root.Access, nil), 204, "the admin deletes the doctor")
	h.Expect(h.Do("GET", fmt.Sprintf("/api/mappings/%d/", bobsMapping), bob.Access, nil), 404, "bob's mapping went with it")
	h.Expect(h.Do("DELETE", account, root.Access, nil), 204, "the admin unlinks bob")
	if got := h.Expect(h.Do("GET", docPath, root.Access, nil), 200, "the admin reads the doctor").JSON(t); got["account"] != nil {
		t.Errorf("after unlinking: %v", got)
	} else if _, shown := got["account"]; !shown {
		t.Errorf("the admin is not shown the (null) account: %v", got)
	}
}

// TestForbiddenWriteOverRESTIsOneEvent: a refusal at the REST door stays
// a returned refusal (403 for a patient in the caller's care), recorded
// once, in the request's own transaction; the psql door raises instead
// (sql/refusals_test.go).
func TestForbiddenWriteOverRESTIsOneEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t)
	root, alice, bob := h.Signup("root"), h.Signup("alice"), h.Signup("bob")
	if _, err := h.tdb.Pool.Exec(ctx, "update app.users set is_admin = true where id = $1", root.ID); err != nil {
		t.Fatal(err)
	}
	d := h.CreateDoctor(alice, "Dr. Asha Rao", "Cardiology")
	h.Expect(h.Do("PUT", fmt.Sprintf("/api/doctors/%d/account/", d), root.Access, map[string]any{"user": bob.ID}), 200, "link bob")
	p := h.CreatePatient(alice, "Ravi Kumar", 42)
	h.Expect(h.Do("POST", "/api/mappings/", alice.Access, map[string]any{"patient": p, "doctor": d}), 201, "map P to bob's record")
	h.Expect(h.Do("PATCH", fmt.Sprintf("/api/patients/%d/", p), bob.Access, map[string]any{"age": 1}), 403, "bob patches P")
	var events []string
	rows, err := h.tdb.Pool.Query(ctx, `select door || ' ' || action || ' ' || outcome || ' ' || user_id from audit.events
	                                     where patient_id = $1 and outcome <> 'ok' order by id`, p)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []string{fmt.Sprintf("rest update forbidden %d", bob.ID)}; !slices.Equal(events, want) {
		t.Fatalf("refusal events %q, want %q", events, want)
	}
}
