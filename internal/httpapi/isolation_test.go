package httpapi

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
)

// TestUsersCannotReachEachOthersRecords: user B tries every operation on
// user A's records. PostgreSQL's policies answer; Go only relays.
func TestUsersCannotReachEachOthersRecords(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a, b := h.signup("alice"), h.signup("bob")
	aPatient := h.createPatient(a, "Alice Patient", 40)
	aDoctor := h.createDoctor(a, "Dr. Alice", "Oncology")
	aMapping := h.expect(h.do("POST", "/api/mappings/", a.access, map[string]any{"patient": aPatient, "doctor": aDoctor}), 201, "A maps").id(t, "id")
	bPatient := h.createPatient(b, "Bob Patient", 50)
	bDoctor := h.createDoctor(b, "Dr. Bob", "Oncology")

	before := map[string][]byte{
		"patient": h.do("GET", fmt.Sprintf("/api/patients/%d/", aPatient), a.access, nil).body,
		"doctor":  h.do("GET", fmt.Sprintf("/api/doctors/%d/", aDoctor), a.access, nil).body,
		"mapping": h.do("GET", fmt.Sprintf("/api/mappings/%d/", aMapping), a.access, nil).body,
	}

	patient := fmt.Sprintf("/api/patients/%d/", aPatient)
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		want   int
	}{
		{"B cannot read A's patient", "GET", patient, nil, 404},
		{"B cannot replace A's patient", "PUT", patient, map[string]any{"name": "x", "age": 1, "gender": "m"}, 404},
		{"B cannot patch A's patient", "PATCH", patient, map[string]any{"age": 1}, 404},
		{"B cannot delete A's patient", "DELETE", patient, nil, 404},
		{"B cannot rename A's doctor", "PUT", fmt.Sprintf("/api/doctors/%d/", aDoctor), map[string]any{"name": "x", "specialization": "y"}, 403},
		{"B cannot patch A's doctor", "PATCH", fmt.Sprintf("/api/doctors/%d/", aDoctor), map[string]any{"name": "x"}, 403},
		{"B cannot delete A's doctor", "DELETE", fmt.Sprintf("/api/doctors/%d/", aDoctor), nil, 403},
		{"B cannot map A's patient", "POST", "/api/mappings/", map[string]any{"patient": aPatient, "doctor": bDoctor}, 404},
		{"B cannot list A's patient's doctors", "GET", fmt.Sprintf("/api/mappings/patient/%d/", aPatient), nil, 404},
		{"B cannot read A's mapping", "GET", fmt.Sprintf("/api/mappings/%d/", aMapping), nil, 404},
		{"B cannot delete A's mapping", "DELETE", fmt.Sprintf("/api/mappings/%d/", aMapping), nil, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.expect(h.do(tt.method, tt.path, b.access, tt.body), tt.want, tt.name)
		})
	}

	after := map[string][]byte{
		"patient": h.do("GET", fmt.Sprintf("/api/patients/%d/", aPatient), a.access, nil).body,
		"doctor":  h.do("GET", fmt.Sprintf("/api/doctors/%d/", aDoctor), a.access, nil).body,
		"mapping": h.do("GET", fmt.Sprintf("/api/mappings/%d/", aMapping), a.access, nil).body,
	}
	for k := range before {
		if !bytes.Equal(before[k], after[k]) {
			t.Errorf("A's %s changed:\nbefore %s\nafter  %s", k, before[k], after[k])
		}
	}

	if ids := listIDs(t, h.expect(h.do("GET", "/api/patients/", b.access, nil), 200, "B lists patients")); !slices.Equal(ids, []int64{bPatient}) {
		t.Errorf("B's patients = %v, want [%d]", ids, bPatient)
	}
	if ids := listIDs(t, h.expect(h.do("GET", "/api/mappings/", b.access, nil), 200, "B lists mappings")); slices.Contains(ids, aMapping) {
		t.Errorf("B's mappings %v contain A's mapping %d", ids, aMapping)
	}
	// The doctor directory is public: B sees A's doctor but cannot change it.
	if ids := listIDs(t, h.expect(h.do("GET", "/api/doctors/", b.access, nil), 200, "B lists doctors")); !slices.Contains(ids, aDoctor) {
		t.Errorf("the public directory %v lacks A's doctor %d", ids, aDoctor)
	}
}
