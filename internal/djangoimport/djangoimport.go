// Package djangoimport copies the Django system's users, patients, doctors
// and mappings into a freshly migrated database, keeping their ids, so
// its clients' references stay valid and its users log in with their old
// passwords (internal/auth verifies Django's formats and login upgrades
// them). `healthcare import django` calls it; docs/django-import.md is the
// operator's guide.
//
// The import is one transaction on the privileged connection, acting as
// healthcare_owner: the rows go through the tables' own constraints and
// triggers; the audit triggers leave them to one summary event per table
// (app.importing, sql/definitions/imports.sql). Before anything is
// written, every row is checked against the target's rules, read from the
// catalog (the tables' check constraints and the columns' domains), so a
// refusal lists every problem row by row instead of stopping at the first.
package djangoimport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/auth"
)

// Options says what to import and how.
type Options struct {
	// App is the Django app label ("core"); empty finds the one app whose
	// tables match.
	App string
	// DryRun checks and counts everything, then rolls back.
	DryRun bool
	// Progress receives a line per ProgressEvery rows copied from a large
	// table (nil: none).
	Progress      io.Writer
	ProgressEvery int
}

// Table is what was (or would be) imported into one table.
type Table struct {
	Name   string     // the target table, app.patients
	Source string     // the Django table, core_patient
	Count  int64      // rows
	Ranges [][2]int64 // the ids, as closed ranges
}

