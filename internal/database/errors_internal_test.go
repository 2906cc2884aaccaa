package database

import "testing"

func TestFieldFromConstraintName(t *testing.T) {
	tests := []struct{ constraint, want string }{
		{"patients_age_check", "age"},
		{"users_username_key", "username"},
		{"patient_doctors_doctor_id_fkey", "doctor"},
		{"patient_doctors_patient_id_doctor_id_key", ""},
		{"something_else", ""},
	}
	for _, tt := range tests {
		if got := fieldFromConstraint(tt.constraint); got != tt.want {
			t.Errorf("fieldFromConstraint(%q) = %q, want %q", tt.constraint, got, tt.want)
		}
	}
}
