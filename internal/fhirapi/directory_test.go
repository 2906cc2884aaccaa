package fhirapi_test

import (
	"strings"
	"testing"
)

const extSpecialization = "https://healthcare.example.org/fhir/StructureDefinition/practitioner-specialization"

func practitioner(name, specialization string) map[string]any {
	return map[string]any{
		"resourceType": "Practitioner",
		"name":         []any{map[string]any{"text": name}},
		"extension":    []any{map[string]any{"url": extSpecialization, "valueString": specialization}},
	}
}

func careTeam(patient, practitioner string) map[string]any {
	return map[string]any{
		"resourceType": "CareTeam",
		"subject":      map[string]any{"reference": "Patient/" + patient},
		"participant":  []any{map[string]any{"member": map[string]any{"reference": "Practitioner/" + practitioner}}},
	}
}

func TestPractitionerDirectory(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	creator := h.Signup("fhirdoc")
	other := h.Signup("fhirdocother")
	a := h.must("POST", "/Practitioner", creator.Access, practitioner("Grace Hopperfield", "Cardiology"), 201)
	id := a.json(t)["id"].(string)
	if a.header.Get("Location") != h.base+"/Practitioner/"+id+"/_history/1" {
		t.Errorf("Location %q", a.header.Get("Location"))
	}
	h.must("POST", "/Practitioner", "", practitioner("Anon", "X"), 401)

	// Public: read and search without a token.
	p := h.must("GET", "/Practitioner/"+id, "", nil, 200).json(t)
	if p["name"].([]any)[0].(map[string]any)["text"] != "Grace Hopperfield" {
		t.Errorf("practitioner: %v", p)
	}
	if b := h.must("GET", "/Practitioner?name=hopper", "", nil, 200).json(t); b["total"] != 1.0 {
		t.Errorf("search by name: %v", b)
	}
	// PractitionerRole: one per doctor, its specialty the specialization.
	role := h.must("GET", "/PractitionerRole/"+id, "", nil, 200).json(t)
	if role["practitioner"].(map[string]any)["reference"] != "Practitioner/"+id ||
		role["specialty"].([]any)[0].(map[string]any)["text"] != "Cardiology" {
		t.Errorf("role: %v", role)
	}
	for _, q := range []string{"practitioner=Practitioner/" + id, "practitioner=" + id, "specialty=cardiology", "specialty:text=CARDIOLOGY&practitioner=" + id} {
		if b := h.must("GET", "/PractitionerRole?"+q, "", nil, 200).json(t); b["total"] != 1.0 {
			t.Errorf("role search %s: %v", q, b)
		}
	}
	if b := h.must("GET", "/PractitionerRole?specialty=Dermatology&practitioner="+id, "", nil, 200).json(t); b["total"] != 0.0 {
		t.Errorf("role search by another specialty: %v", b)
	}
	h.must("PUT", "/PractitionerRole/"+id, creator.Access, map[string]any{"resourceType": "PractitionerRole"}, 405)

	// Update under the directory's rules: the creator may, another user may not.
	upd := practitioner("Grace Hopperfield", "Cardiac Surgery")
	upd["id"] = id
	h.must("PUT", "/Practitioner/"+id, other.Access, upd, 403)
	h.must("PUT", "/Practitioner/"+id, creator.Access, upd, 412, "If-Match", `W/"5"`)
	u := h.must("PUT", "/Practitioner/"+id, creator.Access, upd, 200, "If-Match", `W/"1"`)
	if u.header.Get("ETag") != `W/"2"` {
		t.Errorf("ETag after update %q", u.header.Get("ETag"))
	}
	if r := h.must("GET", "/PractitionerRole/"+id, "", nil, 200); !strings.Contains(string(r.body), "Cardiac Surgery") || r.header.Get("ETag") != `W/"2"` {
		t.Errorf("role after update: %s", r.body)
	}
	h.must("POST", "/Practitioner", creator.Access, map[string]any{"resourceType": "Practitioner", "name": []any{map[string]any{"text": "No Spec"}}}, 422)
	h.must("POST", "/Practitioner", creator.Access, map[string]any{"resourceType": "Practitioner", "name": "x"}, 400)

	// Delete: someone else's patient mapped to it makes it 409 for the creator.
	owner := h.Signup("fhirdocpatient")
	pid := h.create(owner.Access, patient("Mapped Patient", 44, "", ""))
	h.must("POST", "/CareTeam", owner.Access, careTeam(pid, id), 201)
	h.must("DELETE", "/Practitioner/"+id, other.Access, nil, 403)
	h.must("DELETE", "/Practitioner/"+id, creator.Access, nil, 409)
	admin := h.admin("fhirdocadmin")
	if d := h.fhir("DELETE", "/Practitioner/"+id, admin.Access, nil); d.status != 204 {
		t.Fatalf("admin delete: %d %s", d.status, d.body)
	}
	h.must("GET", "/Practitioner/"+id, "", nil, 410)
	h.must("GET", "/PractitionerRole/"+id, "", nil, 410)
	h.must("GET", "/Practitioner/999999", "", nil, 404)
	// its care team went with it
	if b := h.must("GET", "/CareTeam?patient="+pid, owner.Access, nil, 200).json(t); b["total"] != 0.0 {
		t.Errorf("care teams of a removed doctor: %v", b)
	}
}