// IDs says the ranges as text: "1-17, 19-40".
func (t Table) IDs() string {
	if len(t.Ranges) == 0 {
		return "none"
	}
	var b strings.Builder
	for i, r := range t.Ranges {
		if i == 5 {
			fmt.Fprintf(&b, ", ... (%d ranges)", len(t.Ranges))
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		if r[0] == r[1] {
			fmt.Fprintf(&b, "%d", r[0])
		} else {
			fmt.Fprintf(&b, "%d-%d", r[0], r[1])
		}
	}
	return b.String()
}

// Problem is one source row the target would refuse.
type Problem struct {
	Table   string // the Django table
	ID      int64
	Field   string
	Value   string
	Reason  string
	Resolve string
}

func (p Problem) String() string {
	v := p.Value
	if len([]rune(v)) > 60 {
		v = string([]rune(v)[:60]) + fmt.Sprintf("... (%d characters)", len([]rune(p.Value)))
	}
	return fmt.Sprintf("%s id %d: %s %q: %s; to resolve: %s", p.Table, p.ID, p.Field, v, p.Reason, p.Resolve)
}

// Unusable is an account whose password cannot be carried over: it is
// imported with an unusable password, and an operator sets a new one.
type Unusable struct {
	ID       int64
	Username string
	Format   string // the Django hash's algorithm
	Reason   string
}

// Report is the outcome of an import or a dry run.
type Report struct {
	App      string
	FoundBy  string // how the app was found
	DryRun   bool
	Tables   []Table // users, doctors, patients, mappings
	Admins   int64
	Inactive int64
	Problems []Problem
	Unusable []Unusable
	Elapsed  time.Duration
}

// ErrProblems is returned (wrapped) when rows would be refused: nothing
// was written, and the Report lists them.
var ErrProblems = errors.New("rows the target refuses")

// NotEmptyError is the refusal of a target that holds data already.
type NotEmptyError struct{ What string }

func (e *NotEmptyError) Error() string { return e.What }

// AppChoiceError is the refusal when the app cannot be told.
type AppChoiceError struct{ Msg string }

func (e *AppChoiceError) Error() string { return e.Msg }

var labelRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,50}$`)

// FindApp returns the Django app label whose tables hold patients,
// doctors and mappings, and how it was found: through django_content_type
// (the models patient, doctor and patientdoctor of one app), else by the
// tables' shape. When want is given it only checks that app's tables.
func FindApp(ctx context.Context, src pgx.Tx, want string) (string, string, error) {
	if want != "" {
		if !labelRE.MatchString(want) {
			return "", "", &AppChoiceError{fmt.Sprintf("--app %q is not a Django app label (lower-case letters, digits, _)", want)}
		}
		if missing, err := missingTables(ctx, src, want); err != nil {
			return "", "", err
		} else if missing != "" {
			return "", "", &AppChoiceError{fmt.Sprintf("app %q: %s", want, missing)}
		}
		return want, "--app", nil
	}
	var candidates []string
	var hasCT bool
	if err := src.QueryRow(ctx, `select to_regclass('django_content_type') is not null`).Scan(&hasCT); err != nil {
		return "", "", err
	}
	how := "django_content_type"
	if hasCT {
		rows, err := src.Query(ctx, `select app_label from django_content_type
		                              where model in ('patient', 'doctor', 'patientdoctor')
		                              group by app_label having count(distinct model) = 3 order by app_label`)
		if err != nil {
			return "", "", err
		}
		labels, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return "", "", err
		}
		for _, l := range labels {
			if m, err := missingTables(ctx, src, l); err != nil {
				return "", "", err
			} else if m == "" {
				candidates = append(candidates, l)
			}
		}
	}
	if len(candidates) == 0 {
		how = "the tables' shape"
		rows, err := src.Query(ctx, `select left(c.relname, length(c.relname) - length('_patient'))
		                               from pg_class c where c.relkind = 'r' and c.relname like '%\_patient'
		                                and pg_table_is_visible(c.oid) order by 1`)
		if err != nil {
			return "", "", err
		}
		labels, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return "", "", err
		}
		for _, l := range labels {
			if !labelRE.MatchString(l) {
				continue
			}
			if m, err := missingTables(ctx, src, l); err != nil {
				return "", "", err
			} else if m == "" {
				candidates = append(candidates, l)
			}
		}
	}
	switch len(candidates) {
	case 0:
		return "", "", &AppChoiceError{"no Django app here has patient, doctor and patientdoctor tables with the expected columns " +
			"(<app>_patient: name, age, gender, user_id; <app>_doctor: name, specialization; <app>_patientdoctor: patient_id, doctor_id); " +
			"is --from the Django system's database?"}
	case 1:
		return candidates[0], how, nil
	}
	return "", "", &AppChoiceError{fmt.Sprintf("several Django apps have patient, doctor and mapping tables (%s, found through %s): name one with --app",
		strings.Join(candidates, ", "), how)}
}

// required lists the columns the importer reads from each Django table.
var required = []struct{ suffix, columns string }{
	{"", "auth_user:id,username,email,password,is_superuser,is_staff,is_active,date_joined"},
	{"_patient", "id,name,age,gender,user_id"},
	{"_doctor", "id,name,specialization"},
	{"_patientdoctor", "id,patient_id,doctor_id"},
}

// missingTables says what the app's tables lack ("" when they are all
// there with the columns the importer reads).
func missingTables(ctx context.Context, src pgx.Tx, label string) (string, error) {
	var missing []string
	for _, r := range required {
		table, cols := label+r.suffix, r.columns
		if r.suffix == "" {
			table, cols, _ = strings.Cut(cols, ":")
		}
		var have []string
		rows, err := src.Query(ctx, `select a.attname::text from pg_attribute a
		                              where a.attrelid = to_regclass($1) and a.attnum > 0 and not a.attisdropped`, table)
		if err != nil {
			return "", err
		}
		if have, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return "", err
		}
		if len(have) == 0 {
			missing = append(missing, "no table "+table)
			continue
		}
		for _, c := range strings.Split(cols, ",") {
			if !slices.Contains(have, c) {
				missing = append(missing, fmt.Sprintf("%s has no column %s", table, c))
			}
		}
	}
	return strings.Join(missing, "; "), nil
}

// hasColumn reports whether a Django table has an optional column.
func hasColumn(ctx context.Context, src pgx.Tx, table, column string) (bool, error) {
	var ok bool
	err := src.QueryRow(ctx, `select exists (select from pg_attribute a where a.attrelid = to_regclass($1)
	                           and a.attname = $2 and a.attnum > 0 and not a.attisdropped)`, table, column).Scan(&ok)
	return ok, err
}

// Import copies the Django database behind src into the database behind
// dst. src is only read, in one repeatable-read snapshot; dst is written
// in one transaction that commits only when every row passed and
// opts.DryRun is false. The Report is filled in either case.
func Import(ctx context.Context, dst, src *pgx.Conn, opts Options) (Report, error) {
	start := time.Now()
	rep := Report{DryRun: opts.DryRun}
	stx, err := src.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return rep, fmt.Errorf("read the Django database: %w", err)
	}
	defer func() { _ = stx.Rollback(context.Background()) }()
	if rep.App, rep.FoundBy, err = FindApp(ctx, stx, opts.App); err != nil {
		return rep, err
	}
	var source string
	if err := stx.QueryRow(ctx, `select current_database() || coalesce(' at ' || host(inet_server_addr()) || ':' || inet_server_port(), '')`).Scan(&source); err != nil {
		return rep, err
	}
	source += ", app " + rep.App

	tx, err := dst.Begin(ctx)
	if err != nil {
		return rep, err
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	im := &importer{ctx: ctx, tx: tx, src: stx, app: rep.App, opts: opts, rep: &rep}
	if err := im.run(source); err != nil {
		return rep, err
	}
	rep.Elapsed = time.Since(start)
	if len(rep.Problems) > 0 {
		return rep, fmt.Errorf("%d %w; nothing was written", len(rep.Problems), ErrProblems)
	}
	if opts.DryRun {
		return rep, nil
	}
	if err := tx.Commit(ctx); err != nil {
		return rep, fmt.Errorf("commit the import: %w", err)
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

type importer struct {
	ctx  context.Context
	tx   pgx.Tx
	src  pgx.Tx
	app  string
	opts Options
	rep  *Report
}

func (im *importer) exec(sql string, args ...any) error {
	_, err := im.tx.Exec(im.ctx, sql, args...)
	return err
}

func (im *importer) run(source string) error {
	if err := im.exec(`set local role healthcare_owner`); err != nil {
		return fmt.Errorf("act as healthcare_owner (is the database migrated, and is this the privileged connection?): %w", err)
	}
	// The import's own transaction is recognised by the audit triggers
	// through this setting and the app.imports row (app.importing).
	if err := im.exec(`select set_config('app.import', 'django', true)`); err != nil {
		return err
	}
	var prior struct {
		source, by string
		at         time.Time
	}
	err := im.tx.QueryRow(im.ctx, `select source, imported_by, imported_at from app.imports order by imported_at limit 1`).
		Scan(&prior.source, &prior.by, &prior.at)
	if err == nil {
		return &NotEmptyError{fmt.Sprintf("this database already holds an import (%s, by %s at %s); importing again would duplicate it: nothing was written",
			prior.source, prior.by, prior.at.UTC().Format(time.RFC3339))}
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if err := im.exec(`insert into app.imports (source, app_label, counts) values ($1, $2, '{}')`, source, im.app); err != nil {
		return err
	}
	if err := im.checkEmpty(); err != nil {
		return err
	}
	if err := im.stage(); err != nil {
		return err
	}
	if err := im.check(); err != nil {
		return err
	}
	if err := im.passwords(); err != nil {
		return err
	}
	if err := im.count(); err != nil {
		return err
	}
	if len(im.rep.Problems) > 0 {
		return nil
	}
	return im.write()
}

// checkEmpty refuses a target that holds users, patients, doctors or
// mappings, naming them.
func (im *importer) checkEmpty() error {
	var users, patients, doctors, mappings int64
	var names []string
	err := im.tx.QueryRow(im.ctx, `select (select count(*) from app.users), (select count(*) from app.patients),
	                                       (select count(*) from app.doctors), (select count(*) from app.patient_doctors),
	                                       (select coalesce(array_agg(username order by id), '{}') from (select id, username from app.users order by id limit 5) u)`).
		Scan(&users, &patients, &doctors, &mappings, &names)
	if err != nil {
		return err
	}
	if users+patients+doctors+mappings == 0 {
		return nil
	}
	var parts []string
	if users > 0 {
		more := ""
		if users > int64(len(names)) {
			more = ", ..."
		}
		parts = append(parts, fmt.Sprintf("%d users (%s%s)", users, strings.Join(names, ", "), more))
	}
	for _, c := range []struct {
		n    int64
		what string
	}{{patients, "patients"}, {doctors, "doctors"}, {mappings, "mappings"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	return &NotEmptyError{fmt.Sprintf("the target database is not empty: it holds %s. The import fills a freshly migrated database "+
		"(no createsuperuser first: Django's superusers become admins) and never merges: nothing was written", strings.Join(parts, ", "))}
}

// stage copies the Django rows into temporary tables of the target
// transaction, in the target's column names. Text is trimmed as the api
// functions trim what clients send (app.check_text), and a NULL gender
// becomes 'unknown' (app.check_gender).
func (im *importer) stage() error {
	for _, ddl := range []string{
		`create temp table django_users (id bigint, username text, email text, password text, is_admin boolean,
		   is_active boolean, date_joined timestamptz) on commit drop`,
		`create temp table django_patients (id bigint, name text, age bigint, gender text, owner_id bigint,
		   created_at timestamptz, updated_at timestamptz) on commit drop`,
		`create temp table django_doctors (id bigint, name text, specialization text, created_at timestamptz,
		   updated_at timestamptz) on commit drop`,
		`create temp table django_mappings (id bigint, patient_id bigint, doctor_id bigint, created_at timestamptz) on commit drop`,
	} {
		if err := im.exec(ddl); err != nil {
			return err
		}
	}
	q := func(name string) string { return pgx.Identifier{name}.Sanitize() }
	patient, doctor, mapping := im.app+"_patient", im.app+"_doctor", im.app+"_patientdoctor"
	stamp := func(table, col string) (string, error) {
		ok, err := hasColumn(im.ctx, im.src, table, col)
		if err != nil || !ok {
			return "now()", err
		}
		return q(col) + "::timestamptz", nil
	}
	pc, err := stamp(patient, "created_at")
	if err != nil {
		return err
	}
	pu, err := stamp(patient, "updated_at")
	if err != nil {
		return err
	}
	dc, err := stamp(doctor, "created_at")
	if err != nil {
		return err
	}
	du, err := stamp(doctor, "updated_at")
	if err != nil {
		return err
	}
	mc, err := stamp(mapping, "created_at")
	if err != nil {
		return err
	}
	for _, c := range []struct {
		into, from, sql string
		cols            []string
	}{
		{"django_users", "auth_user",
			`select id::bigint, username::text, email::text, password::text, (is_superuser or is_staff), is_active, date_joined::timestamptz
			   from auth_user order by id`,
			[]string{"id", "username", "email", "password", "is_admin", "is_active", "date_joined"}},
		{"django_patients", patient,
			`select id::bigint, btrim(name::text), age::bigint, coalesce(btrim(gender::text), 'unknown'), user_id::bigint, ` + pc + `, ` + pu + ` from ` + q(patient) + ` order by id`,
			[]string{"id", "name", "age", "gender", "owner_id", "created_at", "updated_at"}},
		{"django_doctors", doctor,
			`select id::bigint, btrim(name::text), btrim(specialization::text), ` + dc + `, ` + du + ` from ` + q(doctor) + ` order by id`,
			[]string{"id", "name", "specialization", "created_at", "updated_at"}},
		{"django_mappings", mapping,
			`select id::bigint, patient_id::bigint, doctor_id::bigint, ` + mc + ` from ` + q(mapping) + ` order by id`,
			[]string{"id", "patient_id", "doctor_id", "created_at"}},
	} {
		rows, err := im.src.Query(im.ctx, c.sql)
		if err != nil {
			return fmt.Errorf("read %s: %w", c.from, err)
		}
		n, err := im.tx.CopyFrom(im.ctx, pgx.Identifier{c.into}, c.cols, &progressRows{rows: rows, table: c.from, every: im.opts.ProgressEvery, out: im.opts.Progress})
		rows.Close()
		if err != nil {
			return fmt.Errorf("copy %s: %w", c.from, err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read %s: %w", c.from, err)
		}
		if im.opts.Progress != nil && im.opts.ProgressEvery > 0 && n >= int64(im.opts.ProgressEvery) {
			fmt.Fprintf(im.opts.Progress, "read %s: %d rows\n", c.from, n)
		}
	}
	return nil
}

// progressRows feeds CopyFrom from the Django rows, with a progress line
// every so many rows.
type progressRows struct {
	rows  pgx.Rows
	table string
	n     int
	every int
	out   io.Writer
}

func (p *progressRows) Next() bool {
	if !p.rows.Next() {
		return false
	}
	p.n++
	if p.out != nil && p.every > 0 && p.n%p.every == 0 {
		fmt.Fprintf(p.out, "reading %s: %d rows...\n", p.table, p.n)
	}
	return true
}

func (p *progressRows) Values() ([]any, error) { return p.rows.Values() }
func (p *progressRows) Err() error             { return p.rows.Err() }

// rule is a check a Django row must pass: refused is a SQL condition over
// the staged row s that is true when the target refuses it; column is the
// staged column shown as the value, field its name in Django.
type rule struct {
	stage, source, column, field, refused, reason, resolve string
}

// constraintCheck turns a constraint of the target, as the catalog holds
// it, into the condition under which the staged column breaks it: table
// check constraints name the column, domain constraints say VALUE.
func (im *importer) constraintCheck(where, name, column string) (string, error) {
	var def string
	var err error
	if strings.HasPrefix(where, "domain ") {
		err = im.tx.QueryRow(im.ctx, `select pg_get_constraintdef(oid) from pg_constraint where contypid = $1::regtype and conname = $2`,
			strings.TrimPrefix(where, "domain "), name).Scan(&def)
		def = regexp.MustCompile(`\bVALUE\b`).ReplaceAllString(def, column)
	} else {
		err = im.tx.QueryRow(im.ctx, `select pg_get_constraintdef(oid) from pg_constraint where conrelid = $1::regclass and conname = $2`,
			where, name).Scan(&def)
	}
	if err != nil {
		return "", fmt.Errorf("read constraint %s of %s: %w", name, where, err)
	}
	expr, ok := strings.CutPrefix(def, "CHECK ")
	if !ok {
		return "", fmt.Errorf("constraint %s of %s is not a check: %s", name, where, def)
	}
	// A check passes on NULL; the columns are NOT NULL, checked apart.
	return "not coalesce(" + expr + ", true)", nil
}

// check lists every staged row the target would refuse.
func (im *importer) check() error {
	users, patients, doctors, mappings := "auth_user", im.app+"_patient", im.app+"_doctor", im.app+"_patientdoctor"
	type constraint struct {
		stage, source, where, name, column, reason, resolve string
	}
	var rules []rule
	for _, c := range []constraint{
		{"django_users", users, "app.users", "users_username_check", "username",
			"this product's usernames are 1 to 150 ASCII letters, digits and @ . + - _ (Django also allows other letters)",
			"rename the user in Django (update auth_user set username = '...' where id = ID) and tell them, then import again"},
		{"django_users", users, "app.users", "users_email_check", "email",
			"not an e-mail address this product accepts (name@domain, at most 254 characters)",
			"correct or empty the address in Django, then import again"},
		{"django_patients", patients, "app.patients", "patients_age_check", "age",
			"age out of range", "correct the age in Django, then import again"},
		{"django_patients", patients, "domain app.patient_name", "patients_name_check", "name",
			"name blank or too long (domain app.patient_name)", "shorten or fill in the name in Django, then import again"},
		{"django_patients", patients, "domain app.patient_gender", "patients_gender_check", "gender",
			"gender too long (domain app.patient_gender)", "shorten the gender in Django, then import again"},
		{"django_doctors", doctors, "domain app.doctor_name", "doctors_name_check", "name",
			"name blank or too long (domain app.doctor_name)", "shorten or fill in the name in Django, then import again"},
		{"django_doctors", doctors, "domain app.doctor_specialization", "doctors_specialization_check", "specialization",
			"specialization blank or too long (domain app.doctor_specialization)", "shorten or fill in the specialization in Django, then import again"},
	} {
		cond, err := im.constraintCheck(c.where, c.name, c.column)
		if err != nil {
			return err
		}
		rules = append(rules, rule{c.stage, c.source, c.column, c.column, cond, c.reason + " (" + c.name + ")", c.resolve})
	}
	rules = append(rules,
		rule{"django_users", users, "username", "username", `username is null or email is null or password is null or date_joined is null`,
			"a required value is NULL", "fill it in Django, then import again"},
		rule{"django_users", users, "username", "username",
			`exists (select from django_users o where lower(o.username) = lower(s.username) and o.id < s.id)`,
			"differs from an earlier user's name only in case; this product's usernames are unique regardless of case",
			"rename one of the two users in Django and tell them, then import again"},
		rule{"django_patients", patients, "age", "age", `age is null`, "age is missing", "fill in the age in Django, then import again"},
		rule{"django_patients", patients, "name", "name", `name is null`, "name is missing", "fill in the name in Django, then import again"},
		rule{"django_patients", patients, "owner_id", "user_id", `not exists (select from django_users u where u.id = s.owner_id)`,
			"the patient belongs to no user (every patient here has an owner)",
			"assign the patient to a user in Django or delete it, then import again"},
		rule{"django_doctors", doctors, "name", "name", `name is null or specialization is null`, "a required value is missing",
			"fill it in Django, then import again"},
		rule{"django_mappings", mappings, "patient_id", "patient_id", `not exists (select from django_patients p where p.id = s.patient_id)`,
			"no such patient", "delete the mapping in Django, then import again"},
		rule{"django_mappings", mappings, "doctor_id", "doctor_id", `not exists (select from django_doctors d where d.id = s.doctor_id)`,
			"no such doctor", "delete the mapping in Django, then import again"},
		rule{"django_mappings", mappings, "doctor_id", "doctor_id",
			`exists (select from django_mappings o where o.patient_id = s.patient_id and o.doctor_id = s.doctor_id and o.id < s.id)`,
			"a duplicate mapping: an earlier mapping links the same patient and doctor",
			"delete this duplicate mapping in Django (clients holding its id should use the earlier one), then import again"},
	)
	for _, r := range rules {
		rows, err := im.tx.Query(im.ctx, `select s.id, coalesce(s.`+pgx.Identifier{r.column}.Sanitize()+`::text, 'NULL') from `+r.stage+` s where `+r.refused+` order by s.id`)
		if err != nil {
			return fmt.Errorf("check %s.%s: %w", r.source, r.field, err)
		}
		for rows.Next() {
			p := Problem{Table: r.source, Field: r.field, Reason: r.reason}
			if err := rows.Scan(&p.ID, &p.Value); err != nil {
				rows.Close()
				return err
			}
			p.Resolve = strings.ReplaceAll(r.resolve, "where id = ID", fmt.Sprintf("where id = %d", p.ID))
			im.rep.Problems = append(im.rep.Problems, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("check %s.%s: %w", r.source, r.field, err)
		}
	}
	sort.SliceStable(im.rep.Problems, func(i, j int) bool {
		a, b := im.rep.Problems[i], im.rep.Problems[j]
		if a.Table != b.Table {
			return a.Table < b.Table
		}
		return a.ID < b.ID
	})
	return nil
}

// passwords keeps every hash a login can verify (Django's pbkdf2 and
// argon2) and replaces the others with an unusable one naming the format.
func (im *importer) passwords() error {
	rows, err := im.tx.Query(im.ctx, `select id, username, coalesce(password, '') from django_users order by id`)
	if err != nil {
		return err
	}
	var ids []int64
	var hashes []string
	for rows.Next() {
		var u Unusable
		var stored string
		if err := rows.Scan(&u.ID, &u.Username, &stored); err != nil {
			rows.Close()
			return err
		}
		format, err := auth.HashFormat(stored)
		if err == nil {
			continue
		}
		u.Format = format
		switch {
		case errors.Is(err, auth.ErrMalformedHash):
			u.Reason = "the " + format + " hash cannot be read or its parameters are out of bounds"
		case format == "unusable":
			u.Reason = "Django marked the password unusable"
		default:
			u.Reason = "no login here verifies " + format
		}
		im.rep.Unusable = append(im.rep.Unusable, u)
		ids = append(ids, u.ID)
		hashes = append(hashes, auth.Unusable(format))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	return im.exec(`update django_users u set password = h.hash
	                  from unnest($1::bigint[], $2::text[]) h (id, hash) where u.id = h.id`, ids, hashes)
}

// count fills the Report's tables.
func (im *importer) count() error {
	for _, t := range []struct{ target, stage, source string }{
		{"app.users", "django_users", "auth_user"},
		{"app.doctors", "django_doctors", im.app + "_doctor"},
		{"app.patients", "django_patients", im.app + "_patient"},
		{"app.patient_doctors", "django_mappings", im.app + "_patientdoctor"},
	} {
		tb := Table{Name: t.target, Source: t.source}
		rows, err := im.tx.Query(im.ctx, `select min(id), max(id), count(*) from (select id, id - row_number() over (order by id) g from `+t.stage+`) s
		                                    group by g order by 1`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var r [2]int64
			var n int64
			if err := rows.Scan(&r[0], &r[1], &n); err != nil {
				rows.Close()
				return err
			}
			tb.Ranges = append(tb.Ranges, r)
			tb.Count += n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		im.rep.Tables = append(im.rep.Tables, tb)
	}
	return im.tx.QueryRow(im.ctx, `select count(*) filter (where is_admin), count(*) filter (where not is_active) from django_users`).
		Scan(&im.rep.Admins, &im.rep.Inactive)
}

// write copies the staged rows into the app tables with their ids,
// advances the sequences past them and records one audit event per table.
func (im *importer) write() error {
	steps := []struct{ what, sql string }{
		{"users", `insert into app.users (id, username, email, password_hash, is_admin, is_active, date_joined, updated_at)
		             overriding system value
		             select id, username, email, password, is_admin, is_active, date_joined, date_joined from django_users order by id`},
		{"doctors", `insert into app.doctors (id, name, specialization, created_by, created_at, updated_at)
		             overriding system value
		             select id, name, specialization, null, created_at, greatest(created_at, updated_at) from django_doctors order by id`},
		{"patients", `insert into app.patients (id, owner_id, name, age, gender, created_at, updated_at)
		             overriding system value
		             select id, owner_id, name, age, gender, created_at, greatest(created_at, updated_at) from django_patients order by id`},
		{"mappings", `insert into app.patient_doctors (id, patient_id, doctor_id, created_at)
		             overriding system value
		             select id, patient_id, doctor_id, created_at from django_mappings order by id`},
	}
	for _, s := range steps {
		if err := im.exec(s.sql); err != nil {
			return fmt.Errorf("write %s: %w", s.what, err)
		}
		if im.opts.Progress != nil {
			fmt.Fprintf(im.opts.Progress, "wrote %s\n", s.what)
		}
	}
	for _, t := range []string{"app.users", "app.doctors", "app.patients", "app.patient_doctors"} {
		if err := im.exec(`select setval(pg_get_serial_sequence($1, 'id'), coalesce((select max(id) from `+t+`), 1), (select count(*) > 0 from `+t+`))`, t); err != nil {
			return fmt.Errorf("advance the sequence of %s: %w", t, err)
		}
	}
	objects := map[string]string{"app.users": "user", "app.doctors": "doctor", "app.patients": "patient", "app.patient_doctors": "mapping"}
	counts := map[string]any{}
	for _, tb := range im.rep.Tables {
		detail := map[string]any{"object": objects[tb.Name], "from": "django", "table": tb.Source, "count": tb.Count, "ranges": tb.Ranges}
		if tb.Ranges == nil {
			detail["ranges"] = [][2]int64{}
		}
		if err := im.exec(`insert into audit.events (user_id, door, action, outcome, detail) values (null, 'admin', 'import', 'ok', $1)`, detail); err != nil {
			return fmt.Errorf("record the import of %s: %w", tb.Source, err)
		}
		counts[tb.Source] = tb.Count
	}
	unusable := make([]string, 0, len(im.rep.Unusable))
	for _, u := range im.rep.Unusable {
		unusable = append(unusable, u.Username)
	}
	counts["unusable_passwords"] = unusable
	return im.exec(`update app.imports set counts = $1 where xact = pg_current_xact_id()::text::bigint`, counts)
}
