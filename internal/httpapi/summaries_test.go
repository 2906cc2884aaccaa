package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"healthcare/internal/openapi/openapitest"
)

// TestPatientSummariesSayWhatAdminsGet: an admin's GET /api/patients/
// (and /api/mappings/) holds only their own patients, while the routes by
// id reach anyone's; the document's summaries say so, and none promises an
// admin "all patients" in the list.
func TestPatientSummariesSayWhatAdminsGet(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	owner, admin := h.Signup("owner"), h.Signup("admin")
	makeAdmin(t, h, admin)
	other := h.CreatePatient(owner, "Owner's patient", 40)
	mine := h.CreatePatient(admin, "Admin's patient", 50)

	if ids := h.Must("GET", "/api/patients/", admin.Access, nil, 200).IDs(t); len(ids) != 1 || ids[0] != mine {
		t.Fatalf("an admin's list: %v, want only their own patient %d", ids, mine)
	}
	h.Must("GET", fmt.Sprintf("/api/patients/%d/", other), admin.Access, nil, 200)
	h.Must("PATCH", fmt.Sprintf("/api/patients/%d/", other), admin.Access, map[string]any{"age": 41}, 200)
	// Mappings: an admin maps, reads and removes those of anyone's
	// patient, while their list holds only their own patients' mappings.
	doctor := h.CreateDoctor(owner, "Dr. Summary", "Cardiology")
	mapping := h.Must("POST", "/api/mappings/", admin.Access, map[string]any{"patient": other, "doctor": doctor}, 201).ID(t, "id")
	h.Must("GET", fmt.Sprintf("/api/mappings/%d/", mapping), admin.Access, nil, 200)
	h.Must("GET", fmt.Sprintf("/api/mappings/patient/%d/", other), admin.Access, nil, 200)
	if ids := h.Must("GET", "/api/mappings/", admin.Access, nil, 200).IDs(t); len(ids) != 0 {
		t.Fatalf("an admin's mapping list: %v, want none (they own no mapped patient)", ids)
	}
	h.Must("DELETE", fmt.Sprintf("/api/mappings/%d/", mapping), admin.Access, nil, 204)

	doc, err := openapitest.Document()
	if err != nil {
		t.Fatal(err)
	}
	item := doc.Paths.Find("/api/patients/")
	list := item.GetOperation(http.MethodGet).Summary
	if strings.Contains(list, "all patients") || !strings.Contains(list, "own") || !strings.Contains(list, "admin") {
		t.Errorf("GET /api/patients/ summary %q: want it to say an admin's list holds their own patients", list)
	}
	if s := doc.Paths.Find("/api/mappings/").GetOperation(http.MethodGet).Summary; !strings.Contains(s, "own") {
		t.Errorf("GET /api/mappings/ summary %q: want it to say the list holds your own patients' mappings", s)
	}
	for path, methods := range map[string][]string{
		"/api/mappings/":                      {http.MethodPost},
		"/api/mappings/{id}/":                 {http.MethodGet, http.MethodDelete},
		"/api/mappings/patient/{patient_id}/": {http.MethodGet},
	} {
		for _, m := range methods {
			if s := doc.Paths.Find(path).GetOperation(m).Summary; !strings.Contains(s, "admin") {
				t.Errorf("%s %s summary %q does not say what an admin may do", m, path, s)
			}
		}
	}
	one := doc.Paths.Find("/api/patients/{id}/")
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if s := one.GetOperation(m).Summary; !strings.Contains(s, "admin") {
			t.Errorf("%s /api/patients/{id}/ summary %q does not say an admin reaches any patient", m, s)
		}
	}
}
