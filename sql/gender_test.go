package sql_test

// A patient's gender comes back as it was sent (migration 012); the FHIR
// administrative gender is derived from it, and reporting counts only the
// derived one.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/database"
	"healthcare/internal/pgtest"
)

func TestGenderIsStoredAsSentWithItsFHIRGender(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	type patient struct {
		ID         int64  `json:"id"`
		Gender     string `json:"gender"`
		GenderFHIR string `json:"gender_fhir"`
	}
	callAPI := func(t *testing.T, sql string, args ...any) (patient, error) {
		t.Helper()
		var p patient
		var err error
		withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
			tx := asCaller(t, ctx, conn, f, &apiA)
			defer func() { _ = tx.Commit(ctx) }()
			var raw string
			if err = tx.QueryRow(ctx, sql, args...).Scan(&raw); err != nil {
				return
			}
			if jerr := json.Unmarshal([]byte(raw), &p); jerr != nil {
				t.Fatal(jerr)
			}
		})
		return p, err
	}
	for _, c := range []struct {
		sent       any // nil: left out
		gender     string
		genderFHIR string
	}{
		{"Male", "Male", "male"},
		{"female", "female", "female"},
		{"  Female  ", "Female", "female"},
		{"M", "M", "male"},
		{"woman", "woman", "female"},
		{"Non-binary", "Non-binary", "other"},
		{"Prefer not to say", "Prefer not to say", "unknown"},
		{"N/A", "N/A", "unknown"},
		{"Two-spirit", "Two-spirit", "other"},
		{"", "", "unknown"},
		{nil, "unknown", "unknown"},
		{strings.Repeat("é", 100), strings.Repeat("é", 100), "other"},
	} {
		t.Run(fmt.Sprintf("%q", c.sent), func(t *testing.T) {
			p, err := callAPI(t, "select api.create_patient('As Sent', 40, $1)::text", c.sent)
			if err != nil {
				t.Fatalf("api.create_patient refused %q: %v", c.sent, err)
			}
			if p.Gender != c.gender || p.GenderFHIR != c.genderFHIR {
				t.Fatalf("sent %q: gender %q gender_fhir %q, want %q and %q", c.sent, p.Gender, p.GenderFHIR, c.gender, c.genderFHIR)
			}
			// What is stored is what is returned, also in the psql view.
			var stored, fhir string
			if err := f.db.Pool.QueryRow(context.Background(), "select gender, gender_fhir from app.patients where id = $1", p.ID).Scan(&stored, &fhir); err != nil {
				t.Fatal(err)
			}
			if stored != c.gender || fhir != c.genderFHIR {
				t.Fatalf("stored %q / %q, want %q / %q", stored, fhir, c.gender, c.genderFHIR)
			}
		})
	}
	t.Run("an update keeps what it was sent, and null keeps the old value", func(t *testing.T) {
		p, err := callAPI(t, "select api.update_patient($1, null, null, 'Genderqueer')::text", f.patientA)
		if err != nil || p.Gender != "Genderqueer" || p.GenderFHIR != "other" {
			t.Fatalf("update to Genderqueer: %+v, %v", p, err)
		}
		p, err = callAPI(t, "select api.update_patient($1, 'Renamed', null, null)::text", f.patientA)
		if err != nil || p.Gender != "Genderqueer" {
			t.Fatalf("update without gender: %+v, %v", p, err)
		}
	})
	t.Run("101 characters are refused naming gender", func(t *testing.T) {
		_, err := callAPI(t, "select api.create_patient('Too Long', 40, $1)::text", strings.Repeat("x", 101))
		pgErr := pgtest.PgError(err)
		if code, column := pgErr.Code, pgErr.ColumnName; code != "RINVL" || column != "gender" {
			t.Fatalf("%v: SQLSTATE %q column %q, want RINVL on gender", err, code, column)
		}
	})
	t.Run("the psql view shows both", func(t *testing.T) {
		withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
			tx := asCaller(t, ctx, conn, f, &psqlA)
			defer func() { _ = tx.Rollback(ctx) }()
			var got string
			if err := tx.QueryRow(ctx, "select gender || '/' || gender_fhir from records.patients where id = $1", f.patientA).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != "Genderqueer/other" {
				t.Fatalf("records.patients shows %q, want Genderqueer/other", got)
			}
		})
	})
}

// TestOldGendersSurviveTheMigration: rows written before migration 012
// (when only the four FHIR values could be stored) keep their value, and
// going back down turns free text into its FHIR gender.
func TestOldGendersSurviveTheMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "sqltest_gender_" + hex.EncodeToString(b)
	if _, err := db.Pool.Exec(ctx, "create database "+name+" template template0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = db.Pool.Exec(context.Background(), "drop database if exists "+name+" with (force)") })
	conn := connect(t, db, name)
	if err := database.MigrateTo(ctx, conn, 11); err != nil {
		t.Fatalf("migrate to 11: %v", err)
	}
	old := []string{"male", "female", "other", "unknown"}
	before := pgtest.CreateUser(t, conn, "before")
	if _, err := conn.Exec(ctx, `
		insert into app.patients (owner_id, name, age, gender)
		select $1, 'Old ' || g, 40, g from unnest($2::text[]) g`, before, old); err != nil {
		t.Fatal(err)
	}
	if err := database.Migrate(ctx, conn); err != nil {
		t.Fatalf("migrate up from 11: %v", err)
	}
	rows, err := conn.Query(ctx, "select name, gender, gender_fhir, app.patient_json(p)::text from app.patients p order by id")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([4]string, error) {
		var s [4]string
		err := r.Scan(&s[0], &s[1], &s[2], &s[3])
		return s, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(old) {
		t.Fatalf("%d patients after the migration, want %d", len(got), len(old))
	}
	for i, g := range got {
		if g[0] != "Old "+old[i] || g[1] != old[i] || g[2] != old[i] {
			t.Errorf("patient %q: gender %q gender_fhir %q, want %q for both", g[0], g[1], g[2], old[i])
		}
		if !strings.Contains(g[3], `"gender" : "`+old[i]+`"`) || !strings.Contains(g[3], `"gender_fhir" : "`+old[i]+`"`) {
			t.Errorf("patient_json %s does not carry gender and gender_fhir %q", g[3], old[i])
		}
	}
}

// TestReportingCountsTheFHIRGender: the free text never reaches a
// reporting cell; spellings of one FHIR gender count together.
func TestReportingCountsTheFHIRGender(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	db.EnsureLogin(t, loginReporting, "healthcare_reporting")
	owners := pgtest.CreateUsers(t, db.Pool, "owner", 20)
	// 24 patients aged 20 as male, spelt four ways, and 24 as Non-binary or
	// Genderqueer (other). Apart, no spelling would be published: 6
	// patients, of whom the largest contributor holds one.
	for _, g := range []string{"Male", "male", "M", "man"} {
		seedPatients(t, db, owners, 6, 20, g)
	}
	seedPatients(t, db, owners, 12, 20, "Non-binary")
	seedPatients(t, db, owners, 12, 20, "Genderqueer")
	var labels []string
	for _, r := range reportRows(t, db, "reporting.patients_by_age_band") {
		parts := strings.Split(r, "|")
		if parts[0] != "18-29" {
			continue
		}
		labels = append(labels, parts[1])
		if parts[3] != "false" {
			t.Errorf("cell %s is suppressed: the spellings were not counted together", r)
		}
	}
	if !slices.Equal(labels, []string{"male", "other"}) {
		t.Fatalf("18-29 cells by %v, want [male other] (FHIR genders, never the text sent)", labels)
	}
}
