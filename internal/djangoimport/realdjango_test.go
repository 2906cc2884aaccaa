package djangoimport_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/djangoimport"
	"healthcare/internal/pgtest"
)

// The original project's app as Django models (the seed's ERD: a patient
// belongs to a user; mappings link patients and doctors).
const realModels = `
from django.conf import settings
from django.db import models

class Patient(models.Model):
    name = models.CharField(max_length=100)
    age = models.PositiveIntegerField()
    gender = models.CharField(max_length=10)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="patients")

class Doctor(models.Model):
    name = models.CharField(max_length=100)
    specialization = models.CharField(max_length=100)

class PatientDoctor(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE)
    doctor = models.ForeignKey(Doctor, on_delete=models.CASCADE)
`

// realSetup runs Django's own migrations and makes users as the old
// system's register view did (create_user, Django's PBKDF2 hasher), then
// records through the ORM; it prints the ids Django gave them.
const realSetup = `
import os, sys, django
from django.conf import settings
settings.configure(
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "core"],
    DATABASES={"default": {"ENGINE": "django.db.backends.postgresql", "NAME": os.environ["DJ_NAME"],
        "HOST": os.environ["DJ_HOST"], "PORT": os.environ["DJ_PORT"], "USER": os.environ["DJ_USER"],
        "PASSWORD": os.environ["DJ_PASSWORD"]}},
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField", USE_TZ=True)
django.setup()
from django.core.management import call_command
call_command("makemigrations", "core", verbosity=0)
call_command("migrate", verbosity=0)
from django.contrib.auth.models import User
from core.models import Patient, Doctor, PatientDoctor
admin = User.objects.create_superuser("root", "root@example.com", os.environ["PW_ROOT"])
asha = User.objects.create_user("asha", "asha@example.com", os.environ["PW_ASHA"])
gone = User.objects.create_user("gone", "gone@example.com", os.environ["PW_ASHA"])
bilal = User.objects.create_user("bilal", "", os.environ["PW_BILAL"])
gone.delete()
p1 = Patient.objects.create(name="Asha K", age=34, gender="F", user=asha)
p2 = Patient.objects.create(name="Temp", age=1, gender="M", user=asha)
p3 = Patient.objects.create(name="Asha's father", age=71, gender="Male", user=asha)
p4 = Patient.objects.create(name="Bilal A", age=45, gender="Other", user=bilal)
p2.delete()
d1 = Doctor.objects.create(name="Dr. Rao", specialization="Cardiology")
d2 = Doctor.objects.create(name="Dr. Iyer", specialization="Dermatology")
m1 = PatientDoctor.objects.create(patient=p3, doctor=d2)
m2 = PatientDoctor.objects.create(patient=p4, doctor=d1)
print(asha.id, bilal.id, p3.id, p4.id, d2.id, m1.id, m2.id, User.objects.get(id=asha.id).password.split("$")[0])
`

// djangoPython is a Python that has Django and psycopg2 (Debian's
// python3-django and python3-psycopg2), or "".
func djangoPython() string {
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import django, psycopg2").Run() == nil {
			return py
		}
	}
	return ""
}

// A database written by Django itself: its own auth tables, migrations and
// PBKDF2 hasher. Its users log in over REST with their passwords and see
// their records by Django's ids (gaps included); a second run refuses.
func TestImportADatabaseWrittenByDjango(t *testing.T) {
	t.Parallel()
	py := djangoPython()
	if py == "" {
		t.Skip("no python3 with Django and psycopg2 (apt-get install python3-django python3-psycopg2); the SQL-built fixtures test the same import")
	}
	tdb := pgtest.New(t)
	d := newDjango(t, tdb)
	cfg, err := pgx.ParseConfig(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "core", "migrations"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"core/__init__.py": "", "core/migrations/__init__.py": "", "core/models.py": realModels, "setup_db.py": realSetup} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pw := map[string]string{"root": password(), "asha": password(), "bilal": password()}
	cmd := exec.Command(py, "setup_db.py")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DJ_NAME="+cfg.Database, "DJ_HOST="+cfg.Host, "DJ_PORT="+strconv.Itoa(int(cfg.Port)),
		"DJ_USER="+cfg.User, "DJ_PASSWORD="+cfg.Password, "PW_ROOT="+pw["root"], "PW_ASHA="+pw["asha"], "PW_BILAL="+pw["bilal"])
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("Django: %v\n%s", err, out)
	}
	var ashaID, bilalID, fatherID, bilalPatient, iyer, m1, m2 int64
	var hasher string
	if _, err := fmt.Sscan(string(out), &ashaID, &bilalID, &fatherID, &bilalPatient, &iyer, &m1, &m2, &hasher); err != nil || hasher != "pbkdf2_sha256" {
		t.Fatalf("Django printed %q (%v)", out, err)
	}

	rep, err := importInto(t, tdb, d, djangoimport.Options{})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if rep.App != "core" || rep.Admins != 1 || len(rep.Unusable) != 0 || rep.Tables[0].IDs() != "1-2, 4" || rep.Tables[2].IDs() != "1, 3-4" {
		t.Fatalf("report = %+v", rep)
	}
	api := server(t, tdb)
	asha := api.Login("asha", pw["asha"])
	if ids := api.Must("GET", "/api/patients/", asha.Access, nil, 200).IDs(t); fmt.Sprint(ids) != "[1 3]" {
		t.Fatalf("asha's patients = %v", ids)
	}
	if p := api.Must("GET", fmt.Sprintf("/api/patients/%d/", fatherID), asha.Access, nil, 200).JSON(t); p["name"] != "Asha's father" || p["gender_fhir"] != "male" {
		t.Fatalf("patient %d = %v", fatherID, p)
	}
	if m := api.Must("GET", fmt.Sprintf("/api/mappings/%d/", m1), asha.Access, nil, 200).JSON(t); m["doctor"] != float64(iyer) {
		t.Fatalf("mapping %d = %v", m1, m)
	}
	bilal := api.Login("bilal", pw["bilal"])
	if ids := api.Must("GET", "/api/mappings/", bilal.Access, nil, 200).IDs(t); fmt.Sprint(ids) != fmt.Sprintf("[%d]", m2) {
		t.Fatalf("bilal's mappings = %v", ids)
	}
	root := api.Login("root", pw["root"])
	api.Must("GET", fmt.Sprintf("/api/patients/%d/", bilalPatient), root.Access, nil, 200)
	var hash string
	if err := tdb.Pool.QueryRow(context.Background(), `select password_hash from app.users where username = 'asha'`).Scan(&hash); err != nil || !strings.HasPrefix(hash, "$argon2id$") {
		t.Fatalf("asha's hash after her login: %.20q, %v", hash, err)
	}
	before := targetCounts(t, tdb)
	if _, err := importInto(t, tdb, d, djangoimport.Options{}); err == nil || !strings.Contains(err.Error(), "already holds an import") {
		t.Fatalf("second import: %v", err)
	}
	if after := targetCounts(t, tdb); after != before {
		t.Fatalf("the second import changed the target: %s -> %s", before, after)
	}
}
