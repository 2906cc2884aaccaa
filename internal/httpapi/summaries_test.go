package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"healthcare/internal/openapi/openapitest"
)

// TestPatientSummariesSayWhatAdminsGet: an admin's GET /api/patients/
// holds only their own patients, while GET, PUT, PATCH and DELETE by id
// reach anyone's; the document's summaries say so, and none promises an
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

	doc, err := openapitest.Document()
	if err != nil {
		t.Fatal(err)
	}
	item := doc.Paths.Find("/api/patients/")
	list := item.GetOperation(http.MethodGet).Summary
	if strings.Contains(list, "all patients") || !strings.Contains(list, "own") || !strings.Contains(list, "admin") {
		t.Errorf("GET /api/patients/ summary %q: want it to say an admin's list holds their own patients", list)
	}
	one := doc.Paths.Find("/api/patients/{id}/")
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if s := one.GetOperation(m).Summary; !strings.Contains(s, "admin") {
			t.Errorf("%s /api/patients/{id}/ summary %q does not say an admin reaches any patient", m, s)
		}
	}
}
