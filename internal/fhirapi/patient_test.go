package fhirapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"healthcare/internal/fhirapi"
	"healthcare/internal/httpapi"
)

const (
	extGender = "https://healthcare.example.org/fhir/StructureDefinition/patient-gender-text"
	extAge    = "https://healthcare.example.org/fhir/StructureDefinition/patient-age"
)

// patient is a Patient resource as a client writes it.
func patient(name string, age int, gender, genderText string) map[string]any {
	p := map[string]any{
		"resourceType": "Patient",
		"name":         []any{map[string]any{"text": name}},
		"extension": []any{
			map[string]any{"url": extAge, "valueAge": map[string]any{"value": age, "unit": "a", "system": "http://unitsofmeasure.org", "code": "a"}},
		},
	}
	if gender != "" {
		p["gender"] = gender
	}
	if genderText != "" {
		p["extension"] = append(p["extension"].([]any), map[string]any{"url": extGender, "valueString": genderText})
	}
	return p
}

// create posts a Patient and returns its id.
func (h *harness) create(token string, p map[string]any) string {
	h.t.Helper()
	a := h.must("POST", "/Patient", token, p, 201)
	return a.json(h.t)["id"].(string)
}

func TestCapabilityStatementListsTheRouteTable(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.must("GET", "/metadata", "", nil, 200)
	cs := a.json(t)
	if cs["resourceType"] != "CapabilityStatement" || cs["fhirVersion"] != "4.0.1" || cs["kind"] != "instance" {
		t.Fatalf("metadata: %s", a.body)
	}
	if impl := cs["implementation"].(map[string]any); impl["url"] != h.base {
		t.Errorf("implementation.url = %v, want %s", impl["url"], h.base)
	}
	rest := cs["rest"].([]any)[0].(map[string]any)
	if !strings.Contains(fmt.Sprint(rest["security"]), "Bearer") {
		t.Errorf("security does not name the bearer token: %v", rest["security"])
	}
	listed := map[string]bool{}
	params := map[string]bool{}
	for _, r := range rest["resource"].([]any) {
		res := r.(map[string]any)
		for _, i := range res["interaction"].([]any) {
			listed[res["type"].(string)+" "+i.(map[string]any)["code"].(string)] = true
		}
		if sp, ok := res["searchParam"].([]any); ok {
			for _, p := range sp {
				params[res["type"].(string)+" "+p.(map[string]any)["name"].(string)] = true
			}
		}
	}
	want := map[string]bool{}
	for _, rt := range fhirapi.Routes() {
		if rt.Resource == "" {
			continue
		}
		want[rt.Resource+" "+rt.Interaction] = true
		if !listed[rt.Resource+" "+rt.Interaction] {
			t.Errorf("route %s %s (%s %s) is not in the CapabilityStatement", rt.Method, rt.Path, rt.Resource, rt.Interaction)
		}
		for _, p := range rt.Search {
			if !params[rt.Resource+" "+p.Name] {
				t.Errorf("search parameter %s of %s is not listed", p.Name, rt.Resource)
			}
		}
	}
	for k := range listed {
		if !want[k] {
			t.Errorf("the CapabilityStatement lists %s, which no route serves", k)
		}
	}
	for _, k := range []string{"Patient read", "Patient vread", "Patient history-instance", "Patient search-type",
		"Patient create", "Patient update", "Patient delete"} {
		if !listed[k] {
			t.Errorf("%s missing", k)
		}
	}
	// _format=json is accepted; XML is not.
	h.must("GET", "/metadata?_format=json", "", nil, 200)
	h.must("GET", "/metadata?_format=xml", "", nil, http.StatusNotAcceptable)
	h.must("GET", "/metadata", "", nil, http.StatusNotAcceptable, "Accept", "application/fhir+xml")
}

