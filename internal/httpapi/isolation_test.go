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
	a, b := h.Signup("alice"), h.Signup("bob")
	aPatient := h.CreatePatient(a, "Alice Patient", 40)
	aDoctor := h.CreateDoctor(a, "Dr. Alice", "Oncology")
	aMapping := h.Expect(h.Do("POST", "/api/mappings/", a.Access, map[string]any{"patient": aPatient, "doctor": aDoctor}), 201, "A maps").ID(t, "id")
	bPatient := h.CreatePatient(b, "Bob Patient", 50)
	bDoctor := h.CreateDoctor(b, "Dr. Bob", "Oncology")

	before := map[string][]byte{
		"patient": h.Do("GET", fmt.Sprintf("/api/patients/%d/", aPatient), a.Access, nil).Body,
		"doctor":  h.Do("GET", fmt.Sprintf("/api/doctors/%d/", aDoctor), a.Access, nil).Body,
		"mapping": h.Do("GET", fmt.Sprintf("/api/mappings/%d/", aMapping), a.Access, nil).Body,
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
			h.Expect(h.Do(tt.method, tt.path, b.Access, tt.body), tt.want, tt.name)
		})
	}

	after := map[string][]byte{
		"patient": h.Do("GET", fmt.Sprintf("/api/patients/%d/", aPatient), a.Access, nil).Body,
		"doctor":  h.Do("GET", fmt.Sprintf("/api/doctors/%d/", aDoctor), a.Access, nil).Body,
		"mapping": h.Do("GET", fmt.Sprintf("/api/mappings/%d/", aMapping), a.Access, nil).Body,
	}
	for k := range before {
		if !bytes.Equal(before[k], after[k]) {
			t.Errorf("A's %s changed:\nbefore %s\nafter  %s", k, before[k], after[k])
		}
	}

	if ids := h.Expect(h.Do("GET", "/api/patients/", b.Access, nil), 200, "B lists patients").IDs(t); !slices.Equal(ids, []int64{bPatient}) {
		t.Errorf("B's patients = %v, want [%d]", ids, bPatient)
	}
	if ids := h.Expect(h.Do("GET", "/api/mappings/", b.Access, nil), 200, "B lists mappings").IDs(t); slices.Contains(ids, aMapping) {
		t.Errorf("B's mappings %v contain A's mapping %d", ids, aMapping)
	}
	// The doctor directory is public: B sees A's doctor but cannot change it.
	if ids := h.Expect(h.Do("GET", "/api/doctors/", b.Access, nil), 200, "B lists doctors").IDs(t); !slices.Contains(ids, aDoctor) {
		t.Errorf("the public directory %v lacks A's doctor %d", ids, aDoctor)
	}
}
