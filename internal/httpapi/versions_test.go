package httpapi

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"healthcare/internal/apitest"
	"healthcare/internal/database"
	"healthcare/internal/pgtest"
)

// Versions, ETags and conditional requests (issue 14).

// patientPath is the path of one patient.
func patientPath(id int64) string { return fmt.Sprintf("/api/patients/%d/", id) }

// mustETag returns r's ETag, failing unless it is want.
func mustETag(t *testing.T, r apitest.Response, want string) string {
	t.Helper()
	if got := r.Header.Get("ETag"); got != want {
		t.Fatalf("ETag %q, want %q; body %s", got, want, r.Body)
	}
	return want
}

// storedPatient reads the row as the superuser: what is really stored.
func storedPatient(t *testing.T, h *harness, id int64) (name string, version int) {
	t.Helper()
	err := h.tdb.Pool.QueryRow(context.Background(), "select name, version from app.patients where id = $1", id).Scan(&name, &version)
	if err != nil {
		t.Fatalf("read patient %d: %v", id, err)
	}
	return name, version
}

func makeAdmin(t *testing.T, h *harness, u apitest.User) {
	t.Helper()
	if _, err := h.tdb.Pool.Exec(context.Background(), "update app.users set is_admin = true where id = $1", u.ID); err != nil {
		t.Fatal(err)
	}
}

// The walk: GET, PATCH with the ETag, PATCH again with the old one
// (412, unchanged), PUT with the current one, conditional GET.
func TestConditionalUpdatesOfAPatient(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	u := h.Signup("etag")
	id := h.CreatePatient(u, "Asha", 30)
	path := patientPath(id)

	r := h.Expect(h.Do("GET", path, u.Access, nil), 200, "get")
	v1 := mustETag(t, r, `W/"1"`)
	if r.ID(t, "version") != 1 {
		t.Fatalf("a new patient's body %s, want version 1", r.Body)
	}

	r = h.Expect(h.Do("PATCH", path, u.Access, map[string]any{"age": 31}, "If-Match", v1), 200, "patch with the current ETag")
	v2 := mustETag(t, r, `W/"2"`)
	if r.ID(t, "version") != 2 || r.ID(t, "age") != 31 {
		t.Fatalf("patched body %s, want version 2 and age 31", r.Body)
	}

	r = h.Expect(h.Do("PATCH", path, u.Access, map[string]any{"age": 99}, "If-Match", v1), 412, "patch with the old ETag")
	p := apitest.CheckProblem(t, r)
	if p["code"] != "version_mismatch" || p["current_version"] != float64(2) {
		t.Fatalf("412 body %s, want code version_mismatch naming current_version 2", r.Body)
	}
	mustETag(t, r, v2)
	if r := h.Expect(h.Do("GET", path, u.Access, nil), 200, "get after the 412"); r.ID(t, "age") != 31 || r.ID(t, "version") != 2 {
		t.Fatalf("after a stale PATCH the patient is %s, want it unchanged (age 31, version 2)", r.Body)
	}

	r = h.Expect(h.Do("PUT", path, u.Access, map[string]any{"name": "Asha V", "age": 32, "gender": "female"}, "If-Match", v2), 200, "put with the current ETag")
	v3 := mustETag(t, r, `W/"3"`)

	r = h.Do("GET", path, u.Access, nil, "If-None-Match", v3)
	if r.Status != 304 || len(r.Body) != 0 {
		t.Fatalf("GET with the current ETag in If-None-Match: %d %q, want 304 without a body", r.Status, r.Body)
	}
	mustETag(t, r, v3)
	r = h.Expect(h.Do("GET", path, u.Access, nil, "If-None-Match", `W/"1", `+v2), 200, "GET with old ETags in If-None-Match")
	mustETag(t, r, v3)

	// The strong spelling of the same version, and *, are accepted too.
	r = h.Expect(h.Do("PATCH", path, u.Access, map[string]any{"age": 33}, "If-Match", `"3"`), 200, "patch with the strong form")
	mustETag(t, r, `W/"4"`)
	r = h.Expect(h.Do("PATCH", path, u.Access, map[string]any{"age": 34}, "If-Match", "*"), 200, "patch with If-Match: *")
	mustETag(t, r, `W/"5"`)
	// Without If-Match, writes work as they always did.
	r = h.Expect(h.Do("PATCH", path, u.Access, map[string]any{"age": 35}), 200, "patch without If-Match")
	mustETag(t, r, `W/"6"`)
	if name, version := storedPatient(t, h, id); name != "Asha V" || version != 6 {
		t.Fatalf("stored %q version %d, want Asha V version 6", name, version)
	}

	// Someone else's patient is 404 whatever the version: a 412 would
	// tell them it exists.
	other := h.Signup("etagother")
	h.Expect(h.Do("PATCH", path, other.Access, map[string]any{"age": 1}, "If-Match", v1), 404, "someone else's patient with a stale ETag")
	h.Expect(h.Do("DELETE", path, other.Access, nil, "If-Match", v1), 404, "deleting someone else's patient with a stale ETag")
	h.Expect(h.Do("PATCH", patientPath(id+1000), u.Access, map[string]any{"age": 1}, "If-Match", "*"), 404, "If-Match: * of no patient")
}