func TestPatientLifecycle(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	owner := h.Signup("fhirowner")
	other := h.Signup("fhirother")
	name := fmt.Sprintf("Ada Quinterra%d", time.Now().UnixNano()%1000)

	// create: 201, Location to the version, ETag, the resource.
	a := h.must("POST", "/Patient", owner.Access, patient(name, 36, "female", "Woman"), 201)
	p := a.json(t)
	id := p["id"].(string)
	if loc := a.header.Get("Location"); loc != h.base+"/Patient/"+id+"/_history/1" {
		t.Errorf("Location = %q", loc)
	}
	if a.header.Get("ETag") != `W/"1"` || a.header.Get("Last-Modified") == "" {
		t.Errorf("ETag %q, Last-Modified %q", a.header.Get("ETag"), a.header.Get("Last-Modified"))
	}
	if p["gender"] != "female" || !strings.Contains(string(a.body), `"valueString" : "Woman"`) ||
		!strings.Contains(string(a.body), `"value" : 36`) || strings.Contains(string(a.body), "birthDate") {
		t.Errorf("created patient: %s", a.body)
	}

	// read: the same resource, meta, ETag; If-None-Match is 304.
	r := h.must("GET", "/Patient/"+id, owner.Access, nil, 200)
	meta := r.json(t)["meta"].(map[string]any)
	if meta["versionId"] != "1" || r.header.Get("ETag") != `W/"1"` {
		t.Errorf("read: meta %v, ETag %q", meta, r.header.Get("ETag"))
	}
	lm, err := http.ParseTime(r.header.Get("Last-Modified"))
	updated, err2 := time.Parse(time.RFC3339Nano, meta["lastUpdated"].(string))
	if err != nil || err2 != nil || !lm.Equal(updated.Truncate(time.Second)) {
		t.Errorf("Last-Modified %q, lastUpdated %v", r.header.Get("Last-Modified"), meta["lastUpdated"])
	}
	if nm := h.fhir("GET", "/Patient/"+id, owner.Access, nil, "If-None-Match", `W/"1"`); nm.status != 304 || len(nm.body) != 0 {
		t.Errorf("If-None-Match current: %d %s", nm.status, nm.body)
	}
	h.must("GET", "/Patient/"+id, owner.Access, nil, 200, "If-None-Match", `W/"9"`)

	// another user's token: the same 404 as an id that never existed.
	miss := h.must("GET", "/Patient/"+id, other.Access, nil, 404)
	never := h.must("GET", "/Patient/999999999", other.Access, nil, 404)
	if string(miss.body) != string(never.body) {
		t.Errorf("someone else's patient %s differs from a missing one %s", miss.body, never.body)
	}
	h.must("GET", "/Patient/abc", owner.Access, nil, 404)

	// search by name finds it, for the owner only.
	s := h.must("GET", "/Patient?name="+strings.Fields(name)[1][:6], owner.Access, nil, 200).json(t)
	if s["type"] != "searchset" || s["total"] != 1.0 {
		t.Fatalf("search: %v", s)
	}
	entry := s["entry"].([]any)[0].(map[string]any)
	if entry["fullUrl"] != h.base+"/Patient/"+id {
		t.Errorf("fullUrl %v", entry["fullUrl"])
	}
	if self := s["link"].([]any)[0].(map[string]any); self["relation"] != "self" || !strings.HasPrefix(self["url"].(string), h.base+"/Patient?") {
		t.Errorf("self link %v", self)
	}
	if s := h.must("GET", "/Patient?name="+strings.Fields(name)[1][:6], other.Access, nil, 200).json(t); s["total"] != 0.0 || s["entry"] != nil {
		t.Errorf("another user's search found %v", s)
	}

	// update with a stale If-Match: 412 with the current ETag, nothing written.
	upd := patient(name+" Lovelace", 37, "female", "Woman")
	upd["id"] = id
	st := h.must("PUT", "/Patient/"+id, owner.Access, upd, 412, "If-Match", `W/"7"`)
	if st.header.Get("ETag") != `W/"1"` {
		t.Errorf("412 ETag %q", st.header.Get("ETag"))
	}
	u := h.must("PUT", "/Patient/"+id, owner.Access, upd, 200, "If-Match", `W/"1"`)
	if u.header.Get("ETag") != `W/"2"` || u.json(t)["meta"].(map[string]any)["versionId"] != "2" {
		t.Errorf("update: %s", u.body)
	}
	h.must("PUT", "/Patient/"+id, owner.Access, upd, 412, "If-Match", `W/"1"`)
	// another user cannot update it: 404, as for reading.
	h.must("PUT", "/Patient/"+id, other.Access, upd, 404)
	// Prefer: return=minimal answers the headers alone.
	upd["extension"] = patient("x", 38, "", "")["extension"]
	delete(upd, "gender")
	m := h.fhir("PUT", "/Patient/"+id, owner.Access, upd, "Prefer", "return=minimal")
	if m.status != 200 || len(m.body) != 0 || m.header.Get("ETag") != `W/"3"` {
		t.Errorf("return=minimal: %d %q %s", m.status, m.header.Get("ETag"), m.body)
	}
	rep := h.must("GET", "/Patient/"+id, owner.Access, nil, 200).json(t)
	if rep["gender"] != "unknown" {
		t.Errorf("a Patient without gender is unknown, got %v", rep["gender"])
	}

	// history: three versions, newest first; vread of the first.
	hist := h.must("GET", "/Patient/"+id+"/_history", owner.Access, nil, 200).json(t)
	if hist["type"] != "history" || hist["total"] != 3.0 {
		t.Fatalf("history: %v", hist)
	}
	first := hist["entry"].([]any)[2].(map[string]any)
	if first["request"].(map[string]any)["method"] != "POST" {
		t.Errorf("oldest history entry: %v", first)
	}
	v1 := h.must("GET", "/Patient/"+id+"/_history/1", owner.Access, nil, 200).json(t)
	if v1["name"].([]any)[0].(map[string]any)["text"] != name || v1["meta"].(map[string]any)["versionId"] != "1" {
		t.Errorf("vread 1: %v", v1)
	}
	h.must("GET", "/Patient/"+id+"/_history/9", owner.Access, nil, 404)
	h.must("GET", "/Patient/"+id+"/_history", other.Access, nil, 404)

	// delete: the owner later gets 410, everyone else the 404.
	h.must("DELETE", "/Patient/"+id, other.Access, nil, 404)
	h.must("DELETE", "/Patient/"+id, owner.Access, nil, 412, "If-Match", `W/"1"`)
	if d := h.fhir("DELETE", "/Patient/"+id, owner.Access, nil, "If-Match", `W/"3"`); d.status != 204 {
		t.Fatalf("delete: %d %s", d.status, d.body)
	}
	h.must("GET", "/Patient/"+id, owner.Access, nil, 410)
	h.must("DELETE", "/Patient/"+id, owner.Access, nil, 410)
	if gone := h.must("GET", "/Patient/"+id, other.Access, nil, 404); string(gone.body) != string(never.body) {
		t.Errorf("a deleted patient answers another user %s, not the plain 404 %s", gone.body, never.body)
	}
	admin := h.admin("fhiradmin")
	h.must("GET", "/Patient/"+id, admin.Access, nil, 410)
	// the history stays for those who could read it: four entries, the delete first.
	hist = h.must("GET", "/Patient/"+id+"/_history", owner.Access, nil, 200).json(t)
	if hist["total"] != 4.0 || hist["entry"].([]any)[0].(map[string]any)["request"].(map[string]any)["method"] != "DELETE" {
		t.Errorf("history after delete: %v", hist)
	}
}

