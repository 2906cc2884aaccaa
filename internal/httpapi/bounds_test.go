package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"healthcare/internal/auth"
	"healthcare/internal/database"
	"healthcare/internal/openapi/openapitest"
	"healthcare/internal/pgtest"
)

// limitProbe sends one request field's values to the api function its
// route calls, on a migrated database, as the server would.
type limitProbe struct {
	// field is what the database must name when it refuses a value.
	field string
	// text makes a value of n characters (string fields only).
	text func(n int) string
	call func(v any) error
	// maxGap, when set, says why the documented maximum is not tried.
	maxGap string
}

// boundsExempt are the documented bounds that are not the database's,
// with the reason.
var boundsExempt = map[string]string{
	"createMapping.patient":  "a record id: positive by the handler's shape check; a non-positive id names no record",
	"createMapping.doctor":   "a record id: positive by the handler's shape check; a non-positive id names no record",
	"id":                     "a path id: anything but a positive int64 is 404 before the database (pathID)",
	"patient_id":             "a path id: anything but a positive int64 is 404 before the database (pathID)",
	"register.password":      "the database sees only the hash; checked against auth.MinPasswordLength below",
	"patient":                "an audit filter id: positive by the handler's shape check (auditEvents); a non-positive id names no record",
	"user":                   "an audit filter id: positive by the handler's shape check (auditEvents); a non-positive id names no record",
	"version":                "a path version: anything but a positive int32 is 404 before the database (pathVersion)",
	"linkDoctorAccount.user": "a record id: positive by the handler's shape check; a non-positive id names no account",
}

// probeDB is a migrated database with one user, who owns a patient and a
// doctor, and helpers to call the api functions as that user.
type probeDB struct {
	t       *testing.T
	ctx     context.Context
	tdb     *pgtest.DB
	db      *database.DB
	as      database.Identity
	patient int64
	doctor  int64
	seq     int
}

