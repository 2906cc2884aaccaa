package djangoimport_test

import (
	"context"
	"testing"
	"time"

	"healthcare/internal/audit"
	"healthcare/internal/djangoimport"
	"healthcare/internal/pgtest"
)

// An import of 100,000 patients is one transaction that writes a handful
// of summary events, not 100,000: the sealer, which hashes a transaction's
// events as one text, seals it at once, and the chain verifies. Not
// parallel: a seal covers the transactions finished cluster-wide, so
// another test's open transaction would hold it back.
func TestSealAfterImportingAHundredThousandPatients(t *testing.T) {
	const patients, users, doctors = 100_000, 10_000, 200
	tdb := pgtest.New(t)
	d := newDjango(t, tdb, "core")
	hash := pbkdf2SHA256(t, password(), 1000)
	d.exec(t, `insert into auth_user (id, password, is_superuser, username, email, is_staff, is_active, date_joined)
	             select g, $1, g = 1, 'user' || g, 'user' || g || '@example.com', false, true, now() from generate_series(1, $2::int) g`, hash, users)
	d.exec(t, `insert into core_doctor (id, name, specialization) select g, 'Dr. ' || g, 'Specialty ' || (g % 20) from generate_series(1, $1::int) g`, doctors)
	d.exec(t, `insert into core_patient (id, name, age, gender, user_id)
	             select g, 'Patient ' || g, g % 100, (array['male', 'female', 'F', 'x'])[1 + g % 4], 1 + g % $2::int
	               from generate_series(1, $1::int) g`, patients, users)
	d.exec(t, `insert into core_patientdoctor (id, patient_id, doctor_id) select g, g, 1 + g % $2::int from generate_series(1, $1::int) g`, patients, doctors)

	start := time.Now()
	rep, err := importInto(t, tdb, d, djangoimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	importTime := time.Since(start)
	if rep.Tables[2].Count != patients || rep.Tables[2].IDs() != "1-100000" {
		t.Fatalf("imported patients: %+v", rep.Tables[2])
	}
	ctx := context.Background()
	var importXact int64
	if err := tdb.Pool.QueryRow(ctx, `select xact from app.imports`).Scan(&importXact); err != nil {
		t.Fatal(err)
	}
	if n := count(t, tdb, `select count(*) from audit.events where xact = $1`, importXact); n != 4 {
		t.Fatalf("the import transaction wrote %d events, want 4 summaries", n)
	}

	start = time.Now()
	r, err := audit.Seal(ctx, tdb.Pool)
	if err != nil || !r.Sealed {
		t.Fatalf("seal after the import = %+v, %v", r, err)
	}
	sealTime := time.Since(start)
	if n := count(t, tdb, `select count(*) from audit.seals where xact_from <= $1 and $1 < xact_to`, importXact); n != 1 {
		t.Fatalf("the import's transaction is in %d seals, want 1", n)
	}
	if _, err := audit.Verify(ctx, tdb.Pool); err != nil {
		t.Fatal(err)
	}
	t.Logf("imported %d users, %d doctors, %d patients and %d mappings in %v; sealed %d events in %v",
		users, doctors, patients, patients, importTime.Round(time.Millisecond), r.Events, sealTime.Round(time.Millisecond))
}
