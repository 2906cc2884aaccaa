package audit_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/audit"
	"healthcare/internal/pgtest"
)

// TestPruneNeverStallsTheTrail (issue 24, finding 8): an auditor's psql
// session holds a read of the trail open. The prune does not queue for the
// partition it would drop in front of everyone else: while it waits, the
// REST server's reads of the trail (an owner's access log) are answered,
// and the prune gives up within seconds naming the session that holds it.
// Once that session ends, the prune goes through.
func TestPruneNeverStallsTheTrail(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	auditorLogin := "audit_test_auditor"
	db.EnsureLogin(t, auditorLogin, "healthcare_auditor")
	now := time.Now().UTC()
	old := time.Date(now.Year()-3, now.Month(), 1, 0, 0, 0, 0, time.UTC)
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `set local role healthcare_audit`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `select audit.create_partitions($1::date, 1)`, old)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `insert into audit.events (at, door, action, outcome, detail) values ($1, 'admin', 'read', 'ok', '{}')`, old.AddDate(0, 0, 3)); err != nil {
		t.Fatal(err)
	}
	owner := pgtest.CreateUser(t, db.Pool, "owner")
	var patient int64
	if err := db.Pool.QueryRow(ctx, `insert into app.patients (owner_id, name, age, gender) values ($1, 'Pat', 40, 'female') returning id`, owner).Scan(&patient); err != nil {
		t.Fatal(err)
	}

	// The auditor reads the trail and keeps the transaction open.
	held := db.OpenTx(t, auditorLogin)
	var n int
	if err := held.QueryRow(ctx, "select count(*) from audit.events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	var auditorPID int
	if err := held.QueryRow(ctx, "select pg_backend_pid()").Scan(&auditorPID); err != nil {
		t.Fatal(err)
	}

	// The prune, over the privileged connection, guarded so that a
	// regression fails instead of hanging.
	type result struct {
		dropped []string
		err     error
		took    time.Duration
	}
	pruned := make(chan result, 1)
	go func() {
		conn, err := db.Pool.Acquire(ctx)
		if err != nil {
			pruned <- result{err: err}
			return
		}
		defer conn.Release()
		_, _ = conn.Exec(ctx, "set statement_timeout = '20s'")
		defer func() { _, _ = conn.Exec(context.Background(), "reset statement_timeout") }()
		start := time.Now()
		d, err := audit.Prune(ctx, conn, 365*24*time.Hour, now)
		pruned <- result{d, err, time.Since(start)}
	}()

	// Meanwhile the owner reads her access log over REST, several times.
	app := db.AppPool(t)
	time.Sleep(200 * time.Millisecond)
	var slowest time.Duration
	for i := 0; i < 5; i++ {
		err := pgx.BeginFunc(ctx, app, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "select set_config('app.user_id', $1, true), set_config('statement_timeout', '5s', true)", fmt.Sprint(owner)); err != nil {
				return err
			}
			start := time.Now()
			var body string
			err := tx.QueryRow(ctx, "select api.patient_access_log($1)::text", patient).Scan(&body)
			if took := time.Since(start); took > slowest {
				slowest = took
			}
			return err
		})
		if err != nil {
			t.Fatalf("the owner's access log while the prune waits: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("slowest access-log read while the prune waited: %v", slowest)
	if slowest > 2*time.Second {
		t.Errorf("an access-log read took %v while the prune waited; want it answered at once", slowest)
	}

	r := <-pruned
	t.Logf("prune gave up after %v: %v", r.took, r.err)
	pe := pgtest.PgError(r.err)
	if pe.Code != "55P03" {
		t.Fatalf("prune while the auditor's read is open = %v, %v; want lock_not_available (55P03)", r.dropped, r.err)
	}
	for _, want := range []string{fmt.Sprintf("pid %d", auditorPID), auditorLogin} {
		if !strings.Contains(pe.Message, want) {
			t.Errorf("prune error %q does not name %q", pe.Message, want)
		}
	}
	if r.took > 15*time.Second {
		t.Errorf("prune gave up after %v; want a few seconds", r.took)
	}

	// Once the auditor's transaction ends, the prune goes through.
	if err := held.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	dropped, err := audit.Prune(ctx, db.Pool, 365*24*time.Hour, now)
	if err != nil || len(dropped) == 0 {
		t.Fatalf("prune after the read ended = %v, %v", dropped, err)
	}
}
