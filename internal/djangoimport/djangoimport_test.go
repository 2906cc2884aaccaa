package djangoimport_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"healthcare/internal/djangoimport"
	"healthcare/internal/pgtest"
)

// The Django system's users log in over REST with their old passwords and
// read their own patients and mappings by the same ids; superusers are
// admins; the first login stores argon2id; new records continue after the
// imported ids; the trail holds one summary event per table.
func TestImportKeepsIdsAndPasswords(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	d := newDjango(t, tdb, "core")
	c := seedClinic(t, d, "core")
	rep, err := importInto(t, tdb, d, djangoimport.Options{})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if rep.App != "core" || rep.FoundBy != "django_content_type" || rep.Admins != 1 || rep.Inactive != 1 {
		t.Fatalf("report = %+v", rep)
	}
	want := map[string]string{"app.users": "1-2, 4-6", "app.doctors": "2, 9", "app.patients": "3, 17-18", "app.patient_doctors": "4, 11-12"}
	for _, tb := range rep.Tables {
		if tb.IDs() != want[tb.Name] {
			t.Errorf("%s: ids %s, want %s", tb.Name, tb.IDs(), want[tb.Name])
		}
	}
	var unusable []string
	for _, u := range rep.Unusable {
		unusable = append(unusable, fmt.Sprintf("%d %s %s", u.ID, u.Username, u.Format))
	}
	if got := strings.Join(unusable, "; "); got != "5 chen bcrypt_sha256; 6 dora unusable" {
		t.Fatalf("unusable passwords = %q", got)
	}

	// The import wrote no per-row event.
	if n := count(t, tdb, `select count(*) from audit.events where action <> 'import'`); n != 0 {
		t.Fatalf("%d per-row events for imported records", n)
	}

	api := server(t, tdb)
	asha := api.Login("asha", c.ashaPW)
	p := api.Must("GET", "/api/patients/17/", asha.Access, nil, 200).JSON(t)
	if p["name"] != "Asha's father" || p["age"] != float64(71) || p["gender"] != "male" || p["gender_fhir"] != "male" || p["user"] != float64(2) {
		t.Fatalf("patient 17 = %v", p)
	}
	if ids := api.Must("GET", "/api/patients/", asha.Access, nil, 200).IDs(t); fmt.Sprint(ids) != "[3 17]" {
		t.Fatalf("asha's patients = %v", ids)
	}
	if ids := api.Must("GET", "/api/mappings/", asha.Access, nil, 200).IDs(t); fmt.Sprint(ids) != "[4 11]" {
		t.Fatalf("asha's mappings = %v", ids)
	}
	m := api.Must("GET", "/api/mappings/4/", asha.Access, nil, 200).JSON(t)
	if m["patient"] != float64(17) || m["doctor"] != float64(9) {
		t.Fatalf("mapping 4 = %v", m)
	}
	if doc := api.Must("GET", "/api/doctors/9/", "", nil, 200).JSON(t); doc["name"] != "Dr. Iyer" || doc["created_by"] != nil {
		t.Fatalf("doctor 9 = %v (name trimmed as the api trims it, no creator)", doc)
	}
	api.Must("GET", "/api/patients/18/", asha.Access, nil, 404)

	bilal := api.Login("bilal", c.bilalPW)
	if ids := api.Must("GET", "/api/patients/", bilal.Access, nil, 200).IDs(t); fmt.Sprint(ids) != "[18]" {
		t.Fatalf("bilal's patients = %v", ids)
	}
	admin := api.Login("clinic_admin", c.adminPW)
	if me := api.Must("GET", "/api/auth/me/", admin.Access, nil, 200).JSON(t); me["is_admin"] != true || me["id"] != float64(1) {
		t.Fatalf("the Django superuser = %v", me)
	}
	api.Must("GET", "/api/patients/18/", admin.Access, nil, 200)
	api.Must("POST", "/api/auth/login/", "", map[string]any{"username": "chen", "password": c.chenPW}, 401)
	api.Must("POST", "/api/auth/login/", "", map[string]any{"username": "asha", "password": c.bilalPW}, 401)

	// After their logins the hashes are argon2id; the others are as imported.
	ctx := context.Background()
	rows, err := tdb.Pool.Query(ctx, `select username || ' ' || split_part(password_hash, '$', 1) || split_part(password_hash, '$', 2)
	                                     from app.users order by id`)
	if err != nil {
		t.Fatal(err)
	}
	var hashes []string
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		hashes = append(hashes, s)
	}
	rows.Close()
	if got := strings.Join(hashes, ", "); !strings.HasPrefix(got, "clinic_admin argon2id, asha argon2id, bilal argon2id, chen !unusable: bcrypt_sha256, dora !") {
		t.Fatalf("stored hashes after the logins: %s", got)
	}
	var joined string
	if err := tdb.Pool.QueryRow(ctx, `select date_joined::text from app.users where id = 2`).Scan(&joined); err != nil || !strings.HasPrefix(joined, "2024-03-02 09:30:00") {
		t.Fatalf("asha's date_joined = %q, %v", joined, err)
	}

	// Each imported record's history starts with its import, as version 1.
	type entry struct {
		Version int
		Action  string
		Values  map[string]any
	}
	var history struct {
		Count   int
		Results []entry
	}
	api.Must("GET", "/api/patients/17/history/", asha.Access, nil, 200).Decode(t, &history)
	if history.Count != 1 || history.Results[0].Action != "import" || history.Results[0].Version != 1 || history.Results[0].Values["age"] != float64(71) {
		t.Fatalf("patient 17's history before any change = %+v", history)
	}
	api.Must("PATCH", "/api/patients/17/", asha.Access, map[string]any{"age": 72}, 200)
	api.Must("GET", "/api/patients/17/history/", asha.Access, nil, 200).Decode(t, &history)
	if history.Count != 2 || history.Results[0].Action != "update" || history.Results[0].Version != 2 ||
		history.Results[1].Action != "import" || history.Results[1].Values["age"] != float64(71) {
		t.Fatalf("patient 17's history after a change = %+v", history)
	}
	var v1 entry
	api.Must("GET", "/api/patients/17/history/1/", asha.Access, nil, 200).Decode(t, &v1)
	if v1.Action != "import" || v1.Values["age"] != float64(71) || v1.Values["name"] != "Asha's father" {
		t.Fatalf("patient 17 version 1 = %+v", v1)
	}
	api.Must("GET", "/api/doctors/9/history/", "", nil, 200).Decode(t, &history)
	if history.Count != 1 || history.Results[0].Action != "import" || history.Results[0].Values["name"] != "Dr. Iyer" {
		t.Fatalf("doctor 9's history = %+v", history)
	}
	api.Must("GET", "/api/patients/3/history/", bilal.Access, nil, 404)

	// New records continue after the imported ids.
	newID := api.Must("POST", "/api/patients/", asha.Access, map[string]any{"name": "New", "age": 5}, 201).ID(t, "id")
	if newID != 19 {
		t.Fatalf("first new patient id %d, want 19 (after the highest imported id, 18)", newID)
	}
	api.Must("GET", "/api/patients/19/history/", asha.Access, nil, 200).Decode(t, &history)
	if history.Count != 1 || history.Results[0].Action != "create" {
		t.Fatalf("a new patient's history = %+v", history)
	}
	newUser := api.Signup("newcomer")
	if newUser.ID != 7 {
		t.Fatalf("first new user id %d, want 7", newUser.ID)
	}

	// One summary event per table and the import row.
	var summary string
	if err := tdb.Pool.QueryRow(ctx, `select string_agg(format('%s %s %s %s', detail->>'object', detail->>'table', detail->>'count', detail->'ranges'), '; ' order by id)
	                                    from audit.events where action = 'import'`).Scan(&summary); err != nil {
		t.Fatal(err)
	}
	if summary != "user auth_user 5 [[1, 2], [4, 6]]; doctor core_doctor 2 [[2, 2], [9, 9]]; patient core_patient 3 [[3, 3], [17, 18]]; mapping core_patientdoctor 3 [[4, 4], [11, 12]]" {
		t.Fatalf("import events: %s", summary)
	}
	if n := count(t, tdb, `select count(*) from app.imports where app_label = 'core' and counts->>'core_patient' = '3'`); n != 1 {
		t.Fatalf("app.imports rows = %d", n)
	}

	// The login throttle counts an imported account's failures like any
	// other's: after the per-account limit, 429 even with the password.
	status := 0
	for i := 0; i < 20 && status != 429; i++ {
		status = api.Do("POST", "/api/auth/login/", "", map[string]any{"username": "bilal", "password": "wrong " + c.bilalPW}).Status
	}
	if status != 429 {
		t.Fatalf("20 wrong passwords for an imported account: last status %d, want 429", status)
	}
	api.Must("POST", "/api/auth/login/", "", map[string]any{"username": "bilal", "password": c.bilalPW}, 429)
}

