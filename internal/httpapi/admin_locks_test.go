package httpapi

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestAdminRoutesAreNotHeldHostage (issue 24, finding 2) at the REST door:
// the linked doctor's psql session maps a new patient of hers to her own
// doctor record and keeps the transaction open. An admin's unlink is
// answered at once; an admin's removal of that doctor, which must wait for
// the mapping to commit or not, is answered 409 (locked) with Retry-After within
// seconds, naming her session.
func TestAdminRoutesAreNotHeldHostage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	doc, admin := h.Signup("heldoc"), h.Signup("heldadmin")
	makeAdmin(t, h, admin)
	doctor := h.CreateDoctor(admin, "Dr Held", "Cardiology")
	dpath := fmt.Sprintf("/api/doctors/%d/", doctor)
	h.Expect(h.Do("PUT", dpath+"account/", admin.Access, map[string]any{"user": doc.ID}), 200, "link")

	login := "httpapi_held_" + strings.TrimPrefix(h.tdb.Name, "pgtest_")
	h.tdb.EnsureLogin(t, login, "healthcare_user")
	t.Cleanup(func() {
		_, _ = h.tdb.Pool.Exec(context.Background(), "drop role if exists "+pgx.Identifier{login}.Sanitize())
	})
	if _, err := h.tdb.Pool.Exec(ctx, "update app.users set db_role = $2 where id = $1", doc.ID, login); err != nil {
		t.Fatal(err)
	}
	tx := h.tdb.OpenTx(t, login)
	var pid int
	if err := tx.QueryRow(ctx, fmt.Sprintf(`select pg_backend_pid() from (select api.create_mapping((api.create_patient('Held', 30, 'female') ->> 'id')::bigint, %d)) m`, doctor)).Scan(&pid); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	r := h.Do("DELETE", dpath, admin.Access, nil)
	took := time.Since(start)
	t.Logf("DELETE %s while her mapping is open: %d after %v: %s", dpath, r.Status, took, r.Body)
	if r.Status != 409 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("admin's delete: status %d, Retry-After %q; want 409 (locked) with Retry-After", r.Status, r.Header.Get("Retry-After"))
	}
	if !strings.Contains(string(r.Body), fmt.Sprintf("pid %d", pid)) || !strings.Contains(string(r.Body), login) {
		t.Errorf("the answer does not name her session (pid %d, login %s): %s", pid, login, r.Body)
	}
	if took > 10*time.Second {
		t.Errorf("the delete took %v; want a few seconds", took)
	}

	start = time.Now()
	r = h.Do("DELETE", dpath+"account/", admin.Access, nil)
	t.Logf("DELETE %saccount/ while her mapping is open: %d after %v", dpath, r.Status, time.Since(start))
	h.Expect(r, 204, "admin's unlink while her mapping is open")
	if strings.Contains(string(h.Expect(h.Do("GET", dpath, admin.Access, nil), 200, "read").Body), fmt.Sprintf(`"account" : %d`, doc.ID)) {
		t.Fatal("the doctor is still linked")
	}
}
