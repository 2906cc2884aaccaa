package sql_test

// Versions and history at the psql door (migration 014): a person's
// updates go through the same versioned api functions as the REST
// server's, with the version they read as the optional last argument.

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/pgtest"
)

// psqlTx runs fn in a transaction as psql login A and commits it unless fn
// returns an error, which it hands back.
func psqlTx(t *testing.T, f *fixture, fn func(ctx context.Context, tx pgx.Tx) error) error {
	t.Helper()
	var out error
	withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
		tx := asCaller(t, ctx, conn, f, &psqlA)
		defer func() { _ = tx.Rollback(ctx) }()
		if out = fn(ctx, tx); out != nil {
			return
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	})
	return out
}

func TestPsqlUpdatesWithAnExpectedVersion(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var version int
	err := psqlTx(t, f, func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, "select version from records.patients where id = $1", f.patientA).Scan(&version)
	})
	if err != nil || version != 1 {
		t.Fatalf("records.patients shows version %d (%v), want 1", version, err)
	}

	// The version read: the update goes through and makes version 2.
	var body string
	err = psqlTx(t, f, func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, "select api.update_patient($1, p_name => 'Ann Changed', p_version => 1)::text", f.patientA).Scan(&body)
	})
	if err != nil {
		t.Fatalf("update with the current version: %v", err)
	}
	var got struct {
		Version int
		Name    string
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || got.Version != 2 || got.Name != "Ann Changed" {
		t.Fatalf("update answered %s (%v), want version 2", body, err)
	}

	// The same version again is stale: RSTAL naming the current version,
	// and nothing written.
	err = psqlTx(t, f, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "select api.update_patient($1, p_name => 'Ann Lost', p_version => 1)", f.patientA)
		return err
	})
	if pgErr := pgtest.PgError(err); pgErr.Code != "RSTAL" || pgErr.Detail != "current_version=2" || !strings.Contains(pgErr.Message, "version 2") {
		t.Fatalf("stale update: %v, want RSTAL with DETAIL current_version=2", err)
	}
	err = psqlTx(t, f, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "select api.delete_patient($1, 1)", f.patientA)
		return err
	})
	if code := pgtest.PgError(err).Code; code != "RSTAL" {
		t.Fatalf("stale delete: %v, want RSTAL", err)
	}
	var name string
	var stored int
	if err := f.db.Pool.QueryRow(context.Background(), "select name, version from app.patients where id = $1", f.patientA).Scan(&name, &stored); err != nil ||
		name != "Ann Changed" || stored != 2 {
		t.Fatalf("stored %q version %d (%v), want Ann Changed at version 2", name, stored, err)
	}

	// Someone else's patient: the same refusal as without a version, never
	// its version (raised, as every refusal at the psql door).
	err = psqlTx(t, f, func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, "select api.update_patient($1, p_name => 'X', p_version => 1)::text", f.patientB).Scan(&body)
	})
	if pgErr := pgtest.PgError(err); pgErr.Code != "RNTFD" || strings.Contains(pgErr.Message, "version") {
		t.Fatalf("update of B's patient by A: %v, want the RNTFD refusal", err)
	}
	// Old calls without a version keep working, and a trigger keeps the
	// version whoever writes: the superuser's direct update makes 3.
	err = psqlTx(t, f, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "select api.update_doctor($1, 'Dr Alpha Two')", f.doctorA)
		return err
	})
	if err != nil {
		t.Fatalf("update_doctor without a version: %v", err)
	}
	if _, err := f.db.Pool.Exec(context.Background(), "update app.patients set age = 35, version = 100 where id = $1", f.patientA); err != nil {
		t.Fatal(err)
	}

	// The history through the same door: every version, who and how.
	err = psqlTx(t, f, func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, "select api.patient_history($1)::text", f.patientA).Scan(&body)
	})
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Count   int
		Results []struct {
			Version   int
			Action    string
			Door      string
			ChangedBy *int64 `json:"changed_by"`
			Values    struct {
				Name string
				Age  int
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &page); err != nil {
		t.Fatal(err)
	}
	// The fixture's insert predates nothing: it is version 1's create, by
	// the superuser (no app user, the admin door).
	if page.Count != 3 || len(page.Results) != 3 {
		t.Fatalf("history %s, want 3 entries", body)
	}
	first, second, third := page.Results[0], page.Results[1], page.Results[2]
	if first.Version != 3 || first.Door != "admin" || first.ChangedBy != nil || first.Values.Age != 35 {
		t.Errorf("newest entry %+v, want version 3 (not 100: the trigger decides) by the admin door", first)
	}
	if second.Version != 2 || second.Door != "psql" || second.ChangedBy == nil || *second.ChangedBy != f.userA || second.Values.Name != "Ann Changed" {
		t.Errorf("second entry %+v, want version 2 by user A over psql", second)
	}
	if third.Version != 1 || third.Action != "create" || third.Values.Name != "Ann Alpha" {
		t.Errorf("oldest entry %+v, want the create of version 1", third)
	}
	err = psqlTx(t, f, func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, "select api.doctor_version($1, 2)::text", f.doctorA).Scan(&body)
	})
	if err != nil || !strings.Contains(body, `"name" : "Dr Alpha Two"`) {
		t.Fatalf("doctor version 2 over psql: %s %v", body, err)
	}
}
