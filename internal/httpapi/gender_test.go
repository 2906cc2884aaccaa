package httpapi

import (
	"fmt"
	"testing"
)

// TestGenderComesBackAsSent: what a client of the system this one
// replaces posts as gender is what it reads back; the FHIR administrative
// gender is a separate field.
func TestGenderComesBackAsSent(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	u := h.Signup("gender")
	for _, c := range []struct{ sent, fhir string }{
		{"Male", "male"},
		{"Non-binary", "other"},
		{"Prefer not to say", "unknown"},
		{"F", "female"},
	} {
		t.Run(c.sent, func(t *testing.T) {
			created := h.Must("POST", "/api/patients/", u.Access, map[string]any{"name": "As Sent", "age": 30, "gender": c.sent}, 201).JSON(t)
			if created["gender"] != c.sent || created["gender_fhir"] != c.fhir {
				t.Fatalf("POST gender %q: answered gender %v gender_fhir %v, want %q and %q", c.sent, created["gender"], created["gender_fhir"], c.sent, c.fhir)
			}
			read := h.Must("GET", fmt.Sprintf("/api/patients/%v/", created["id"]), u.Access, nil, 200).JSON(t)
			if read["gender"] != c.sent || read["gender_fhir"] != c.fhir {
				t.Fatalf("GET after POST %q: gender %v gender_fhir %v", c.sent, read["gender"], read["gender_fhir"])
			}
		})
	}
	t.Run("left out, it is unknown", func(t *testing.T) {
		p := h.Must("POST", "/api/patients/", u.Access, map[string]any{"name": "No Gender", "age": 30}, 201).JSON(t)
		if p["gender"] != "unknown" || p["gender_fhir"] != "unknown" {
			t.Fatalf("gender %v gender_fhir %v, want unknown for both", p["gender"], p["gender_fhir"])
		}
		path := fmt.Sprintf("/api/patients/%v/", p["id"])
		p = h.Must("PATCH", path, u.Access, map[string]any{"gender": "  Woman "}, 200).JSON(t)
		if p["gender"] != "Woman" || p["gender_fhir"] != "female" {
			t.Fatalf("after PATCH: gender %v gender_fhir %v, want Woman (trimmed) and female", p["gender"], p["gender_fhir"])
		}
	})
}