func TestFiftyConcurrentPatchesWithOneIfMatchMakeOneWinner(t *testing.T) {
	t.Parallel()
	h := newRaceHarness(t)
	u := h.Signup("race")
	id := h.CreatePatient(u, "Start", 40)
	path := patientPath(id)
	tag := mustETag(t, h.Expect(h.Do("GET", path, u.Access, nil), 200, "get"), `W/"1"`)

	const n = 50
	resps := make([]apitest.Response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resps[i] = h.Do("PATCH", path, u.Access, map[string]any{"name": fmt.Sprintf("Writer %d", i), "age": i}, "If-Match", tag)
		}()
	}
	close(start)
	wg.Wait()
	winner, stale := -1, 0
	for i, r := range resps {
		switch r.Status {
		case 200:
			if winner >= 0 {
				t.Fatalf("writers %d and %d both got 200", winner, i)
			}
			winner = i
		case 412:
			if p := apitest.CheckProblem(t, r); p["current_version"] != float64(2) {
				t.Errorf("writer %d's 412 names %v, want current_version 2", i, p["current_version"])
			}
			stale++
		default:
			t.Errorf("writer %d: %d %s", i, r.Status, r.Body)
		}
	}
	if winner < 0 || stale != n-1 {
		t.Fatalf("got winner %d and %d × 412 of %d", winner, stale, n)
	}
	name, version := storedPatient(t, h, id)
	if want := fmt.Sprintf("Writer %d", winner); name != want || version != 2 {
		t.Fatalf("stored %q version %d, want the winner's %q at version 2", name, version, want)
	}
	r := h.Expect(h.Do("GET", path, u.Access, nil), 200, "get the winner's")
	if r.ID(t, "age") != int64(winner) {
		t.Fatalf("patient %s, want the winner's age %d", r.Body, winner)
	}
	mustETag(t, r, `W/"2"`)
}

func TestDeleteWithAStaleVersionLeavesTheRecord(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	u := h.Signup("del")
	id := h.CreatePatient(u, "Keep", 50)
	path := patientPath(id)
	h.Expect(h.Do("PATCH", path, u.Access, map[string]any{"age": 51}), 200, "patch to version 2")

	r := h.Expect(h.Do("DELETE", path, u.Access, nil, "If-Match", `W/"1"`), 412, "delete version 1")
	if p := apitest.CheckProblem(t, r); p["current_version"] != float64(2) {
		t.Fatalf("412 body %s, want current_version 2", r.Body)
	}
	if name, version := storedPatient(t, h, id); name != "Keep" || version != 2 {
		t.Fatalf("after a stale DELETE: %q version %d, want the record kept at version 2", name, version)
	}
	// A well-formed tag this server never made matches no version.
	h.Expect(h.Do("DELETE", path, u.Access, nil, "If-Match", `"abc"`), 412, "delete with a foreign tag")
	h.Expect(h.Do("DELETE", path, u.Access, nil, "If-Match", `W/"2"`), 204, "delete version 2")
	h.Expect(h.Do("GET", path, u.Access, nil), 404, "get after the delete")

	// Doctors: the same, and someone who may not change it learns 403,
	// not the version.
	doc := h.CreateDoctor(u, "Dr Keep", "Oncology")
	dpath := fmt.Sprintf("/api/doctors/%d/", doc)
	r = h.Expect(h.Do("GET", dpath, "", nil), 200, "anonymous get of a doctor")
	mustETag(t, r, `W/"1"`)
	h.Expect(h.Do("PUT", dpath, u.Access, map[string]any{"name": "Dr Keep", "specialization": "Oncology"}, "If-Match", `W/"1"`), 200, "put doctor")
	other := h.Signup("delother")
	h.Expect(h.Do("DELETE", dpath, other.Access, nil, "If-Match", `W/"1"`), 403, "someone else's doctor, stale")
	h.Expect(h.Do("DELETE", dpath, u.Access, nil, "If-Match", `W/"1"`), 412, "own doctor, stale")
	r = h.Expect(h.Do("PATCH", dpath, u.Access, map[string]any{"name": "Dr Late"}, "If-Match", `W/"1"`), 412, "own doctor patched, stale")
	mustETag(t, r, `W/"2"`)
	r = h.Expect(h.Do("GET", dpath, "", nil), 200, "doctor after the 412s")
	if r.ID(t, "version") != 2 || r.JSON(t)["name"] != "Dr Keep" {
		t.Fatalf("doctor %s, want it unchanged at version 2", r.Body)
	}
	r = h.Do("GET", dpath, "", nil, "If-None-Match", `W/"2"`)
	if r.Status != 304 || len(r.Body) != 0 {
		t.Fatalf("doctor GET with its ETag: %d %q, want 304", r.Status, r.Body)
	}
	h.Expect(h.Do("DELETE", dpath, u.Access, nil, "If-Match", `W/"2"`), 204, "own doctor, current")
}