func TestCareTeamsAndTheDoctorsAccount(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	owner := h.Signup("fhirctowner")
	stranger := h.Signup("fhirctstranger")
	doctorUser := h.Signup("fhirctdoctor")
	admin := h.admin("fhirctadmin")
	pid := h.create(owner.Access, patient("Cared For", 70, "female", ""))
	other := h.create(owner.Access, patient("Not Cared For", 71, "male", ""))
	did := h.must("POST", "/Practitioner", owner.Access, practitioner("Doctor Who", "General Practice"), 201).json(t)["id"].(string)
	h.Must("PUT", "/api/doctors/"+did+"/account/", admin.Access, map[string]any{"user": doctorUser.ID}, 200)

	// the owner assigns the doctor: a CareTeam of the patient and the practitioner.
	ct := h.must("POST", "/CareTeam", owner.Access, careTeam(pid, did), 201)
	ctid := ct.json(t)["id"].(string)
	if ct.header.Get("Location") != h.base+"/CareTeam/"+ctid+"/_history/1" {
		t.Errorf("Location %q", ct.header.Get("Location"))
	}
	h.must("POST", "/CareTeam", owner.Access, careTeam(pid, did), 409)
	h.must("POST", "/CareTeam", stranger.Access, careTeam(pid, did), 404)
	h.must("POST", "/CareTeam", owner.Access, careTeam(pid, "999999"), 422)
	h.must("POST", "/CareTeam", owner.Access, map[string]any{"resourceType": "CareTeam", "subject": "Patient/1",
		"participant": []any{map[string]any{"member": map[string]any{"reference": "Practitioner/" + did}}}}, 400)
	h.must("POST", "/CareTeam", owner.Access, careTeam("x", did), 400)

	// read and search, by patient/subject and participant.
	r := h.must("GET", "/CareTeam/"+ctid, owner.Access, nil, 200).json(t)
	if r["subject"].(map[string]any)["reference"] != "Patient/"+pid {
		t.Errorf("care team: %v", r)
	}
	for _, q := range []string{"patient=" + pid, "subject=Patient/" + pid, "participant=Practitioner/" + did, "patient=" + pid + "&participant=" + did} {
		if b := h.must("GET", "/CareTeam?"+q, owner.Access, nil, 200).json(t); b["total"] != 1.0 {
			t.Errorf("search %s: %v", q, b)
		}
	}
	h.must("GET", "/CareTeam?patient=1&subject=2", owner.Access, nil, 400)
	// an admin finds any patient's care teams; a Patient search is everyone's own, as the REST list.
	if b := h.must("GET", "/Patient?_id="+pid, admin.Access, nil, 200).json(t); b["total"] != 0.0 {
		t.Errorf("admin _id search of another user's patient: %v", b)
	}
	h.must("GET", "/Patient/"+pid, admin.Access, nil, 200)
	if b := h.must("GET", "/CareTeam?patient="+pid, admin.Access, nil, 200).json(t); b["total"] != 1.0 {
		t.Errorf("admin care team search by patient: %v", b)
	}
	if b := h.must("GET", "/Patient?_id="+pid, stranger.Access, nil, 200).json(t); b["total"] != 0.0 {
		t.Errorf("a stranger's _id search: %v", b)
	}
	h.must("GET", "/CareTeam/"+ctid, stranger.Access, nil, 404)
	if b := h.must("GET", "/CareTeam", stranger.Access, nil, 200).json(t); b["total"] != 0.0 {
		t.Errorf("a stranger's care teams: %v", b)
	}

	// The doctor's account: its search returns its care teams, and it reads
	// those patients (only those), but changes neither.
	b := h.must("GET", "/CareTeam", doctorUser.Access, nil, 200).json(t)
	if b["total"] != 1.0 || b["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)["id"] != ctid {
		t.Fatalf("the doctor's care teams: %v", b)
	}
	h.must("GET", "/Patient/"+pid, doctorUser.Access, nil, 200)
	h.must("GET", "/Patient/"+other, doctorUser.Access, nil, 404)
	if b := h.must("GET", "/Patient", doctorUser.Access, nil, 200).json(t); b["total"] != 0.0 {
		t.Errorf("the doctor's own patient search lists the patients in its care: %v", b)
	}
	upd := patient("Changed By Doctor", 70, "", "")
	upd["id"] = pid
	h.must("PUT", "/Patient/"+pid, doctorUser.Access, upd, 403)
	h.must("DELETE", "/CareTeam/"+ctid, doctorUser.Access, nil, 403)

	// the owner removes the doctor: the care team and the doctor's access go.
	h.must("DELETE", "/CareTeam/"+ctid, stranger.Access, nil, 404)
	if d := h.fhir("DELETE", "/CareTeam/"+ctid, owner.Access, nil); d.status != 204 {
		t.Fatalf("delete care team: %d %s", d.status, d.body)
	}
	h.must("GET", "/CareTeam/"+ctid, owner.Access, nil, 404)
	h.must("GET", "/Patient/"+pid, doctorUser.Access, nil, 404)

	// the trail has the FHIR mapping changes.
	var log struct {
		Results []struct {
			Action string
			Detail map[string]any
		}
	}
	h.Must("GET", "/api/patients/"+pid+"/access-log/", owner.Access, nil, 200).Decode(t, &log)
	seen := map[string]bool{}
	for _, e := range log.Results {
		if e.Detail["object"] == "mapping" && e.Detail["via"] == "fhir" {
			seen[e.Action] = true
		}
	}
	if !seen["create"] || !seen["delete"] || !seen["read"] || !seen["list"] {
		t.Errorf("mapping events via fhir: %v", seen)
	}
}