func TestPatientSearchPagesAndFilters(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	owner := h.Signup("fhirpager")
	var ids []string
	for i, g := range []string{"male", "female", "male", "other", "male"} {
		ids = append(ids, h.create(owner.Access, patient(fmt.Sprintf("Pager Person%d", i), 20+i, g, "")))
	}
	// three men, two per page: self, next; then previous.
	b := h.must("GET", "/Patient?gender=male&_count=2", owner.Access, nil, 200).json(t)
	if b["total"] != 3.0 || len(b["entry"].([]any)) != 2 {
		t.Fatalf("page 1: %v", b)
	}
	links := map[string]string{}
	for _, l := range b["link"].([]any) {
		links[l.(map[string]any)["relation"].(string)] = l.(map[string]any)["url"].(string)
	}
	if links["previous"] != "" || links["next"] == "" {
		t.Fatalf("page 1 links: %v", links)
	}
	b2 := h.must("GET", links["next"], owner.Access, nil, 200).json(t)
	if len(b2["entry"].([]any)) != 1 || b2["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)["id"] != ids[4] {
		t.Fatalf("page 2: %v", b2)
	}
	links2 := map[string]string{}
	for _, l := range b2["link"].([]any) {
		links2[l.(map[string]any)["relation"].(string)] = l.(map[string]any)["url"].(string)
	}
	if links2["next"] != "" || links2["previous"] == "" {
		t.Fatalf("page 2 links: %v", links2)
	}
	back := h.must("GET", links2["previous"], owner.Access, nil, 200)
	if string(back.body) != string(h.must("GET", links["self"], owner.Access, nil, 200).body) {
		t.Errorf("previous of page 2 is not page 1")
	}

	// _id, name modifiers, _count=0 (total only), _lastUpdated around a real instant.
	if b := h.must("GET", "/Patient?_id="+ids[1], owner.Access, nil, 200).json(t); b["total"] != 1.0 {
		t.Errorf("_id: %v", b)
	}
	if b := h.must("GET", "/Patient?name:exact=Pager%20Person3", owner.Access, nil, 200).json(t); b["total"] != 1.0 {
		t.Errorf("name:exact: %v", b)
	}
	if b := h.must("GET", "/Patient?name:contains=erson", owner.Access, nil, 200).json(t); b["total"] != 5.0 {
		t.Errorf("name:contains: %v", b)
	}
	if b := h.must("GET", "/Patient?name=erson", owner.Access, nil, 200).json(t); b["total"] != 0.0 {
		t.Errorf("name matches word starts only: %v", b)
	}
	if b := h.must("GET", "/Patient?name=PERSON", owner.Access, nil, 200).json(t); b["total"] != 5.0 {
		t.Errorf("name matches a later word's start, whatever its case: %v", b)
	}
	if b := h.must("GET", "/Patient?name:contains=%25", owner.Access, nil, 200).json(t); b["total"] != 0.0 {
		t.Errorf("a LIKE wildcard in name is literal: %v", b)
	}
	if b := h.must("GET", "/Patient?name:exact=pager%20person3", owner.Access, nil, 200).json(t); b["total"] != 0.0 {
		t.Errorf("name:exact is case-sensitive: %v", b)
	}
	if b := h.must("GET", "/Patient?_count=0", owner.Access, nil, 200).json(t); b["total"] != 5.0 || b["entry"] != nil {
		t.Errorf("_count=0: %v", b)
	}
	last := h.must("GET", "/Patient/"+ids[4], owner.Access, nil, 200).json(t)["meta"].(map[string]any)["lastUpdated"].(string)
	at, _ := time.Parse(time.RFC3339Nano, last)
	after := at.Add(time.Microsecond).Format(time.RFC3339Nano)
	if b := h.must("GET", "/Patient?_lastUpdated=ge"+last, owner.Access, nil, 200).json(t); b["total"] == 0.0 {
		t.Errorf("_lastUpdated=ge its own instant found nothing: %v", b)
	}
	if b := h.must("GET", "/Patient?_lastUpdated=gt"+after+"&_lastUpdated=lt2999", owner.Access, nil, 200).json(t); b["total"] != 0.0 {
		t.Errorf("_lastUpdated after the last change: %v", b)
	}
	if b := h.must("GET", "/Patient?_lastUpdated=le"+last+"&_lastUpdated=gt1900-01", owner.Access, nil, 200).json(t); b["total"] != 5.0 {
		t.Errorf("_lastUpdated up to the last change: %v", b)
	}

	// bad parameters are 400 OperationOutcomes naming them.
	for _, q := range []string{"_count=-1", "_count=x", "_offset=-3", "_lastUpdated=yesterday", "_lastUpdated=2024-02-31",
		"name:sounds=x", "gender=male&gender=female"} {
		h.must("GET", "/Patient?"+q, owner.Access, nil, 400)
	}
	// unknown parameters are ignored, unless handling=strict.
	h.must("GET", "/Patient?birthdate=2000", owner.Access, nil, 200)
	h.must("GET", "/Patient?birthdate=2000", owner.Access, nil, 400, "Prefer", "handling=strict")
	// _count is bounded as the REST lists are.
	if b := h.must("GET", "/Patient?_count=100000", owner.Access, nil, 200).json(t); !strings.Contains(fmt.Sprint(b["link"]), "_count=100&") {
		t.Errorf("_count not bounded: %v", b["link"])
	}
}

