package audit_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/audit"
	"healthcare/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// withEvents returns a database whose trail holds a few sealed events:
// three patients created over the privileged connection (one event each).
func withEvents(t *testing.T) *pgtest.DB {
	t.Helper()
	db := pgtest.New(t)
	ctx := context.Background()
	owner := pgtest.CreateUser(t, db.Pool, "owner")
	if _, err := db.Pool.Exec(ctx, `
		insert into app.patients (owner_id, name, age, gender) select $1, 'Patient ' || g, 30 + g, 'female' from generate_series(1, 3) g`, owner); err != nil {
		t.Fatal(err)
	}
	r, err := audit.Seal(ctx, db.Pool)
	if err != nil || !r.Sealed || r.Events < 3 {
		t.Fatalf("seal = %+v, %v", r, err)
	}
	return db
}

// tamper runs sql as a superuser who switched the triggers off, the
// strongest attacker short of rewriting the whole chain.
func tamper(t *testing.T, db *pgtest.DB, sql string) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	for _, s := range []string{"set local session_replication_role = replica", sql} {
		if _, err := tx.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// The tests of this package do not run in parallel: a seal covers the
// transactions finished cluster-wide, so one test's open transaction
// would hold back another's seal.

func TestVerifyCatchesEveryChangeToASealedRange(t *testing.T) {
	ctx := context.Background()
	t.Run("an untouched chain verifies, and seals again after new events", func(t *testing.T) {
		db := withEvents(t)
		rep, err := audit.Verify(ctx, db.Pool)
		if err != nil || rep.Seals != 1 || rep.Events < 3 || len(rep.LastHash) != 64 {
			t.Fatalf("verify = %+v, %v", rep, err)
		}
		if _, err := db.Pool.Exec(ctx, `update app.patients set age = age + 1`); err != nil {
			t.Fatal(err)
		}
		if r, err := audit.Seal(ctx, db.Pool); err != nil || !r.Sealed || r.Events != 3 {
			t.Fatalf("second seal = %+v, %v", r, err)
		}
		rep2, err := audit.Verify(ctx, db.Pool)
		if err != nil || rep2.Seals != 2 || rep2.Events != rep.Events+3 || rep2.LastHash == rep.LastHash {
			t.Fatalf("verify after a second seal = %+v, %v", rep2, err)
		}
		if r, err := audit.Seal(ctx, db.Pool); err != nil || r.Sealed {
			t.Fatalf("a seal with nothing new = %+v, %v", r, err)
		}
	})
	for name, sql := range map[string]string{
		"an updated event":  `update audit.events set outcome = 'forbidden' where id = (select min(id) from audit.events)`,
		"a deleted event":   `delete from audit.events where id = (select max(id) from audit.events)`,
		"an inserted event": `insert into audit.events (xact, door, action, outcome) values ((select xact_from from audit.seals limit 1), 'rest', 'read', 'ok')`,
		"a changed detail":  `update audit.events set detail = jsonb_set(detail, '{after,name}', '"Someone Else"') where id = (select min(id) from audit.events)`,
		"a changed seal":    `update audit.seals set events = events - 1`,
		"a removed seal":    `delete from audit.seals`,
	} {
		t.Run(name+" breaks verification", func(t *testing.T) {
			db := withEvents(t)
			if _, err := audit.Verify(ctx, db.Pool); err != nil {
				t.Fatalf("before tampering: %v", err)
			}
			tamper(t, db, sql)
			_, err := audit.Verify(ctx, db.Pool)
			if name == "a removed seal" {
				// With no seal left there is nothing to check against: the
				// head hash kept outside the database is what shows it.
				rep, err := audit.Verify(ctx, db.Pool)
				if err != nil || rep.Seals != 0 || rep.LastHash != "" {
					t.Fatalf("verify = %+v, %v", rep, err)
				}
				return
			}
			if !errors.Is(err, audit.ErrBroken) || !strings.Contains(err.Error(), "seal 1") {
				t.Fatalf("verify after %s = %v, want ErrBroken naming seal 1", name, err)
			}
		})
	}
}

// Finding 10 of issue 24: `audit verify` works for an auditor login, read
// only: it verifies an untouched chain and catches a tampered one.
func TestVerifyRunsAsAnAuditorLogin(t *testing.T) {
	ctx := context.Background()
	db := withEvents(t)
	conn, err := pgx.Connect(ctx, db.EnsureLogin(t, "audittest_auditor", "healthcare_auditor"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rep, err := audit.Verify(ctx, conn)
	if err != nil || rep.Seals != 1 || rep.Events < 3 {
		t.Fatalf("verify as an auditor = %+v, %v", rep, err)
	}
	if _, err := conn.Exec(ctx, `update audit.seal_state set chain_from_seal = 2`); err == nil {
		t.Fatal("an auditor moved the start of the chain")
	}
	tamper(t, db, `update audit.events set outcome = 'forbidden' where id = (select min(id) from audit.events)`)
	if _, err := audit.Verify(ctx, conn); !errors.Is(err, audit.ErrBroken) {
		t.Fatalf("verify as an auditor after tampering = %v, want ErrBroken", err)
	}
}

// TestPruneDropsOnlyWholeOldMonths prunes at pinned dates: the first, the
// middle and the last day of a month, February's last day in a leap year
// and not, and either side of a year's turn. Which months go depends on
// the day, so each case works out its own expectation from the calendar.
func TestPruneDropsOnlyWholeOldMonths(t *testing.T) {
	for _, now := range []time.Time{
		time.Date(2025, 3, 1, 0, 30, 0, 0, time.UTC),
		time.Date(2025, 3, 15, 12, 0, 0, 0, time.UTC),
		time.Date(2025, 3, 31, 23, 30, 0, 0, time.UTC),
		time.Date(2025, 2, 28, 12, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC),
		time.Date(2025, 12, 31, 23, 59, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC),
	} {
		// One at a time: a seal waits for every transaction of the cluster
		// older than its events, and a sibling's would hold it back.
		t.Run(now.Format("2006-01-02T15:04"), func(t *testing.T) {
			testPruneAt(t, now)
		})
	}
}

// testPruneAt writes one event in each of the 30 months up to now's and
// prunes what is older than 720 days at now.
func testPruneAt(t *testing.T, now time.Time) {
	ctx := context.Background()
	db := pgtest.New(t)
	const months = 30
	const olderThan = 720 * 24 * time.Hour
	monthStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	cutoff := now.Add(-olderThan)
	// Month m (m months before now's) holds one event, on its 4th day; its
	// partition goes when the partition's end is not after the cutoff.
	var at []time.Time
	var want []string
	for m := 0; m <= months; m++ {
		start := monthStart.AddDate(0, -m, 0)
		if m < months {
			at = append(at, start.AddDate(0, 0, 3))
		}
		if !start.AddDate(0, 1, 0).After(cutoff) {
			want = append(want, "events_"+start.Format("2006_01"))
		}
	}
	slices.Sort(want)
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `set local role healthcare_audit`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `select audit.create_partitions($1::date, $2)`, monthStart.AddDate(0, -months, 0), months+1)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `
		insert into audit.events (at, door, action, outcome, detail)
		select a, 'admin', 'read', 'ok', jsonb_build_object('month', m - 1)
		  from unnest($1::timestamptz[]) with ordinality e(a, m)`, at); err != nil {
		t.Fatal(err)
	}
	count := func(where string, args ...any) int {
		t.Helper()
		var n int
		if err := db.Pool.QueryRow(ctx, "select count(*) from audit.events where "+where, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	partitions := func() int {
		t.Helper()
		var n int
		if err := db.Pool.QueryRow(ctx, `select count(*) from pg_inherits where inhparent = 'audit.events'::regclass`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The history is sealed before the prune; the chain must still verify
	// after it, from the first seal whose events remain.
	if r, err := audit.Seal(ctx, db.Pool); err != nil || !r.Sealed {
		t.Fatalf("seal = %+v, %v", r, err)
	}
	recent := pgtest.CreateUser(t, db.Pool, "recent")
	if _, err := db.Pool.Exec(ctx, `insert into app.patients (owner_id, name, age, gender) values ($1, 'Recent', 20, 'male')`, recent); err != nil {
		t.Fatal(err)
	}
	if r, err := audit.Seal(ctx, db.Pool); err != nil || !r.Sealed {
		t.Fatalf("second seal = %+v, %v", r, err)
	}
	before := partitions()
	dropped, err := audit.Prune(ctx, db.Pool, olderThan, now)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(dropped)
	// Exactly the months wholly older than the cutoff are gone, with their
	// events; the month that straddles it stays whole.
	if !slices.Equal(dropped, want) || partitions() != before-len(dropped) {
		t.Fatalf("cutoff %s: dropped %v, want %v (partitions %d -> %d)", cutoff.Format(time.DateTime), dropped, want, before, partitions())
	}
	kept := months - (len(want) - 1) // want also names the empty 31st month
	if n := count(`(detail->>'month')::int >= $1`, kept); n != 0 {
		t.Fatalf("%d events of months wholly older than the cutoff remain", n)
	}
	if n := count(`(detail->>'month')::int < $1`, kept); n != kept {
		t.Fatalf("%d of the %d kept months' events remain", n, kept)
	}
	var recorded int
	if err := db.Pool.QueryRow(ctx, `select count(*) from audit.events where action = 'prune' and detail->'dropped' ? $1`, dropped[0]).Scan(&recorded); err != nil || recorded != 1 {
		t.Fatalf("the prune was not recorded as an event naming what it dropped (%d, %v)", recorded, err)
	}
	t.Run("the chain still verifies after the prune", func(t *testing.T) {
		rep, err := audit.Verify(ctx, db.Pool)
		if err != nil || rep.Seals != 1 {
			t.Fatalf("verify after the prune = %+v, %v; want the one seal whose events remain", rep, err)
		}
		tamper(t, db, `update audit.events set detail = '{}' where detail #>> '{after,name}' = 'Recent'`)
		if _, err := audit.Verify(ctx, db.Pool); !errors.Is(err, audit.ErrBroken) {
			t.Fatalf("verify after an edit of a remaining sealed event = %v, want ErrBroken", err)
		}
	})
	t.Run("less than a month is refused", func(t *testing.T) {
		if _, err := audit.Prune(ctx, db.Pool, 24*time.Hour, now); err == nil || !strings.Contains(err.Error(), "one month") {
			t.Fatalf("prune of a day: %v", err)
		}
	})
	t.Run("runtime roles cannot prune", func(t *testing.T) {
		for _, role := range []string{"healthcare_api", "healthcare_user", "healthcare_auditor"} {
			_, err := db.Pool.Exec(ctx, fmt.Sprintf("set role %s; select audit.prune('1 month'); reset role", role))
			_, _ = db.Pool.Exec(ctx, "reset role")
			if err == nil || !strings.Contains(err.Error(), "permission denied") {
				t.Errorf("%s: %v", role, err)
			}
		}
	})
}

// TestOneSealerAtATime: of two concurrent sealers, one seals and the other
// returns at once, so server copies never serialise on the chain.
func TestOneSealerAtATime(t *testing.T) {
	ctx := context.Background()
	db := withEvents(t)
	if _, err := db.Pool.Exec(ctx, `update app.patients set age = age + 1`); err != nil {
		t.Fatal(err)
	}
	holder, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Rollback(ctx) }()
	if _, err := holder.Exec(ctx, `select * from audit.seal_state for update`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r, err := audit.Seal(ctx, db.Pool)
	if err != nil || r.Sealed || !strings.Contains(r.Reason, "another sealer") || time.Since(start) > 2*time.Second {
		t.Fatalf("seal while another holds the chain = %+v, %v after %v", r, err, time.Since(start))
	}
	_ = holder.Rollback(ctx)
	if r, err := audit.Seal(ctx, db.Pool); err != nil || !r.Sealed {
		t.Fatalf("seal after = %+v, %v", r, err)
	}
}

// TestTheMonthTurns: audit.roll_current gives the finished month's
// partition its name and makes the new month's partition
// audit.events_current; app.audit writes through the parent (routing by
// date) whenever audit.current_until has passed, so no event is refused
// at the turn of a month.
func TestTheMonthTurns(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	names := func(q interface {
		QueryRow(context.Context, string, ...any) pgx.Row
	}) (current, bound string) {
		t.Helper()
		if err := q.QueryRow(ctx, `select to_char(lower_bound, 'YYYY-MM'), to_char(audit.current_until() at time zone 'UTC', 'YYYY-MM')
			from (select (regexp_match(pg_get_expr(relpartbound, oid), 'FROM \(''([^'']+)''\)'))[1]::timestamptz as lower_bound
			        from pg_class where oid = 'audit.events_current'::regclass) s`).Scan(&current, &bound); err != nil {
			t.Fatal(err)
		}
		return current, bound
	}
	// The month the database was migrated in, as it recorded it: this test
	// reads no wall clock, so it holds on any day, a month's last included.
	var thisMonth, nextMonth string
	if err := db.Pool.QueryRow(ctx, `select to_char(current_month, 'YYYY-MM'), to_char(current_month + interval '1 month', 'YYYY-MM') from audit.seal_state`).Scan(&thisMonth, &nextMonth); err != nil {
		t.Fatal(err)
	}
	if cur, until := names(db.Pool); cur != thisMonth || until != nextMonth {
		t.Fatalf("events_current holds %s and current_until is %s; want %s and %s", cur, until, thisMonth, nextMonth)
	}

	t.Run("a month later", func(t *testing.T) {
		tx, err := db.Pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		if _, err := tx.Exec(ctx, `set local role healthcare_audit; select audit.roll_current((select current_month from audit.seal_state) + interval '1 month 2 days')`); err != nil {
			t.Fatal(err)
		}
		cur, _ := names(tx)
		if cur != nextMonth {
			t.Fatalf("after the turn events_current holds %s, want %s", cur, nextMonth)
		}
		var old bool
		if err := tx.QueryRow(ctx, `select to_regclass('audit.events_' || replace($1, '-', '_')) is not null`, thisMonth).Scan(&old); err != nil || !old {
			t.Fatalf("the finished month's partition was not renamed after it (%v)", err)
		}
	})

	t.Run("events written while current_until has passed go through the parent", func(t *testing.T) {
		if _, err := db.Pool.Exec(ctx, `set role healthcare_audit;
			create or replace function audit.current_until() returns timestamptz language sql immutable as $$ select '2000-01-01'::timestamptz $$;
			reset role`); err != nil {
			t.Fatal(err)
		}
		turn := pgtest.CreateUser(t, db.Pool, "turn")
		if _, err := db.Pool.Exec(ctx, `insert into app.patients (owner_id, name, age, gender) values ($1, 'At the turn', 20, 'male')`, turn); err != nil {
			t.Fatal(err)
		}
		var where string
		if err := db.Pool.QueryRow(ctx, `select tableoid::regclass::text from audit.events where detail #>> '{after,name}' = 'At the turn'`).Scan(&where); err != nil {
			t.Fatal(err)
		}
		if where != "audit.events_current" {
			t.Fatalf("the event landed in %s", where)
		}
		if r, err := audit.Seal(ctx, db.Pool); err != nil || !r.Sealed {
			t.Fatalf("seal = %+v, %v", r, err)
		}
		if _, until := names(db.Pool); until != nextMonth {
			t.Fatalf("after a seal current_until is %s, want %s", until, nextMonth)
		}
	})
}

// TestSealSummarizesTheNewPages: the sealer summarizes the BRIN ranges of
// audit.events_current filled since the last seal, so the next seal reads
// the events written since then, not every event since the last vacuum.
func TestSealSummarizesTheNewPages(t *testing.T) {
	ctx := context.Background()
	db := withEvents(t)
	// About 60 pages of events: a few BRIN ranges of 16 pages.
	if _, err := db.Pool.Exec(ctx, `
		insert into audit.events_current (door, action, outcome, detail)
		select 'admin', 'read', 'ok', jsonb_build_object('n', g) from generate_series(1, 8000) g`); err != nil {
		t.Fatal(err)
	}
	unsummarized := func() int {
		t.Helper()
		var n int
		if err := db.Pool.QueryRow(ctx, `
			select count(*) from pg_catalog.brin_summarize_range(
			         (select i.indexrelid from pg_index i join pg_class c on c.oid = i.indexrelid join pg_am a on a.oid = c.relam
			           where i.indrelid = 'audit.events_current'::regclass and a.amname = 'brin'), 32) r
			 where r > 0`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if r, err := audit.Seal(ctx, db.Pool); err != nil || !r.Sealed || r.Events < 8000 {
		t.Fatalf("seal = %+v, %v", r, err)
	}
	var pages int
	if err := db.Pool.QueryRow(ctx, `select pg_relation_size('audit.events_current') / current_setting('block_size')::int`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if pages < 32 {
		t.Fatalf("only %d pages of events; the test needs full BRIN ranges", pages)
	}
	// brin_summarize_range(index, 32) summarizes the range holding page 32
	// (filled by the insert above) if it was not; after the seal it finds
	// it done.
	if n := unsummarized(); n != 0 {
		t.Fatalf("the page range at page 32 of %d was still unsummarized after the seal", pages)
	}
}
