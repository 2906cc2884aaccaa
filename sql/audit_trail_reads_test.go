package sql_test

import (
	"fmt"
	"slices"
	"testing"
)

// TestAdminTrailReadsAppearInOwnersAccessLogs (issue 24, finding 7): an
// admin's read of the whole trail returns events of alice's and bob's
// patients, values included; the read's event names those patients, so
// each owner's access log shows that an admin read their record's trail,
// and neither owner learns of the other's patient.
func TestAdminTrailReadsAppearInOwnersAccessLogs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	before := lastEventID(t, f)
	commitAs(t, f, &admin, "select api.audit_events(null, null, null, 50, 0)::text")
	ev := eventsSince(t, f, before)
	if len(ev) != 1 || ev[0].action != "list" || deref(ev[0].user) != f.admin {
		t.Fatalf("reading the trail recorded %v; want one list event by the admin", ev)
	}
	for _, p := range []int64{f.patientA, f.patientA2, f.patientB} {
		if !slices.Contains(ev[0].patients, p) {
			t.Errorf("the read's event names patients %v; want patient %d, whose creation it returned", ev[0].patients, p)
		}
	}
	for _, o := range []struct {
		c       *caller
		patient int64
		other   int64
	}{{&apiA, f.patientA, f.patientB}, {&apiB, f.patientB, f.patientA}} {
		log := commitAs(t, f, o.c, fmt.Sprintf("select api.patient_access_log(%d, 50, 0)::text", o.patient))
		var pg struct {
			Results []struct {
				User     *int64
				Action   string
				Patients []int64
				Detail   struct {
					Object string
				}
			}
		}
		if err := jsonUnmarshal(log, &pg); err != nil {
			t.Fatalf("%s: %v", log, err)
		}
		found := false
		for _, r := range pg.Results {
			if r.Action == "list" && r.Detail.Object == "audit_events" && r.User != nil && *r.User == f.admin {
				found = true
				if slices.Contains(r.Patients, o.other) {
					t.Errorf("%s's access log shows the other owner's patient %d: %v", o.c.desc, o.other, r.Patients)
				}
			}
		}
		if !found {
			t.Errorf("%s's access log of patient %d lacks the admin's read of the trail:\n%s", o.c.desc, o.patient, log)
		}
	}
}