func TestPatientInputErrors(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, httpapiOptions(4096))
	owner := h.Signup("fhirinput")
	id := h.create(owner.Access, patient("Valid Person", 40, "male", ""))
	before := h.must("GET", "/Patient/"+id, owner.Access, nil, 200).body

	bad := []struct {
		body   any
		status int
	}{
		{`{"resourceType": "Patient",`, 400},
		{`[1, 2]`, 400},
		{`"Patient"`, 400},
		{map[string]any{"resourceType": "Observation"}, 400},
		{map[string]any{"resourceType": "Patient", "name": "Ada"}, 400},
		{map[string]any{"resourceType": "Patient", "name": []any{map[string]any{"text": 5}}}, 400},
		{map[string]any{"resourceType": "Patient", "gender": "woman", "name": []any{map[string]any{"text": "A"}}}, 400},
		{map[string]any{"resourceType": "Patient", "extension": "x"}, 400},
		{map[string]any{"resourceType": "Patient", "name": []any{map[string]any{"text": "A"}},
			"extension": []any{map[string]any{"url": extAge, "valueAge": map[string]any{"value": 3.5}}}}, 400},
		{"{\"resourceType\": \"Patient\", \"name\": [{\"text\": \"A\\u0000B\"}]}", 400},
		{strings.Repeat("[", 100) + strings.Repeat("]", 100), 400},
		{map[string]any{"resourceType": "Patient", "name": []any{map[string]any{"text": "No Age"}}}, 422},
		{map[string]any{"resourceType": "Patient", "extension": patient("x", 3, "", "")["extension"]}, 422},
		{patient("Too Old", 151, "", ""), 422},
		{patient(strings.Repeat("n", 201), 40, "", ""), 422},
		{patient("Mismatch", 40, "male", "Woman"), 422},
		{map[string]any{"resourceType": "Patient", "name": []any{map[string]any{"text": "B"}}, "birthDate": "2001-02-31"}, 422},
		{map[string]any{"resourceType": "Patient", "name": []any{map[string]any{"text": strings.Repeat("x", 5000)}}}, 413},
	}
	for i, c := range bad {
		h.must("POST", "/Patient", owner.Access, c.body, c.status)
		up := c.body
		if m, ok := c.body.(map[string]any); ok && c.status == 422 {
			m["id"] = id
			up = m
		}
		h.must("PUT", "/Patient/"+id, owner.Access, up, c.status)
		_ = i
	}
	// an id in the body that is not the URL's; a missing one.
	wrong := patient("Valid Person", 41, "", "")
	wrong["id"] = "999"
	h.must("PUT", "/Patient/"+id, owner.Access, wrong, 400)
	delete(wrong, "id")
	h.must("PUT", "/Patient/"+id, owner.Access, wrong, 400)
	// not JSON at all, and If-Match that is no entity tag.
	h.must("POST", "/Patient", owner.Access, "name=x", 415, "Content-Type", "application/x-www-form-urlencoded")
	h.must("PUT", "/Patient/"+id, owner.Access, wrong, 400, "If-Match", "3")
	// nothing was written by any of them.
	if after := h.must("GET", "/Patient/"+id, owner.Access, nil, 200).body; string(after) != string(before) {
		t.Errorf("a refused write changed the patient:\n%s\n%s", before, after)
	}
	if b := h.must("GET", "/Patient", owner.Access, nil, 200).json(t); b["total"] != 1.0 {
		t.Errorf("a refused create made a patient: %v", b)
	}
	// birthDate without an age extension gives an age; the date is not kept.
	bd := map[string]any{"resourceType": "Patient", "name": []any{map[string]any{"given": []any{"Bea"}, "family": "Born"}}, "birthDate": "2000-01-01"}
	made := h.must("POST", "/Patient", owner.Access, bd, 201)
	if strings.Contains(string(made.body), "birthDate") || !strings.Contains(string(made.body), `"text" : "Bea Born"`) {
		t.Errorf("from birthDate: %s", made.body)
	}
}

