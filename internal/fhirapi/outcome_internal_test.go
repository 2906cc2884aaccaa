package fhirapi

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"healthcare/internal/database"
)

// TestBusyAndLockedAreNotServerErrors: a caller over its limit of calls in
// flight, and a record another session holds, are answered as the REST
// routes answer them (429 and 409, each with Retry-After), never 500.
func TestBusyAndLockedAreNotServerErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		err    error
		status int
	}{
		{"busy", fmt.Errorf("call fhir.patient: %w", database.ErrBusy), http.StatusTooManyRequests},
		{"locked", fmt.Errorf("call fhir.patient_update: %w", &pgconn.PgError{Code: "55P03", Message: "canceling statement due to lock timeout"}), http.StatusConflict},
	} {
		o := toOutcome(c.err)
		if o.status != c.status || o.headers["Retry-After"] == "" {
			t.Errorf("%s: status %d, headers %v; want %d with Retry-After", c.name, o.status, o.headers, c.status)
		}
	}
}