func TestMalformedPreconditionsAre400(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	u := h.Signup("bad")
	id := h.CreatePatient(u, "Bad", 20)
	path := patientPath(id)
	for _, v := range []string{`1`, `W/1`, `W/"1`, `"1", "2"`, `*, W/"1"`, `"1" x`, `""1"`, `W/ "1"`} {
		for _, m := range []string{"PATCH", "PUT", "DELETE"} {
			var body any
			if m != "DELETE" {
				body = map[string]any{"name": "Changed", "age": 1, "gender": "x"}
			}
			r := h.Expect(h.Do(m, path, u.Access, body, "If-Match", v), 400, m+" with If-Match "+v)
			if p := apitest.CheckProblem(t, r); p["code"] != "malformed_precondition" {
				t.Fatalf("%s with If-Match %s: %s, want code malformed_precondition", m, v, r.Body)
			}
		}
		h.Expect(h.Do("GET", path, u.Access, nil, "If-None-Match", v+" junk"), 400, "GET with If-None-Match "+v+" junk")
	}
	if name, version := storedPatient(t, h, id); name != "Bad" || version != 1 {
		t.Fatalf("after malformed preconditions: %q version %d, want it untouched", name, version)
	}
}

func TestRequireIfMatchAnswers428WithoutIt(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, pgtest.New(t), newKey(), Options{RequireIfMatch: true}, database.Options{MaxConns: 4})
	u := h.Signup("strict")
	id := h.CreatePatient(u, "Strict", 60) // creating needs no version
	path := patientPath(id)
	doc := h.CreateDoctor(u, "Dr Strict", "Neurology")
	dpath := fmt.Sprintf("/api/doctors/%d/", doc)
	for _, req := range []struct {
		method, path string
		body         any
	}{
		{"PATCH", path, map[string]any{"age": 61}},
		{"PUT", path, map[string]any{"name": "S", "age": 61, "gender": "x"}},
		{"DELETE", path, nil},
		{"PATCH", dpath, map[string]any{"name": "Dr S"}},
		{"PUT", dpath, map[string]any{"name": "Dr S", "specialization": "x"}},
		{"DELETE", dpath, nil},
	} {
		r := h.Expect(h.Do(req.method, req.path, u.Access, req.body), 428, req.method+" "+req.path+" without If-Match")
		if p := apitest.CheckProblem(t, r); p["code"] != "precondition_required" {
			t.Fatalf("428 body %s, want code precondition_required", r.Body)
		}
	}
	if name, version := storedPatient(t, h, id); name != "Strict" || version != 1 {
		t.Fatalf("after 428s: %q version %d, want it untouched", name, version)
	}
	h.Expect(h.Do("PATCH", path, u.Access, map[string]any{"age": 61}, "If-Match", `W/"1"`), 200, "patch with If-Match")
	h.Expect(h.Do("PATCH", path, u.Access, map[string]any{"age": 62}, "If-Match", "*"), 200, "patch with If-Match: *")
	h.Expect(h.Do("DELETE", dpath, u.Access, nil, "If-Match", `W/"1"`), 204, "delete doctor with If-Match")
}