// The dry run reports what it would copy and writes nothing.
func TestDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	d := newDjango(t, tdb, "core")
	seedClinic(t, d, "core")
	before := targetCounts(t, tdb)
	rep, err := importInto(t, tdb, d, djangoimport.Options{DryRun: true})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if !rep.DryRun || len(rep.Tables) != 4 || rep.Tables[2].Count != 3 || len(rep.Unusable) != 2 {
		t.Fatalf("dry-run report = %+v", rep)
	}
	if after := targetCounts(t, tdb); after != before {
		t.Fatalf("the dry run wrote: %s -> %s", before, after)
	}
	// And the real import still runs afterwards, over a privileged login
	// that is no superuser: a member of healthcare_owner.
	ownerURL := tdb.EnsureLogin(t, "djangoimport_owner_login", "healthcare_owner")
	if _, err := importAs(t, ownerURL, d, djangoimport.Options{}); err != nil {
		t.Fatalf("import after a dry run: %v", err)
	}
	if n := count(t, tdb, `select count(*) from app.patients`); n != 3 {
		t.Fatalf("%d patients after the import", n)
	}
}

// A target that holds anything is refused, naming what is there, and
// nothing is written.
func TestImportRefusesATargetThatHoldsData(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	d := newDjango(t, tdb, "core")
	seedClinic(t, d, "core")
	pgtest.CreateUser(t, tdb.Pool, "early_admin", pgtest.Admin())
	before := targetCounts(t, tdb)
	_, err := importInto(t, tdb, d, djangoimport.Options{})
	var ne *djangoimport.NotEmptyError
	if !errors.As(err, &ne) || !strings.Contains(err.Error(), "1 users (early_admin)") || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("import into a database with a user: %v", err)
	}
	if after := targetCounts(t, tdb); after != before {
		t.Fatalf("a refused import wrote: %s -> %s", before, after)
	}
}

