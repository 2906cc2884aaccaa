package reporting_test

import (
	"context"
	"testing"

	"healthcare/internal/pgtest"
	"healthcare/internal/reporting"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestOneReleasePerInterval: the first release is made when none exists,
// a second within release_interval is refused, and force makes one anyway.
func TestOneReleasePerInterval(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	steps := []struct {
		force, want bool
	}{{false, true}, {false, false}, {true, true}, {false, false}}
	var last int64
	for i, s := range steps {
		r, err := reporting.Release(ctx, db.Pool, s.force)
		if err != nil {
			t.Fatal(err)
		}
		if r.Released != s.want {
			t.Fatalf("step %d (force %t): %+v, want released %t", i, s.force, r, s.want)
		}
		if r.Released {
			if r.Release <= last {
				t.Fatalf("step %d: release %d after %d", i, r.Release, last)
			}
			last = r.Release
		}
	}
	var n int
	if err := db.Pool.QueryRow(ctx, "select count(*) from app.reporting_releases").Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d releases (%v), want 2", n, err)
	}
}

// TestTheServerAsksButNeverForces: the server's runtime login makes a due
// release through api.release_reports, and cannot force one.
func TestTheServerAsksButNeverForces(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	app := db.AppPool(t)
	if r, err := reporting.Release(ctx, app, false); err != nil || !r.Released {
		t.Fatalf("the server's first release: %+v, %v", r, err)
	}
	if r, err := reporting.Release(ctx, app, false); err != nil || r.Released {
		t.Fatalf("the server's second release within the interval: %+v, %v", r, err)
	}
	if _, err := reporting.Release(ctx, app, true); pgtest.PgError(err).Code != "42501" {
		t.Fatalf("the server forcing a release: %v, want permission denied", err)
	}
}
