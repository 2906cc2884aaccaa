package sql_test

// Administrative acts are never held hostage (issue 24, finding 2): a
// session of the person an admin acts on, holding the locks its own work
// takes (the key-share locks a new patient and a new mapping take on the
// account's app.users row and on the doctor's row), neither stalls an
// unlink, a revocation nor a doctor's removal: each proceeds, or fails
// within seconds naming the session that blocks it.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/dbadmin"
	"healthcare/internal/pgtest"
)

// guard bounds every admin act below, so that a regression fails the test
// (statement timeout) instead of hanging it; the acts themselves must end
// long before.
const adminGuard = "10s"

// holdCarolsWork opens carol's psql transaction, over her own login: she
// registers a patient (a key-share lock on her app.users row) and maps it
// to her own doctor record, doctorA (a key-share lock on that row), and
// leaves the transaction open until the test ends. It returns her
// backend's pid.
func holdCarolsWork(t *testing.T, f *fixture) int {
	t.Helper()
	return holdWorkAs(t, f, loginPsqlCarol)
}

func holdWorkAs(t *testing.T, f *fixture, login string) int {
	t.Helper()
	ctx := context.Background()
	tx := f.db.OpenTx(t, login)
	var patient int64
	if err := tx.QueryRow(ctx, "select (api.create_patient('Held Open', 40, 'female') ->> 'id')::bigint").Scan(&patient); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf("select api.create_mapping(%d, %d)", patient, f.doctorA)); err != nil {
		t.Fatal(err)
	}
	var pid int
	if err := tx.QueryRow(ctx, "select pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return pid
}

// adminCall runs stmt as the REST server does for the admin, under the
// guard, and returns its result, its error and how long it took.
func adminCall(t *testing.T, f *fixture, stmt string) (string, error, time.Duration) {
	t.Helper()
	var body string
	var callErr error
	var took time.Duration
	withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
		tx := asCaller(t, ctx, conn, f, &admin)
		defer func() { _ = tx.Rollback(ctx) }()
		if _, err := tx.Exec(ctx, "set local statement_timeout = '"+adminGuard+"'"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		callErr = tx.QueryRow(ctx, stmt).Scan(&body)
		took = time.Since(start)
		if callErr == nil {
			callErr = tx.Commit(ctx)
		}
	})
	return body, callErr, took
}

// privileged runs fn on a connection of the privileged login (a superuser
// here), under the guard.
func privileged(t *testing.T, f *fixture, fn func(ctx context.Context, conn *pgx.Conn) error) (error, time.Duration) {
	t.Helper()
	var err error
	var took time.Duration
	withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
		if _, err := conn.Exec(ctx, "set statement_timeout = '"+adminGuard+"'"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err = fn(ctx, conn)
		took = time.Since(start)
	})
	return err, took
}

func linkedAccount(t *testing.T, f *fixture, doctor int64) *int64 {
	t.Helper()
	var acct *int64
	if err := f.db.Pool.QueryRow(context.Background(), "select account_id from app.doctors where id = $1", doctor).Scan(&acct); err != nil {
		t.Fatal(err)
	}
	return acct
}