// historyEntry is one entry of a history answer.
type historyEntry struct {
	Version   int
	Action    string
	ChangedBy *int64 `json:"changed_by"`
	Door      string
	Values    map[string]any
}

func readHistory(t *testing.T, r apitest.Response) (count int, next *string, entries []historyEntry) {
	t.Helper()
	var page struct {
		Count   int
		Next    *string
		Results []historyEntry
	}
	r.Decode(t, &page)
	return page.Count, page.Next, page.Results
}

func TestHistoryListsEveryVersionWithWhoChangedIt(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	owner, admin, other := h.Signup("hist"), h.Signup("histadmin"), h.Signup("histother")
	makeAdmin(t, h, admin)
	id := h.CreatePatient(owner, "V1", 10)
	path := patientPath(id)
	h.Expect(h.Do("PATCH", path, owner.Access, map[string]any{"name": "V2"}, "If-Match", `W/"1"`), 200, "v2")
	h.Expect(h.Do("PATCH", path, admin.Access, map[string]any{"name": "V3"}), 200, "v3 by an admin")
	h.Expect(h.Do("PUT", path, owner.Access, map[string]any{"name": "V4", "age": 11, "gender": "male"}), 200, "v4")
	h.Expect(h.Do("PATCH", path, owner.Access, map[string]any{"name": "never"}, "If-Match", `W/"1"`), 412, "a stale write makes no version")

	count, _, entries := readHistory(t, h.Expect(h.Do("GET", path+"history/", owner.Access, nil), 200, "history"))
	want := []struct {
		version int
		action  string
		by      int64
		name    string
	}{{4, "update", owner.ID, "V4"}, {3, "update", admin.ID, "V3"}, {2, "update", owner.ID, "V2"}, {1, "create", owner.ID, "V1"}}
	if count != len(want) || len(entries) != len(want) {
		t.Fatalf("history has %d entries (count %d), want %d: %+v", len(entries), count, len(want), entries)
	}
	for i, w := range want {
		e := entries[i]
		if e.Version != w.version || e.Action != w.action || e.ChangedBy == nil || *e.ChangedBy != w.by || e.Door != "rest" ||
			e.Values["name"] != w.name || e.Values["version"] != float64(w.version) || e.Values["id"] != float64(id) {
			t.Errorf("entry %d = %+v, want version %d %s by %d with name %s", i, e, w.version, w.action, w.by, w.name)
		}
	}
	// Paginated like the other lists.
	count, next, entries := readHistory(t, h.Expect(h.Do("GET", path+"history/?limit=1&offset=1", owner.Access, nil), 200, "page 2"))
	if count != 4 || len(entries) != 1 || entries[0].Version != 3 || next == nil || *next != fmt.Sprintf("/api/patients/%d/history/?limit=1&offset=2", id) {
		t.Fatalf("page 2: count %d next %v entries %+v", count, next, entries)
	}
	r := h.Expect(h.Do("GET", path+"history/2/", owner.Access, nil), 200, "version 2")
	var one historyEntry
	r.Decode(t, &one)
	if one.Version != 2 || one.Values["name"] != "V2" || one.Values["age"] != float64(10) {
		t.Fatalf("version 2 = %s", r.Body)
	}
	h.Expect(h.Do("GET", path+"history/5/", owner.Access, nil), 404, "a version that never was")
	h.Expect(h.Do("GET", path+"history/0/", owner.Access, nil), 404, "version 0")
	h.Expect(h.Do("GET", path+"history/", other.Access, nil), 404, "someone else's history")
	h.Expect(h.Do("GET", path+"history/1/", other.Access, nil), 404, "someone else's version")
	h.Expect(h.Do("GET", path+"history/", admin.Access, nil), 200, "an admin reads any history")

	// Reading the history is a read of the patient, in its access log.
	var reads int
	if err := h.tdb.Pool.QueryRow(context.Background(), `select count(*) from audit.events
		where patient_id = $1 and action = 'read' and outcome = 'ok' and detail ->> 'object' = 'patient_history'`, id).Scan(&reads); err != nil {
		t.Fatal(err)
	}
	if reads != 4 {
		t.Fatalf("%d history reads recorded, want 4 (two pages and one version for the owner, a list for the admin)", reads)
	}

	// Deleted: the history is the admins' alone.
	h.Expect(h.Do("DELETE", path, owner.Access, nil, "If-Match", `W/"4"`), 204, "delete")
	h.Expect(h.Do("GET", path+"history/", owner.Access, nil), 404, "owner reads a deleted patient's history")
	count, _, entries = readHistory(t, h.Expect(h.Do("GET", path+"history/", admin.Access, nil), 200, "admin reads a deleted patient's history"))
	if count != 5 || entries[0].Action != "delete" || entries[0].Version != 4 || entries[0].Values != nil || *entries[0].ChangedBy != owner.ID {
		t.Fatalf("deleted patient's history: count %d, first %+v; want 5 entries, the delete of version 4 by the owner first", count, entries[0])
	}
	r = h.Expect(h.Do("GET", path+"history/4/", admin.Access, nil), 200, "admin reads a deleted patient's last version")
	r.Decode(t, &one)
	if one.Action != "update" || one.Values["name"] != "V4" {
		t.Fatalf("deleted patient's version 4 = %s", r.Body)
	}
	h.Expect(h.Do("GET", patientPath(id+1000)+"history/", admin.Access, nil), 404, "history of a patient that never was")
}