func TestTokensAndMethods(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	owner := h.Signup("fhirtok")
	id := h.create(owner.Access, patient("Token Person", 50, "", ""))
	h.must("GET", "/Patient/"+id, "", nil, 401)
	h.must("GET", "/Patient", "", nil, 401)
	h.must("POST", "/Patient", "", patient("x", 1, "", ""), 401)
	forged := owner.Access[:len(owner.Access)-4] + "AAAA"
	if forged == owner.Access {
		forged = owner.Access[:len(owner.Access)-4] + "BBBB"
	}
	a := h.must("GET", "/Patient/"+id, forged, nil, 401)
	if a.header.Get("WWW-Authenticate") == "" {
		t.Errorf("401 without WWW-Authenticate")
	}
	h.must("GET", "/Patient/"+id, "not.a.token", nil, 401)
	h.must("GET", "/Observation/1", owner.Access, nil, 404)
	h.must("PATCH", "/Patient/"+id, owner.Access, nil, 405)
	h.must("GET", "/", owner.Access, nil, 404)
}

func TestAPIDocsLinkTheCapabilityStatement(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var doc struct {
		ExternalDocs struct{ URL string }
		Info         struct{ Description string }
	}
	h.Must("GET", "/api/openapi.json", "", nil, 200).Decode(t, &doc)
	if doc.ExternalDocs.URL != "/fhir/metadata" || !strings.Contains(doc.Info.Description, "(/fhir/metadata)") {
		t.Fatalf("the API reference does not link the CapabilityStatement: %+v", doc)
	}
	h.must("GET", doc.ExternalDocs.URL[len("/fhir"):], "", nil, 200)
}

func TestConfiguredBaseURL(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, httpapi.Options{FHIRBaseURL: "https://records.example.org/fhir"})
	owner := h.Signup("fhirbase")
	a := h.must("POST", "/Patient", owner.Access, patient("Based Person", 33, "", ""), 201)
	id := a.json(t)["id"].(string)
	if loc := a.header.Get("Location"); loc != "https://records.example.org/fhir/Patient/"+id+"/_history/1" {
		t.Errorf("Location %q", loc)
	}
	b := h.must("GET", "/Patient", owner.Access, nil, 200)
	if !strings.Contains(string(b.body), `"fullUrl" : "https://records.example.org/fhir/Patient/`+id+`"`) ||
		strings.Contains(string(b.body), "127.0.0.1") {
		t.Errorf("the Bundle does not use the configured base: %s", b.body)
	}
	if cs := h.must("GET", "/metadata", "", nil, 200).json(t); cs["implementation"].(map[string]any)["url"] != "https://records.example.org/fhir" {
		t.Errorf("implementation.url: %v", cs["implementation"])
	}
}