// Running the import a second time refuses and changes nothing.
func TestSecondImportRefuses(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	d := newDjango(t, tdb, "core")
	seedClinic(t, d, "core")
	if _, err := importInto(t, tdb, d, djangoimport.Options{}); err != nil {
		t.Fatal(err)
	}
	before := targetCounts(t, tdb)
	for _, dry := range []bool{true, false} {
		_, err := importInto(t, tdb, d, djangoimport.Options{DryRun: dry})
		var ne *djangoimport.NotEmptyError
		if !errors.As(err, &ne) || !strings.Contains(err.Error(), "already holds an import") {
			t.Fatalf("second import (dry run %v): %v", dry, err)
		}
	}
	if after := targetCounts(t, tdb); after != before {
		t.Fatalf("the second import changed the target: %s -> %s", before, after)
	}
}

// Rows the target refuses are listed one by one, with the field, the value
// and how to resolve it, in the dry run and in the refusal; nothing is
// written.
func TestRefusedRowsAreListedRowByRow(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	d := newDjango(t, tdb, "core")
	seedClinic(t, d, "core")
	d.exec(t, `insert into auth_user (id, password, is_superuser, username, email, is_staff, is_active, date_joined) values
	  (7, 'pbkdf2_sha256$1000$abc$`+strings.Repeat("A", 43)+`=', false, 'josé', '', false, true, now()),
	  (8, '!x', false, 'ASHA', 'not-an-address', false, true, now())`)
	d.exec(t, `insert into core_patient (id, name, age, gender, user_id) values
	  (30, repeat('n', 201), 40, 'F', 2), (31, 'Old', 200, 'M', 2), (32, '   ', 3, 'M', 2);
	  insert into core_patientdoctor (id, patient_id, doctor_id) values (40, 17, 9)`)
	before := targetCounts(t, tdb)
	want := []string{
		"auth_user id 7: username \"josé\": this product's usernames are 1 to 150 ASCII letters",
		"auth_user id 8: email \"not-an-address\"",
		"auth_user id 8: username \"ASHA\": differs from an earlier user's name only in case",
		"core_patient id 30: name \"nnnn",
		"core_patient id 31: age \"200\": age out of range (patients_age_check)",
		"core_patient id 32: name \"\": name blank or too long",
		"core_patientdoctor id 40: doctor_id \"9\": a duplicate mapping",
	}
	for _, dry := range []bool{true, false} {
		rep, err := importInto(t, tdb, d, djangoimport.Options{DryRun: dry})
		if !errors.Is(err, djangoimport.ErrProblems) {
			t.Fatalf("dry run %v: err = %v", dry, err)
		}
		var got []string
		for _, p := range rep.Problems {
			got = append(got, p.String())
		}
		if len(got) != len(want) {
			t.Fatalf("dry run %v: problems:\n%s", dry, strings.Join(got, "\n"))
		}
		for i := range want {
			if !strings.HasPrefix(got[i], want[i]) || !strings.Contains(got[i], "to resolve: ") {
				t.Errorf("dry run %v: problem %d = %s\nwant it to start with %s", dry, i, got[i], want[i])
			}
		}
		if !strings.Contains(got[0], "where id = 7") || !strings.Contains(got[3], "(201 characters)") {
			t.Errorf("dry run %v: resolutions or lengths missing:\n%s", dry, strings.Join(got, "\n"))
		}
	}
	if after := targetCounts(t, tdb); after != before {
		t.Fatalf("a refused import wrote: %s -> %s", before, after)
	}
}