func TestDoctorHistoryIsPublic(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	u, admin := h.Signup("dochist"), h.Signup("dochistadmin")
	makeAdmin(t, h, admin)
	doc := h.CreateDoctor(u, "Dr One", "Cardiology")
	dpath := fmt.Sprintf("/api/doctors/%d/", doc)
	h.Expect(h.Do("PATCH", dpath, u.Access, map[string]any{"specialization": "Surgery"}, "If-Match", `W/"1"`), 200, "v2")
	h.Expect(h.Do("PATCH", dpath, admin.Access, map[string]any{"name": "Dr Uno"}, "If-Match", `W/"2"`), 200, "v3 by an admin")

	// Anonymous callers see who changed it only when that was its creator
	// (created_by is public): an author may be the account linked to the
	// record, which only admins and that account see (issue 24).
	for _, who := range []struct {
		desc, access string
		admin        int64
	}{{"anonymous history", "", 0}, {"admin's history", admin.Access, admin.ID}} {
		count, _, entries := readHistory(t, h.Expect(h.Do("GET", dpath+"history/", who.access, nil), 200, who.desc))
		if count != 3 || len(entries) != 3 {
			t.Fatalf("doctor history %+v, want 3 entries", entries)
		}
		for i, w := range []struct {
			version  int
			by       int64
			name, sp string
		}{{3, who.admin, "Dr Uno", "Surgery"}, {2, u.ID, "Dr One", "Surgery"}, {1, u.ID, "Dr One", "Cardiology"}} {
			e := entries[i]
			var by int64
			if e.ChangedBy != nil {
				by = *e.ChangedBy
			}
			if e.Version != w.version || by != w.by || e.Values["name"] != w.name || e.Values["specialization"] != w.sp {
				t.Errorf("%s: entry %d = %+v, want version %d by %d: %s, %s", who.desc, i, e, w.version, w.by, w.name, w.sp)
			}
		}
	}
	r := h.Expect(h.Do("GET", dpath+"history/1/", "", nil), 200, "anonymous version 1")
	var one historyEntry
	r.Decode(t, &one)
	if one.Action != "create" || one.Values["specialization"] != "Cardiology" {
		t.Fatalf("version 1 = %s", r.Body)
	}
	h.Expect(h.Do("DELETE", dpath, u.Access, nil), 204, "remove the doctor")
	h.Expect(h.Do("GET", dpath+"history/", "", nil), 404, "a removed doctor's history, anonymously")
	h.Expect(h.Do("GET", dpath+"history/", u.Access, nil), 404, "a removed doctor's history, by its creator")
	count, _, entries := readHistory(t, h.Expect(h.Do("GET", dpath+"history/", admin.Access, nil), 200, "a removed doctor's history, by an admin"))
	if count != 4 || entries[0].Action != "delete" {
		t.Fatalf("removed doctor's history for an admin: %d, %+v", count, entries)
	}
}

func TestBodyVersion(t *testing.T) {
	for body, want := range map[string]string{
		`{"id" : 12, "version" : 7, "name" : "x"}`:                      "7",
		`{"id" : 9223372036854775807, "version" : 2147483647, "x" : 1}`: "2147483647",
		`{"id" : 1, "name" : "\"version\" : 5"}`:                        "",
		`{"error" : {"code" : "RNTFD"}}`:                                "",
		`{"id" : 1, "version" : }`:                                      "",
	} {
		if got := string(bodyVersion([]byte(body))); got != want {
			t.Errorf("bodyVersion(%s) = %q, want %q", body, got, want)
		}
	}
}
