package sql_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"healthcare/internal/dbadmin"
	"healthcare/internal/pgtest"
)

// TestAccountChangesAreEvents (issue 24): granting and revoking admin,
// deactivating and activating, and linking and unlinking a psql login are
// audit events whoever makes them (plain SQL, db-access, the user
// commands), one per change, without the password hash; a password change
// by SQL alone is not one of them, and the user command records its own.
func TestAccountChangesAreEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	type ev struct {
		Change        string `json:"change"`
		User          int64  `json:"user"`
		SessionsEnded *int   `json:"sessions_ended"`
		Before        map[string]any
		After         map[string]any
	}
	since := func(after int64) ([]ev, []string) {
		t.Helper()
		rows, err := f.db.Pool.Query(ctx, `select action, detail::text from audit.events where id > $1 and detail->>'object' = 'user' order by id`, after)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []ev
		var raw []string
		for rows.Next() {
			var action, detail string
			if err := rows.Scan(&action, &detail); err != nil {
				t.Fatal(err)
			}
			var e ev
			if err := json.Unmarshal([]byte(detail), &e); err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
			raw = append(raw, action+" "+detail)
		}
		return out, raw
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := f.db.Pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	// Logins are shared by the test databases: bob gets one of his own.
	login := "sqltest_psql_audited_" + strings.TrimPrefix(f.db.Name, "pgtest_")
	f.db.EnsureLogin(t, login, "healthcare_user")
	t.Cleanup(func() { _, _ = f.db.Pool.Exec(context.Background(), "drop role if exists "+login) })
	cases := []struct {
		name   string
		act    func()
		change string // "" = no event
	}{
		{"SQL grants admin", func() { exec("update app.users set is_admin = true where id = $1", f.userB) }, "grant_admin"},
		{"SQL revokes admin", func() { exec("update app.users set is_admin = false where id = $1", f.userB) }, "revoke_admin"},
		{"SQL deactivates", func() { exec("update app.users set is_active = false where id = $1", f.userB) }, "deactivate"},
		{"SQL changes only the password", func() { exec("update app.users set password_hash = $2 where id = $1", f.userB, pgtest.FakeHash) }, ""},
		{"SQL changes only the email", func() { exec("update app.users set email = 'b2@example.com' where id = $1", f.userB) }, ""},
		{"healthcare user activate", func() {
			if _, err := dbadmin.ChangeUser(ctx, f.db.Pool, "bob", dbadmin.ChangeActivate, ""); err != nil {
				t.Fatal(err)
			}
		}, "activate"},
		{"healthcare user deactivate", func() {
			if _, err := dbadmin.ChangeUser(ctx, f.db.Pool, "bob", dbadmin.ChangeDeactivate, ""); err != nil {
				t.Fatal(err)
			}
		}, "deactivate"},
		{"SQL links a login", func() { exec("update app.users set db_role = $2 where id = $1", f.userB, login) }, "link_login"},
		{"healthcare db-access revoke", func() {
			if _, err := dbadmin.RevokeAccess(ctx, f.db.Pool, "bob", false); err != nil {
				t.Fatal(err)
			}
		}, "unlink_login"},
	}
	for _, c := range cases {
		before := lastEventID(t, f)
		c.act()
		got, raw := since(before)
		for _, r := range raw {
			if strings.Contains(r, "argon2") || strings.Contains(r, "password_hash") {
				t.Errorf("%s: an event holds the password hash: %s", c.name, r)
			}
		}
		if c.change == "" {
			if len(got) != 0 {
				t.Errorf("%s: events %v; want none", c.name, raw)
			}
			continue
		}
		if len(got) != 1 || got[0].Change != c.change {
			t.Errorf("%s: events %v; want exactly one, change %s", c.name, raw, c.change)
			continue
		}
		if c.name == "healthcare user deactivate" && got[0].SessionsEnded == nil {
			t.Errorf("%s: the event does not say how many sessions ended: %v", c.name, raw)
		}
		if len(got[0].Before) != 3 || len(got[0].After) != 3 {
			t.Errorf("%s: before/after %v / %v; want is_admin, is_active and db_role", c.name, got[0].Before, got[0].After)
		}
	}
	// An admin created over the privileged connection is an event too.
	before := lastEventID(t, f)
	pgtest.CreateUser(t, f.db.Pool, "newroot", pgtest.Admin())
	if got, raw := since(before); len(got) != 1 || got[0].After["is_admin"] != true {
		t.Errorf("creating an admin recorded %v; want one event", raw)
	}
}