// The app is found through django_content_type or the tables' shape;
// several candidates are refused with their names, and --app chooses.
func TestFindTheApp(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	d := newDjango(t, tdb, "core", "clinic")
	seedClinic(t, d, "clinic")
	_, err := importInto(t, tdb, d, djangoimport.Options{DryRun: true})
	var ce *djangoimport.AppChoiceError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "(clinic, core, found through django_content_type): name one with --app") {
		t.Fatalf("two apps: %v", err)
	}
	rep, err := importInto(t, tdb, d, djangoimport.Options{App: "clinic", DryRun: true})
	if err != nil || rep.Tables[2].Count != 3 {
		t.Fatalf("--app clinic: %+v, %v", rep, err)
	}
	if _, err := importInto(t, tdb, d, djangoimport.Options{App: "shop"}); !errors.As(err, &ce) || !strings.Contains(err.Error(), "no table shop_patient") {
		t.Fatalf("--app shop: %v", err)
	}
	// Without content types, by the tables' shape.
	d.exec(t, `drop table django_content_type; alter table core_patient rename column age to years`)
	rep, err = importInto(t, tdb, d, djangoimport.Options{DryRun: true})
	if err != nil || rep.App != "clinic" || rep.FoundBy != "the tables' shape" {
		t.Fatalf("by shape: %+v, %v", rep, err)
	}
}
