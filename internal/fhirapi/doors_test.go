package fhirapi_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/pgtest"
)

// psql runs one statement as a personal psql login linked to the app user
// uid (the psql door), with app.fhir_base set to base, and returns its text.
func (h *harness) psql(uid int64, base, sql string, args ...any) string {
	h.t.Helper()
	out, err := h.psqlErr(uid, base, sql, args...)
	if err != nil {
		h.t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// psqlErr is psql returning the statement's error instead of failing.
func (h *harness) psqlErr(uid int64, base, sql string, args ...any) (string, error) {
	h.t.Helper()
	role := fmt.Sprintf("fhir_psql_%d", uid)
	h.tdb.EnsureLogin(h.t, role, "healthcare_user")
	ctx := context.Background()
	if _, err := h.tdb.Pool.Exec(ctx, "update app.users set db_role = $1 where id = $2", role, uid); err != nil {
		h.t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, h.tdb.LoginURL(role))
	if err != nil {
		h.t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "select set_config('app.fhir_base', $1, false)", base); err != nil {
		h.t.Fatal(err)
	}
	var out string
	err = conn.QueryRow(ctx, sql, args...).Scan(&out)
	return out, err
}

func TestPsqlGetsTheSameResources(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	owner := h.Signup("fhirpsql")
	id := h.create(owner.Access, patient("Psql Person", 61, "other", "Non-binary"))
	h.create(owner.Access, patient("Psql Second", 62, "male", ""))

	rest := h.must("GET", "/Patient/"+id, owner.Access, nil, 200).body
	if got := h.psql(owner.ID, h.base, "select fhir.patient($1)::text", id); got != string(rest) {
		t.Errorf("psql read differs:\n%s\n%s", got, rest)
	}
	search := h.must("GET", "/Patient?name=psql&_count=1", owner.Access, nil, 200).body
	got := h.psql(owner.ID, h.base, "select fhir.patient_search(p_name => 'psql', p_count => 1)::text")
	if got != string(search) {
		t.Errorf("psql search differs:\n%s\n%s", got, search)
	}
	hist := h.must("GET", "/Patient/"+id+"/_history", owner.Access, nil, 200).body
	if got := h.psql(owner.ID, h.base, "select fhir.patient_history($1)::text", id); got != string(hist) {
		t.Errorf("psql history differs:\n%s\n%s", got, hist)
	}
	// Bundles differ between doors only in the base.
	other := "https://records.example.org/fhir"
	got = h.psql(owner.ID, other, "select fhir.patient_search(p_name => 'psql', p_count => 1)::text")
	if want := strings.ReplaceAll(string(search), h.base, other); got != want {
		t.Errorf("with another base:\n%s\nwant\n%s", got, want)
	}
	// The base: a trailing slash is dropped; none, or one that is not an
	// absolute http(s) URL without query, is refused with a clear error.
	if got = h.psql(owner.ID, other+"/", "select fhir.patient_search(p_name => 'psql', p_count => 1)::text"); !strings.Contains(got, `"`+other+`/Patient?name=psql&_count=1`) {
		t.Errorf("a base with a trailing slash: %s", got)
	}
	for _, bad := range []string{"", "ftp://records.example.org/fhir", "https://records.example.org/fhir?x=1", "records.example.org"} {
		_, err := h.psqlErr(owner.ID, bad, "select fhir.patient_search()::text")
		if e := pgtest.PgError(err); e.Code != "RINVL" || e.ColumnName != "base" || !strings.Contains(e.Message, "base URL") {
			t.Errorf("base %q: %v; want RINVL on base", bad, err)
		}
	}
	// Another user's psql login gets the refusal, not the patient: at the
	// psql door a refusal is an error (issue 25).
	stranger := h.Signup("fhirpsqlother")
	if got, err := h.psqlErr(stranger.ID, h.base, "select fhir.patient($1)::text", id); pgtest.PgError(err).Code != "RNTFD" {
		t.Errorf("stranger's psql read: %s, %v; want the error RNTFD", got, err)
	}
}

func TestEveryFHIRInteractionIsAnAuditEvent(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	owner := h.Signup("fhiraudit")
	id := h.create(owner.Access, patient("Audit Person", 30, "", ""))
	upd := patient("Audit Person", 31, "", "")
	upd["id"] = id
	h.must("PUT", "/Patient/"+id, owner.Access, upd, 200)
	h.must("GET", "/Patient/"+id, owner.Access, nil, 200)
	h.must("GET", "/Patient?name=audit", owner.Access, nil, 200)
	h.must("GET", "/Patient/"+id+"/_history", owner.Access, nil, 200)
	h.must("GET", "/Patient/"+id+"/_history/1", owner.Access, nil, 200)
	stranger := h.Signup("fhirauditother")
	h.must("GET", "/Patient/"+id, stranger.Access, nil, 404)

	var log struct {
		Results []struct {
			User    int64
			Action  string
			Outcome string
			Detail  map[string]any
		}
	}
	h.Must("GET", "/api/patients/"+id+"/access-log/", owner.Access, nil, 200).Decode(t, &log)
	seen := map[string]int{}
	for _, e := range log.Results {
		if e.Detail["via"] == "fhir" {
			seen[e.Action+" "+fmt.Sprint(e.Detail["object"])]++
		}
	}
	for _, want := range []string{"create patient", "update patient", "read patient", "list patient", "read patient_history"} {
		if seen[want] == 0 {
			t.Errorf("no %q event with via fhir in the access log: %v", want, seen)
		}
	}
	if seen["read patient_history"] != 2 {
		t.Errorf("history and vread: %d events, want 2", seen["read patient_history"])
	}
	// The stranger's refused read is recorded (admins see it).
	admin := h.admin("fhirauditadmin")
	var all struct {
		Results []struct {
			User    int64
			Outcome string
			Detail  map[string]any
		}
	}
	h.Must("GET", "/api/audit/events/?patient="+url.QueryEscape(id), admin.Access, nil, 200).Decode(t, &all)
	found := false
	for _, e := range all.Results {
		found = found || (e.User == stranger.ID && e.Outcome == "forbidden" && e.Detail["via"] == "fhir")
	}
	if !found {
		t.Errorf("the stranger's refused FHIR read is not in the trail")
	}
}