func TestAdminActsAreNotHeldHostage(t *testing.T) {
	t.Parallel()
	t.Run("DELETE /api/doctors/<id>/account/ unlinks while the doctor's mapping is open", func(t *testing.T) {
		t.Parallel()
		f := newCareFixture(t)
		holdCarolsWork(t, f)
		_, err, took := adminCall(t, f, fmt.Sprintf("select api.unlink_doctor_account(%d)::text", f.doctorA))
		t.Logf("unlink over REST took %v", took)
		if err != nil {
			t.Fatalf("unlink while carol's transaction is open: %v", err)
		}
		if acct := linkedAccount(t, f, f.doctorA); acct != nil {
			t.Fatalf("doctor %d is still linked to %d", f.doctorA, *acct)
		}
	})
	t.Run("healthcare doctor unlink unlinks while the doctor's mapping is open", func(t *testing.T) {
		t.Parallel()
		f := newCareFixture(t)
		holdCarolsWork(t, f)
		err, took := privileged(t, f, func(ctx context.Context, conn *pgx.Conn) error {
			_, err := dbadmin.UnlinkDoctor(ctx, conn, f.doctorA)
			return err
		})
		t.Logf("healthcare doctor unlink took %v", took)
		if err != nil {
			t.Fatalf("unlink while carol's transaction is open: %v", err)
		}
		if acct := linkedAccount(t, f, f.doctorA); acct != nil {
			t.Fatalf("doctor %d is still linked to %d", f.doctorA, *acct)
		}
	})
	t.Run("healthcare db-access revoke unlinks the login while its owner's new patient is open", func(t *testing.T) {
		t.Parallel()
		f := newCareFixture(t)
		// Logins are shared by the test databases: carol gets one of her own
		// here, which the revocation takes healthcare_user from.
		login := "sqltest_psql_revoked_" + strings.TrimPrefix(f.db.Name, "pgtest_")
		f.db.EnsureLogin(t, login, "healthcare_user")
		t.Cleanup(func() {
			_, _ = f.db.Pool.Exec(context.Background(), "drop role if exists "+pgx.Identifier{login}.Sanitize())
		})
		if _, err := f.db.Pool.Exec(context.Background(), "update app.users set db_role = $2 where id = $1", f.userC, login); err != nil {
			t.Fatal(err)
		}
		holdWorkAs(t, f, login)
		err, took := privileged(t, f, func(ctx context.Context, conn *pgx.Conn) error {
			_, err := dbadmin.RevokeAccess(ctx, conn, "carol", false)
			return err
		})
		t.Logf("healthcare db-access revoke took %v", took)
		if err != nil {
			t.Fatalf("revoke while carol's transaction is open: %v", err)
		}
		var role *string
		if err := f.db.Pool.QueryRow(context.Background(), "select db_role::text from app.users where id = $1", f.userC).Scan(&role); err != nil {
			t.Fatal(err)
		}
		if role != nil {
			t.Fatalf("carol is still linked to login %s", *role)
		}
	})
	t.Run("DELETE /api/doctors/<id>/ fails within seconds naming the open mapping's session", func(t *testing.T) {
		t.Parallel()
		f := newCareFixture(t)
		pid := holdCarolsWork(t, f)
		_, err, took := adminCall(t, f, fmt.Sprintf("select api.delete_doctor(%d)::text", f.doctorA))
		t.Logf("delete over REST answered after %v: %v", took, err)
		pe := pgtest.PgError(err)
		if pe.Code != "55P03" {
			t.Fatalf("delete while carol's mapping is open: %v; want lock_not_available (55P03) naming her session", err)
		}
		for _, want := range []string{fmt.Sprintf("pid %d", pid), loginPsqlCarol} {
			if !strings.Contains(pe.Message+" "+pe.Detail, want) {
				t.Errorf("error %q (detail %q) does not name %q", pe.Message, pe.Detail, want)
			}
		}
		if took > 10*time.Second {
			t.Errorf("the refusal took %v; want a few seconds", took)
		}
	})
	t.Run("an unlink held by the doctor's own open edit fails within seconds naming her session", func(t *testing.T) {
		t.Parallel()
		f := newCareFixture(t)
		ctx := context.Background()
		tx := f.db.OpenTx(t, loginPsqlCarol)
		var pid int
		if err := tx.QueryRow(ctx, fmt.Sprintf("select pg_backend_pid() from (select api.update_doctor(%d, 'Dr Held')) u", f.doctorA)).Scan(&pid); err != nil {
			t.Fatal(err)
		}
		_, err, took := adminCall(t, f, fmt.Sprintf("select api.unlink_doctor_account(%d)::text", f.doctorA))
		t.Logf("unlink over REST answered after %v: %v", took, err)
		pe := pgtest.PgError(err)
		if pe.Code != "55P03" || !strings.Contains(pe.Message, fmt.Sprintf("pid %d", pid)) || !strings.Contains(pe.Message, loginPsqlCarol) {
			t.Fatalf("unlink while carol's edit is open: %v; want 55P03 naming pid %d (%s)", err, pid, loginPsqlCarol)
		}
		if took > 10*time.Second {
			t.Errorf("the refusal took %v; want a few seconds", took)
		}
	})
	t.Run("healthcare user deactivate goes through while the account's new patient is open", func(t *testing.T) {
		t.Parallel()
		f := newCareFixture(t)
		holdCarolsWork(t, f)
		err, took := privileged(t, f, func(ctx context.Context, conn *pgx.Conn) error {
			_, err := dbadmin.ChangeUser(ctx, conn, "carol", dbadmin.ChangeDeactivate, "")
			return err
		})
		t.Logf("healthcare user deactivate took %v", took)
		if err != nil {
			t.Fatalf("deactivate while carol's transaction is open: %v", err)
		}
		var active bool
		if err := f.db.Pool.QueryRow(context.Background(), "select is_active from app.users where id = $1", f.userC).Scan(&active); err != nil || active {
			t.Fatalf("carol is_active = %v (%v); want false", active, err)
		}
	})
}