// A doctor's account that owns patients too: its CareTeam search covers its
// doctor record's care teams and its own patients' (one of them both), each
// once, in patient order then practitioner's, page by page; a search by
// subject or participant shows only what the policies let it see.
func TestCareTeamSearchPagesTheDoctorsAndItsPatients(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	doctorUser := h.Signup("fhirpagedoc")
	otherOwner := h.Signup("fhirpageowner")
	admin := h.admin("fhirpageadmin")
	own := h.must("POST", "/Practitioner", doctorUser.Access, practitioner("Page Doctor", "Oncology"), 201).json(t)["id"].(string)
	else_ := h.must("POST", "/Practitioner", doctorUser.Access, practitioner("Other Doctor", "Oncology"), 201).json(t)["id"].(string)
	h.Must("PUT", "/api/doctors/"+own+"/account/", admin.Access, map[string]any{"user": doctorUser.ID}, 200)
	p1 := h.create(doctorUser.Access, patient("Own One", 30, "", ""))
	p2 := h.create(doctorUser.Access, patient("Own Two", 31, "", ""))
	q := h.create(otherOwner.Access, patient("In Care", 32, "", ""))
	team := func(token, pid, did string) string {
		return h.must("POST", "/CareTeam", token, careTeam(pid, did), 201).json(t)["id"].(string)
	}
	// in patient order, then practitioner's (own < else_: created first)
	want := []string{
		team(doctorUser.Access, p1, own),   // its patient and its record: both parts
		team(doctorUser.Access, p1, else_), // its patient
		team(doctorUser.Access, p2, else_), // its patient
		team(otherOwner.Access, q, own),    // in its care
	}
	team(otherOwner.Access, q, else_) // someone else's, with someone else

	var got []string
	next := "/CareTeam?_count=1"
	for pages := 0; next != ""; pages++ {
		if pages > len(want) {
			t.Fatalf("more pages than care teams: %v", got)
		}
		b := h.must("GET", next, doctorUser.Access, nil, 200).json(t)
		if b["total"] != float64(len(want)) {
			t.Fatalf("total %v, want %d", b["total"], len(want))
		}
		for _, e := range b["entry"].([]any) {
			got = append(got, e.(map[string]any)["resource"].(map[string]any)["id"].(string))
		}
		next = ""
		for _, l := range b["link"].([]any) {
			if l.(map[string]any)["relation"] == "next" {
				next = l.(map[string]any)["url"].(string)
			}
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("care teams page by page %v, want %v", got, want)
	}
	if b := h.must("GET", "/CareTeam?_count=2&_offset=2", doctorUser.Access, nil, 200).json(t); len(b["entry"].([]any)) != 2 ||
		b["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)["id"] != want[2] {
		t.Errorf("offset 2: %v", b)
	}
	for q, n := range map[string]float64{"subject=Patient/" + q: 1, "participant=Practitioner/" + else_: 2, "participant=" + own: 2, "patient=" + p1: 2} {
		if b := h.must("GET", "/CareTeam?"+q, doctorUser.Access, nil, 200).json(t); b["total"] != n {
			t.Errorf("%s: total %v, want %v", q, b["total"], n)
		}
	}
	if b := h.must("GET", "/CareTeam?participant="+else_, admin.Access, nil, 200).json(t); b["total"] != 3.0 {
		t.Errorf("admin by participant: total %v, want 3", b["total"])
	}
}
