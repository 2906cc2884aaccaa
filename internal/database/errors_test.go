package database_test

import (
	"context"
	"errors"
	"testing"

	"healthcare/internal/database"
	"healthcare/internal/pgtest"
)

// Every SQL error a Call meets comes back as a *database.Error, so callers
// never need the driver's error type.
func TestCallReturnsClassifiedErrors(t *testing.T) {
	t.Parallel()
	db := openApp(t, pgtest.New(t), database.Options{})
	user := database.Identity{UserID: registerUser(t, db, "erin")}
	_, err := db.Call(context.Background(), user, database.FnGetPatient, int64(999))
	var e *database.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T); want a *database.Error in the chain", err, err)
	}
	if e.Code != "RNTFD" || e.Kind != database.KindNotFound || e.ClientMessage == "" || e.ClientMessage != e.Message {
		t.Fatalf("error = %+v; want RNTFD, not_found, the SQL message shown to clients", e)
	}
	if !database.IsKind(err, database.KindNotFound) || database.IsKind(err, database.KindConflict) {
		t.Fatalf("IsKind disagrees with Kind %q", e.Kind)
	}
}

// The classification of PostgreSQL's own errors: kind, field, constraint,
// and a fixed sentence in place of the server's message.
func TestAsErrorClassifiesServerErrors(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	ctx := context.Background()
	pgtest.CreateUser(t, tdb.Pool, "frank")
	tests := []struct {
		name, sql                        string
		code                             string
		kind                             database.Kind
		field, constraint, clientMessage string
	}{
		{"a duplicate username is a conflict on username",
			`insert into app.users (username, email, password_hash) values ('FRANK', '', '$argon2id$x')`,
			"23505", database.KindConflict, "username", "users_username_lower_idx", "A record with these values already exists."},
		{"a failed check names its field",
			`insert into app.patients (owner_id, name, age, gender) select id, 'p', 200, 'male' from app.users`,
			"23514", database.KindInvalid, "age", "patients_age_check", "A value is out of range."},
		{"a missing referenced record named by the request is not found",
			`insert into app.patient_doctors (patient_id, doctor_id) values (424242, 424242)`,
			"23503", database.KindNotFound, "patient", "patient_doctors_patient_id_fkey", "A referenced record does not exist."},
		{"a missing referenced record no field names is invalid input",
			`insert into app.patients (owner_id, name, age, gender) values (424242, 'p', 1, 'male')`,
			"23503", database.KindInvalid, "", "patients_owner_id_fkey", "A referenced record does not exist."},
		{"a lock timeout is a locked record, with a fixed sentence",
			`do $$ begin raise exception 'canceling statement due to lock timeout' using errcode = '55P03'; end $$`,
			"55P03", database.KindLocked, "", "", "A record this request needs is being changed in another session; try again shortly."},
		{"an admin act that gave up waiting names the session holding it",
			`do $$ begin raise exception 'doctor 7 is locked by another session: pid 42 (login ann)' using errcode = '55P03'; end $$`,
			"55P03", database.KindLocked, "", "", "doctor 7 is locked by another session: pid 42 (login ann)"},
		{"an unexpected code is unknown and has nothing to show",
			`select 1 / 0`, "22012", database.KindUnknown, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tdb.Pool.Exec(ctx, tt.sql)
			e, ok := database.AsError(err)
			if !ok {
				t.Fatalf("AsError(%v) found no SQL error", err)
			}
			if e.Code != tt.code || e.Kind != tt.kind || e.Field != tt.field || e.Constraint != tt.constraint || e.ClientMessage != tt.clientMessage {
				t.Fatalf("got code %s kind %q field %q constraint %q client message %q; want %s %q %q %q %q",
					e.Code, e.Kind, e.Field, e.Constraint, e.ClientMessage, tt.code, tt.kind, tt.field, tt.constraint, tt.clientMessage)
			}
			if e.Message == "" || e.Error() != err.Error() {
				t.Fatalf("message %q, Error() %q; want PostgreSQL's (%q)", e.Message, e.Error(), err)
			}
		})
	}
	if _, ok := database.AsError(errors.New("not from the server")); ok {
		t.Fatal("AsError classified an error that did not come from PostgreSQL")
	}
	if _, ok := database.AsError(nil); ok {
		t.Fatal("AsError(nil) found an error")
	}
}
