package dbadmin_test

import (
	"context"
	"strings"
	"testing"

	"healthcare/internal/dbadmin"
	"healthcare/internal/pgtest"
)

// TestRefusalLinkProblem: a superuser's migration sets the psql door's
// refusal link up; without dblink, migrate has something to say.
func TestRefusalLinkProblem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tdb := pgtest.New(t)
	if p, err := dbadmin.RefusalLinkProblem(ctx, tdb.Pool); err != nil || p != "" {
		t.Fatalf("after a superuser's migration: %q %v, want no problem", p, err)
	}
	if _, err := tdb.Pool.Exec(ctx, "drop extension dblink"); err != nil {
		t.Fatal(err)
	}
	if p, err := dbadmin.RefusalLinkProblem(ctx, tdb.Pool); err != nil || !strings.Contains(p, "dblink is not installed") {
		t.Fatalf("without dblink: %q %v", p, err)
	}
}
