package pgtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestCreateUserSetsTheColumnsItIsGiven(t *testing.T) {
	t.Parallel()
	db := New(t)
	ctx := context.Background()
	role := "pgtest_fixture_login"
	db.EnsureLogin(t, role)
	plain := CreateUser(t, db.Pool, "plain")
	full := CreateUser(t, db.Pool, "full", Email("full@example.com"), Admin(), DBRole(role))
	type row struct {
		username, email, hash string
		admin, active         bool
		dbRole                *string
	}
	read := func(id int64) row {
		t.Helper()
		var r row
		if err := db.Pool.QueryRow(ctx,
			`select username, email, password_hash, is_admin, is_active, db_role from app.users where id = $1`, id).
			Scan(&r.username, &r.email, &r.hash, &r.admin, &r.active, &r.dbRole); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := read(plain); r.username != "plain" || r.email != "" || r.hash != FakeHash || r.admin || !r.active || r.dbRole != nil {
		t.Errorf("plain user = %+v; want no e-mail, FakeHash, active, not admin, no role", r)
	}
	if r := read(full); r.username != "full" || r.email != "full@example.com" || r.hash != FakeHash || !r.admin || !r.active ||
		r.dbRole == nil || *r.dbRole != role {
		t.Errorf("full user = %+v; want the e-mail, FakeHash, active admin linked to %s", r, role)
	}
}

func TestCreateUsersReturnsTheIDsInNameOrder(t *testing.T) {
	t.Parallel()
	db := New(t)
	ids := CreateUsers(t, db.Pool, "many", 5)
	if len(ids) != 5 {
		t.Fatalf("got %d ids, want 5", len(ids))
	}
	for i, id := range ids {
		var name string
		if err := db.Pool.QueryRow(context.Background(), `select username from app.users where id = $1`, id).Scan(&name); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("many%d", i+1); name != want {
			t.Errorf("ids[%d] is %q, want %q", i, name, want)
		}
	}
	if !slices.IsSorted(ids) {
		t.Errorf("ids %v are not ascending", ids)
	}
}

func TestPgError(t *testing.T) {
	t.Parallel()
	db := New(t)
	_, err := db.Pool.Exec(context.Background(), `select 1 / 0`)
	if e := PgError(fmt.Errorf("wrapped: %w", err)); e.Code != "22012" {
		t.Errorf("PgError of a wrapped division by zero: code %q, want 22012", e.Code)
	}
	for _, err := range []error{nil, errors.New("not from PostgreSQL")} {
		if e := PgError(err); e.Code != "" || e.Message != "" {
			t.Errorf("PgError(%v) = %+v, want the zero PgError", err, e)
		}
	}
}
