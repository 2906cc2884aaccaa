package sql_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/pgtest"
)

// TestDoctorHistoryHidesTheAccountLink (issue 24, finding 6): a doctor's
// history is public, but its account link is for admins and the linked
// account only (api.get_doctor's "account"). Bob lists a doctor (version
// 1), an admin links it to alice (2), alice edits it (3). Anonymous
// callers and another user see versions 3 and 1, with changed_by only for
// the creator's entry; alice and the admin see all three with their
// authors.
func TestDoctorHistoryHidesTheAccountLink(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	eve := pgtest.CreateUser(t, f.db.Pool, "eve")
	apiEve := apiCaller("API user E, neither creator nor linked", func(*fixture) string { return id(eve) })
	apiAlice := apiA
	call := func(c *caller, stmt string) (string, error) {
		t.Helper()
		var body string
		var err error
		withConn(t, f, func(ctx context.Context, conn *pgx.Conn) {
			tx := asCaller(t, ctx, conn, f, c)
			defer func() { _ = tx.Rollback(ctx) }()
			if err = tx.QueryRow(ctx, stmt).Scan(&body); err == nil {
				err = tx.Commit(ctx)
			}
		})
		return body, err
	}
	must := func(c *caller, stmt string) string {
		t.Helper()
		body, err := call(c, stmt)
		if err != nil {
			t.Fatalf("%s as %s: %v", stmt, c.desc, err)
		}
		return body
	}
	var doctor int64
	if err := json.Unmarshal([]byte(must(&apiB, "select api.create_doctor('Dr Link', 'Oncology')::text")), &struct {
		ID *int64 `json:"id"`
	}{&doctor}); err != nil || doctor == 0 {
		t.Fatalf("create: %v", err)
	}
	must(&admin, fmt.Sprintf("select api.link_doctor_account(%d, %d)::text", doctor, f.userA))
	must(&apiAlice, fmt.Sprintf("select api.update_doctor(%d, 'Dr Link Renamed')::text", doctor))

	type entry struct {
		Version   int    `json:"version"`
		Action    string `json:"action"`
		ChangedBy *int64 `json:"changed_by"`
	}
	history := func(c *caller) []entry {
		t.Helper()
		var page struct {
			Count   int     `json:"count"`
			Results []entry `json:"results"`
		}
		body := must(c, fmt.Sprintf("select api.doctor_history(%d)::text", doctor))
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatal(err)
		}
		if page.Count != len(page.Results) {
			t.Errorf("%s: count %d, %d entries: the count gives the hidden entries away", c.desc, page.Count, len(page.Results))
		}
		return page.Results
	}
	who := func(e entry) int64 {
		if e.ChangedBy == nil {
			return 0
		}
		return *e.ChangedBy
	}
	redacted := map[*caller]bool{&anonymous: true, &apiEve: true, &apiAlice: false, &admin: false}
	for c, hidden := range redacted {
		t.Run(c.desc, func(t *testing.T) {
			got := history(c)
			var versions []int
			for _, e := range got {
				versions = append(versions, e.Version)
			}
			if hidden {
				if !slices.Equal(versions, []int{3, 1}) {
					t.Fatalf("versions %v; want [3 1] (the link's version 2 left out)", versions)
				}
				if who(got[0]) != 0 || who(got[1]) != f.userB {
					t.Errorf("changed_by %d, %d; want none for the linked account's edit and %d (the creator, public)", who(got[0]), who(got[1]), f.userB)
				}
				if _, err := call(c, fmt.Sprintf("select api.doctor_version(%d, 2)::text", doctor)); pgtest.PgError(err).Code != "RNTFD" {
					t.Errorf("version 2 (the link) = %v; want RNTFD", err)
				}
				if body := must(c, fmt.Sprintf("select api.doctor_version(%d, 3)::text", doctor)); json.Unmarshal([]byte(body), new(entry)) != nil || strings.Contains(body, fmt.Sprintf(`"changed_by" : %d`, f.userA)) {
					t.Errorf("version 3 names the linked account: %s", body)
				}
				return
			}
			if !slices.Equal(versions, []int{3, 2, 1}) {
				t.Fatalf("versions %v; want [3 2 1]", versions)
			}
			if who(got[0]) != f.userA || who(got[1]) != f.admin || who(got[2]) != f.userB {
				t.Errorf("changed_by %d, %d, %d; want %d, %d, %d", who(got[0]), who(got[1]), who(got[2]), f.userA, f.admin, f.userB)
			}
		})
	}
}