func newProbeDB(t *testing.T) *probeDB {
	t.Helper()
	p := &probeDB{t: t, ctx: context.Background(), tdb: pgtest.New(t)}
	db, err := database.Open(p.ctx, p.tdb.AppURL(), database.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	p.db = db
	owner, err := p.register(p.uniqueName(), "")
	if err != nil {
		t.Fatal(err)
	}
	p.as = database.Identity{UserID: owner}
	p.patient = p.mustID(database.FnCreatePatient, "Probe Patient", int32(30), nil)
	p.doctor = p.mustID(database.FnCreateDoctor, "Dr. Probe", "Probing")
	return p
}

func (p *probeDB) uniqueName() string {
	p.seq++
	return fmt.Sprintf("probe%d", p.seq)
}

// register calls api.register anonymously, as POST /api/auth/register/
// does, and returns the new user's id.
func (p *probeDB) register(username, email string) (int64, error) {
	raw, err := p.db.Call(p.ctx, database.Identity{}, database.FnRegister, username, email, pgtest.FakeHash)
	if err != nil {
		return 0, err
	}
	var u struct{ ID int64 }
	if err := json.Unmarshal(raw, &u); err != nil {
		return 0, err
	}
	return u.ID, nil
}

func (p *probeDB) call(fn database.Func, args ...any) error {
	_, err := p.db.Call(p.ctx, p.as, fn, args...)
	return err
}

func (p *probeDB) mustID(fn database.Func, args ...any) int64 {
	p.t.Helper()
	raw, err := p.db.Call(p.ctx, p.as, fn, args...)
	if err != nil {
		p.t.Fatalf("api.%s: %v", fn.Name(), err)
	}
	var rec struct{ ID int64 }
	if err := json.Unmarshal(raw, &rec); err != nil {
		p.t.Fatal(err)
	}
	return rec.ID
}

// repeat makes n-character values of a two-byte character, so a limit in
// bytes would not pass for one in characters.
func repeat(n int) string { return strings.Repeat("é", n) }

// probes are keyed by operationId.property for request bodies and by
// name for parameters.
func (p *probeDB) probes() map[string]limitProbe {
	patient, doctor := p.patient, p.doctor
	username := func(n int) string {
		s := p.uniqueName()
		if n < len(s) {
			return strings.Repeat("z", n) // n is 0 or 1 here, each sent once
		}
		return s + strings.Repeat("x", n-len(s))
	}
	email := func(n int) string {
		const domain = "@example.com"
		if n <= len(domain) {
			return strings.Repeat("e", n) // not an address: only n = 0 is used
		}
		return strings.Repeat("e", n-len(domain)) + domain
	}
	call := p.call
	return map[string]limitProbe{
		"createPatient.name":   {field: "name", text: repeat, call: func(v any) error { return call(database.FnCreatePatient, v, int32(30), nil) }},
		"createPatient.age":    {field: "age", call: func(v any) error { return call(database.FnCreatePatient, "P", v, nil) }},
		"replacePatient.name":  {field: "name", text: repeat, call: func(v any) error { return call(database.FnUpdatePatient, patient, v, int32(30), "other", nil) }},
		"replacePatient.age":   {field: "age", call: func(v any) error { return call(database.FnUpdatePatient, patient, "P", v, "other", nil) }},
		"updatePatient.name":   {field: "name", text: repeat, call: func(v any) error { return call(database.FnUpdatePatient, patient, v, nil, nil, nil) }},
		"updatePatient.age":    {field: "age", call: func(v any) error { return call(database.FnUpdatePatient, patient, nil, v, nil, nil) }},
		"createPatient.gender": {field: "gender", text: repeat, call: func(v any) error { return call(database.FnCreatePatient, "P", int32(30), v) }},
		"replacePatient.gender": {field: "gender", text: repeat,
			call: func(v any) error { return call(database.FnUpdatePatient, patient, "P", int32(30), v, nil) }},
		"updatePatient.gender": {field: "gender", text: repeat, call: func(v any) error { return call(database.FnUpdatePatient, patient, nil, nil, v, nil) }},

		"createDoctor.name":            {field: "name", text: repeat, call: func(v any) error { return call(database.FnCreateDoctor, v, "Spec") }},
		"createDoctor.specialization":  {field: "specialization", text: repeat, call: func(v any) error { return call(database.FnCreateDoctor, "Dr", v) }},
		"replaceDoctor.name":           {field: "name", text: repeat, call: func(v any) error { return call(database.FnUpdateDoctor, doctor, v, "Spec", nil) }},
		"replaceDoctor.specialization": {field: "specialization", text: repeat, call: func(v any) error { return call(database.FnUpdateDoctor, doctor, "Dr", v, nil) }},
		"updateDoctor.name":            {field: "name", text: repeat, call: func(v any) error { return call(database.FnUpdateDoctor, doctor, v, nil, nil) }},
		"updateDoctor.specialization":  {field: "specialization", text: repeat, call: func(v any) error { return call(database.FnUpdateDoctor, doctor, nil, v, nil) }},

		"register.username": {field: "username", text: username, call: func(v any) error { _, err := p.register(v.(string), ""); return err }},
		"register.email":    {field: "email", text: email, call: func(v any) error { _, err := p.register(p.uniqueName(), v.(string)); return err }},

		"limit": {field: "limit", call: func(v any) error { return call(database.FnListDoctors, nil, nil, v, nil) }},
		"offset": {field: "offset", call: func(v any) error { return call(database.FnListDoctors, nil, nil, nil, v) },
			maxGap: "the maximum is the int parameter's, but app.page adds offset and limit as int, so an offset " +
				"within a page of 2147483647 overflows (400 without a field) instead of answering an empty page"},
	}
}

func hasBounds(s *openapi3.Schema) bool {
	return s.MaxLength != nil || s.MinLength > 0 || s.Min != nil || s.Max != nil
}

// check tries the documented bounds of one field: each bound is accepted
// and one step beyond it is refused with a 400 naming the field.
func (lp limitProbe) check(t *testing.T, key string, s *openapi3.Schema) {
	t.Helper()
	accepted := func(what string, v any) {
		t.Helper()
		if err := lp.call(v); err != nil {
			t.Errorf("%s: %s is refused by the database: %v", key, what, err)
		}
	}
	refused := func(what string, v any) {
		t.Helper()
		err := lp.call(v)
		if err == nil {
			t.Errorf("%s: %s is accepted by the database", key, what)
			return
		}
		e := toAPIError(err)
		if e.status != 400 || !slices.ContainsFunc(e.fields, func(f fieldError) bool { return f.Field == lp.field }) {
			t.Errorf("%s: %s: answered %d %v, want 400 naming %s (%v)", key, what, e.status, e.fields, lp.field, err)
		}
	}
	if lp.text != nil {
		lo := int(s.MinLength)
		if lo > 0 {
			refused(fmt.Sprintf("minLength %d - 1", lo), lp.text(lo-1))
		}
		accepted(fmt.Sprintf("minLength %d", lo), lp.text(lo))
		if s.MaxLength == nil {
			accepted("a value of 1000 characters (no maxLength documented)", lp.text(1000))
			return
		}
		hi := int(*s.MaxLength)
		accepted(fmt.Sprintf("maxLength %d", hi), lp.text(hi))
		refused(fmt.Sprintf("maxLength %d + 1", hi), lp.text(hi+1))
		return
	}
	// Integers: the api functions take int, so int32 bounds are the type's.
	lo, hi := float64(math.MinInt32), float64(math.MaxInt32)
	if s.Min != nil {
		lo = *s.Min
	}
	if s.Max != nil {
		hi = *s.Max
	}
	accepted(fmt.Sprintf("minimum %v", lo), int32(lo))
	if lo > math.MinInt32 {
		refused(fmt.Sprintf("minimum %v - 1", lo), int32(lo-1))
	}
	if lp.maxGap != "" {
		t.Logf("%s: maximum %v not tried: %s", key, hi, lp.maxGap)
		return
	}
	accepted(fmt.Sprintf("maximum %v", hi), int32(hi))
	if hi < math.MaxInt32 {
		refused(fmt.Sprintf("maximum %v + 1", hi), int32(hi+1))
	}
}

// TestOpenAPIBoundsAreTheDatabases: every length and range openapi.yaml
// documents for a request body or parameter is the one the database
// enforces. Each is tried at the bound and one step past it through the
// api function its route calls; a documented bound without a probe (or
// an exemption saying whose it is) fails the test, as does a probe whose
// field the document no longer bounds.
func TestOpenAPIBoundsAreTheDatabases(t *testing.T) {
	t.Parallel()
	doc, err := openapitest.Document()
	if err != nil {
		t.Fatal(err)
	}
	p := newProbeDB(t)
	probes := p.probes()
	used := map[string]bool{}
	type fieldSchema struct {
		key string
		s   *openapi3.Schema
	}
	tried := map[fieldSchema]bool{} // parameters are shared by several operations
	try := func(key string, s *openapi3.Schema) {
		if !hasBounds(s) || tried[fieldSchema{key, s}] {
			return
		}
		tried[fieldSchema{key, s}] = true
		if _, ok := boundsExempt[key]; ok {
			used[key] = true
			return
		}
		lp, ok := probes[key]
		if !ok {
			t.Errorf("%s has bounds in openapi.yaml but no probe in this test: whose limit is it?", key)
			return
		}
		used[key] = true
		lp.check(t, key, s)
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, prm := range append(slices.Clone(item.Parameters), op.Parameters...) {
				if prm.Value.Schema != nil {
					try(prm.Value.Name, prm.Value.Schema.Value)
				}
			}
			if op.RequestBody == nil {
				continue
			}
			mt := op.RequestBody.Value.Content.Get("application/json")
			if mt == nil || mt.Schema == nil {
				continue
			}
			for name, prop := range mt.Schema.Value.Properties {
				try(op.OperationID+"."+name, prop.Value)
			}
		}
	}
	for key := range probes {
		if !used[key] {
			t.Errorf("probe %s matches no bounded field of openapi.yaml", key)
		}
	}
	for key := range boundsExempt {
		if !used[key] {
			t.Errorf("exemption %s matches no bounded field of openapi.yaml", key)
		}
	}

	// The passwords' bound is Go's: the database never sees a password.
	pw := doc.Components.Schemas["RegisterInput"].Value.Properties["password"].Value
	if pw.MinLength != auth.MinPasswordLength {
		t.Errorf("RegisterInput.password minLength %d, auth.MinPasswordLength %d", pw.MinLength, auth.MinPasswordLength)
	}

	// The page size's default is the database's (app.page_limit).
	limit := doc.Components.Parameters["Limit"].Value.Schema.Value
	want, _ := limit.Default.(float64)
	for i := range int(want) + 1 {
		p.mustID(database.FnCreateDoctor, fmt.Sprintf("Dr. Page %d", i), "Paging")
	}
	raw, err := p.db.Call(p.ctx, p.as, database.FnListDoctors, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var page struct{ Results []json.RawMessage }
	if err := json.Unmarshal(raw, &page); err != nil {
		t.Fatal(err)
	}
	if want == 0 || len(page.Results) != int(want) {
		t.Errorf("Limit default %v in openapi.yaml; the database's page holds %d", limit.Default, len(page.Results))
	}
}

// TestGenderEnumIsTheDatabases: the FHIR genders openapi.yaml lists for
// gender_fhir are the ones patients_gender_fhir_check allows (gender itself
// is free text, bounded in TestOpenAPIBoundsAreTheDatabases).
func TestGenderEnumIsTheDatabases(t *testing.T) {
	t.Parallel()
	doc, err := openapitest.Document()
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, v := range doc.Components.Schemas["Patient"].Value.Properties["gender_fhir"].Value.Enum {
		documented = append(documented, fmt.Sprint(v))
	}
	tdb := pgtest.New(t)
	var def string
	err = tdb.Pool.QueryRow(context.Background(), `select pg_get_constraintdef(oid) from pg_constraint
		where conname = 'patients_gender_fhir_check' and conrelid = 'app.patients'::regclass`).Scan(&def)
	if err != nil {
		t.Fatal(err)
	}
	var allowed []string
	for _, m := range regexp.MustCompile(`'([^']*)'::text`).FindAllStringSubmatch(def, -1) {
		allowed = append(allowed, m[1])
	}
	slices.Sort(documented)
	slices.Sort(allowed)
	if len(allowed) == 0 || !slices.Equal(documented, allowed) {
		t.Fatalf("openapi.yaml's Patient.gender_fhir enum %v; the database allows %v (%s)", documented, allowed, def)
	}
}

// TestUsernameShapeIsTheDatabases: the handler checks usernames before
// hashing the password (validUsername), the document states the rule as a
// pattern and bounds, and the database has the last word. All three agree.
func TestUsernameShapeIsTheDatabases(t *testing.T) {
	t.Parallel()
	doc, err := openapitest.Document()
	if err != nil {
		t.Fatal(err)
	}
	s := doc.Components.Schemas["RegisterInput"].Value.Properties["username"].Value
	pattern := regexp.MustCompile(s.Pattern)
	documented := func(name string) bool {
		n := len([]rune(name))
		return pattern.MatchString(name) && uint64(n) >= s.MinLength && (s.MaxLength == nil || uint64(n) <= *s.MaxLength)
	}
	p := newProbeDB(t)
	for _, name := range []string{
		"alice", "A.b-c_d@e+f", "0", "no spaces", "José", "tab\there", "semi;colon", "slash/ed", "per%cent",
		"", strings.Repeat("x", maxUsernameLen), strings.Repeat("y", maxUsernameLen+1), "new\nline", "ünïcode",
	} {
		_, err := p.register(name, "")
		stored := err == nil
		if !stored {
			if e := toAPIError(err); e.status != 400 || len(e.fields) != 1 || e.fields[0].Field != "username" {
				t.Errorf("%q: refused with %d %v (%v), want 400 naming username", name, e.status, e.fields, err)
			}
		}
		if validUsername(name) != stored || documented(name) != stored {
			t.Errorf("%q: the database stores it: %v; validUsername: %v; openapi.yaml allows it: %v",
				name, stored, validUsername(name), documented(name))
		}
	}
}
