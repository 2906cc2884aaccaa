package fhirapi_test

import (
	"strconv"
	"strings"
	"testing"
)

func TestAuditEventsForOwnersAndAdmins(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	owner := h.Signup("fhirae")
	stranger := h.Signup("fhiraestranger")
	admin := h.admin("fhiraeadmin")
	pid := h.create(owner.Access, patient("Audited Person", 52, "", ""))
	mine := h.create(stranger.Access, patient("Stranger Patient", 53, "", ""))
	h.must("GET", "/Patient/"+pid, owner.Access, nil, 200)
	h.must("GET", "/Patient/"+pid, admin.Access, nil, 200)
	h.must("GET", "/Patient/"+pid, stranger.Access, nil, 404)

	// the owner finds their own FHIR reads, and the admin's, in the trail.
	b := h.must("GET", "/AuditEvent?entity=Patient/"+pid, owner.Access, nil, 200).json(t)
	var reads, adminReads, refused int
	for _, e := range b["entry"].([]any) {
		ev := e.(map[string]any)["resource"].(map[string]any)
		body := ev
		agent := body["agent"].([]any)[0].(map[string]any)
		who := agent["who"].(map[string]any)["identifier"].(map[string]any)["value"]
		if body["action"] == "R" && body["outcome"] == "0" && strings.Contains(strings.Join(details(body), ","), "via=fhir") {
			switch who {
			case itoa(owner.ID):
				reads++
				if agent["network"] == nil {
					t.Errorf("the owner's own event lost its address: %v", agent)
				}
			case itoa(admin.ID):
				adminReads++
				if agent["network"] != nil || agent["altId"] != nil {
					t.Errorf("another user's event is not redacted for the owner: %v", agent)
				}
			}
		}
		if body["outcome"] != "0" {
			refused++
		}
	}
	if reads == 0 || adminReads == 0 {
		t.Errorf("owner's trail: %d own FHIR reads, %d admin reads; %s", reads, adminReads, h.fhir("GET", "/AuditEvent?entity=Patient/"+pid, owner.Access, nil).body)
	}
	if refused != 0 {
		t.Errorf("the owner sees others' refused attempts (%d)", refused)
	}
	// the admin sees the stranger's refused attempt too; by agent and date.
	b = h.must("GET", "/AuditEvent?patient="+pid+"&agent="+itoa(stranger.ID), admin.Access, nil, 200).json(t)
	if b["total"] != 1.0 {
		t.Fatalf("admin search by agent: %v", b)
	}
	ev := b["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
	if ev["outcome"] != "4" || ev["action"] != "R" {
		t.Errorf("refused read: %v", ev)
	}
	recorded := ev["recorded"].(string)
	if b := h.must("GET", "/AuditEvent?patient="+pid+"&agent="+itoa(stranger.ID)+"&date="+recorded, admin.Access, nil, 200).json(t); b["total"] != 1.0 {
		t.Errorf("date=<its own instant>: %v", b)
	}
	if b := h.must("GET", "/AuditEvent?patient="+pid+"&date=lt2000", admin.Access, nil, 200).json(t); b["total"] != 0.0 {
		t.Errorf("date=lt2000: %v", b)
	}
	// read one event: the owner may (their patient), the stranger may not.
	id := ev["id"].(string)
	h.must("GET", "/AuditEvent/"+id, admin.Access, nil, 200)
	h.must("GET", "/AuditEvent/"+id, owner.Access, nil, 404) // someone else's refused attempt
	ownRead := h.must("GET", "/AuditEvent?entity="+pid+"&agent="+itoa(owner.ID)+"&_count=1", owner.Access, nil, 200).json(t)
	oid := ownRead["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)["id"].(string)
	h.must("GET", "/AuditEvent/"+oid, owner.Access, nil, 200)
	h.must("GET", "/AuditEvent/"+oid, stranger.Access, nil, 404)
	// a stranger's search never reaches another user's patient.
	if b := h.must("GET", "/AuditEvent?entity="+pid, stranger.Access, nil, 200).json(t); b["total"] != 0.0 {
		t.Errorf("stranger's search: %v", b)
	}
	if b := h.must("GET", "/AuditEvent", stranger.Access, nil, 200).json(t); b["total"] == 0.0 ||
		strings.Contains(string(h.fhir("GET", "/AuditEvent?_count=100", stranger.Access, nil).body), "Patient/"+pid+`"`) {
		t.Errorf("a stranger's own trail: %v", b)
	}
	_ = mine
}

func details(ev map[string]any) []string {
	var out []string
	for _, e := range ev["entity"].([]any) {
		for _, d := range asList(e.(map[string]any)["detail"]) {
			dm := d.(map[string]any)
			out = append(out, dm["type"].(string)+"="+dm["valueString"].(string))
		}
	}
	return out
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
