package sql_test

// The reporting door publishes only protected numbers: threshold with
// dominance, complementary suppression, cell key perturbation, and no plan
// or statistic of the tables behind them.

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/pgtest"
)

// reportRows makes a release of the reporting door from the data as it
// stands (as the server does once a release_interval) and reads a
// reporting view of it as the reporting login, one "a|b|c" string per row
// in the view's order.
func reportRows(t *testing.T, db *pgtest.DB, view string) []string {
	t.Helper()
	if _, err := db.Pool.Exec(context.Background(), "select app.release_reports(true)"); err != nil {
		t.Fatal(err)
	}
	return readReport(t, db, view)
}

// readReport reads a reporting view as the reporting login, as it stands.
func readReport(t *testing.T, db *pgtest.DB, view string) []string {
	t.Helper()
	var out []string
	withConn(t, &fixture{db: db}, func(ctx context.Context, conn *pgx.Conn) {
		tx := asCaller(t, ctx, conn, nil, &reporting)
		defer func() { _ = tx.Rollback(ctx) }()
		rows, err := tx.Query(ctx, "select * from "+view)
		if err != nil {
			t.Fatal(err)
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
			vals, err := r.Values()
			parts := make([]string, len(vals))
			for i, x := range vals {
				parts[i] = "NULL"
				if x != nil {
					parts[i] = fmt.Sprint(x)
				}
			}
			return strings.Join(parts, "|"), err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	return out
}

// seedCells makes one owner per patient of each cell (so no owner
// dominates) unless owner is given, and returns the owners' ids.
func seedPatients(t *testing.T, db *pgtest.DB, owners []int64, n, age int, gender string) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := db.Pool.Exec(context.Background(),
			`insert into app.patients (owner_id, name, age, gender) values ($1, 'Cell patient', $2, $3)`,
			owners[i%len(owners)], age, gender); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReportingPublishesOnlyProtectedCells(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	db.EnsureLogin(t, loginReporting, "healthcare_reporting")
	owners := pgtest.CreateUsers(t, db.Pool, "owner", 20)
	// Age bands 0-17, 18-29, 65+ by gender. 65+/male holds 3 patients:
	// below the threshold. Complementary suppression must then hide one
	// more cell in its row (65+/female) and in its column (0-17/male, the
	// smallest), and in turn one more in column female (0-17/female).
	seedPatients(t, db, owners, 12, 10, "female")
	seedPatients(t, db, owners, 13, 10, "male")
	seedPatients(t, db, owners, 14, 20, "female")
	seedPatients(t, db, owners, 15, 20, "male")
	seedPatients(t, db, owners, 11, 70, "female")
	seedPatients(t, db, owners, 3, 70, "male")

	// What the database holds for a cell: its count and its perturbed value.
	truth := func(age int, gender string) (n, published int64) {
		t.Helper()
		if err := db.Pool.QueryRow(ctx, `select count(*), count(*) + app.cell_perturbation(sum(record_key))
			from app.patients where age = $1 and gender = $2`, age, gender).Scan(&n, &published); err != nil {
			t.Fatal(err)
		}
		return n, published
	}
	_, f20 := truth(20, "female")
	_, m20 := truth(20, "male")
	want := []string{
		"0-17|female|NULL|true", "0-17|male|NULL|true",
		fmt.Sprintf("18-29|female|%d|false", f20), fmt.Sprintf("18-29|male|%d|false", m20),
		"65+|female|NULL|true", "65+|male|NULL|true",
	}
	got := reportRows(t, db, "reporting.patients_by_age_band")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("patients_by_age_band:\n got %q\nwant %q", got, want)
	}
	for _, c := range []struct {
		n, published int64
	}{{14, f20}, {15, m20}} {
		if d := c.published - c.n; d < -2 || d > 2 {
			t.Errorf("published %d for a cell of %d: perturbation beyond -2..+2", c.published, c.n)
		}
	}
	t.Run("the same records always publish the same numbers", func(t *testing.T) {
		if again := reportRows(t, db, "reporting.patients_by_age_band"); strings.Join(again, "\n") != strings.Join(got, "\n") {
			t.Fatalf("second read %q, first %q", again, got)
		}
	})
	t.Run("padding a suppressed cell with one's own patients does not publish it", func(t *testing.T) {
		// The owner of one of the three adds nine more: 12 records, but
		// only 2 besides the largest contributor's.
		seedPatients(t, db, owners[:1], 9, 70, "male")
		for _, r := range reportRows(t, db, "reporting.patients_by_age_band") {
			if strings.HasPrefix(r, "65+|male|") && r != "65+|male|NULL|true" {
				t.Fatalf("padded cell published: %s", r)
			}
		}
	})
	t.Run("the threshold is a setting, never below 3", func(t *testing.T) {
		if _, err := db.Pool.Exec(ctx, "update app.reporting_settings set min_cell = 2"); err == nil {
			t.Fatal("min_cell 2 accepted")
		}
		if _, err := db.Pool.Exec(ctx, "update app.reporting_settings set min_cell = 16"); err != nil {
			t.Fatal(err)
		}
		defer func() { _, _ = db.Pool.Exec(ctx, "update app.reporting_settings set min_cell = 10") }()
		for _, r := range reportRows(t, db, "reporting.patients_by_age_band") {
			if !strings.HasSuffix(r, "|NULL|true") {
				t.Fatalf("min_cell 16 still publishes %s", r)
			}
		}
	})
}

// TestReportingNeverLeavesOneSuppressedCell: in every row and column of
// every view, zero or at least two cells are suppressed, so none follows
// from a margin.
func TestReportingNeverLeavesOneSuppressedCell(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	db.EnsureLogin(t, loginReporting, "healthcare_reporting")
	owners := pgtest.CreateUsers(t, db.Pool, "owner", 30)
	// Doctors with 12, 14 and 2 patients (one owner each): the third is
	// suppressed, so the smallest other one must be too.
	var docs []int64
	for i, spec := range []string{"Cardiology", "Dermatology", "Oncology"} {
		var d int64
		if err := db.Pool.QueryRow(ctx, `insert into app.doctors (name, specialization) values ($1, $2) returning id`, fmt.Sprint("Dr ", i), spec).Scan(&d); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d)
	}
	for i, n := range []int{12, 14, 2} {
		if _, err := db.Pool.Exec(ctx, `
			with p as (insert into app.patients (owner_id, name, age, gender)
			           select o, 'Mapped', 40, 'other' from unnest($1::bigint[]) o returning id)
			insert into app.patient_doctors (patient_id, doctor_id) select id, $2 from p`, owners[:n], docs[i]); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range reportingViews {
		rows := reportRows(t, db, v)
		suppressed := 0
		for _, r := range rows {
			if strings.HasSuffix(r, "|true") {
				suppressed++
			}
		}
		if len(rows) == 0 {
			t.Fatalf("%s is empty", v)
		}
		if suppressed == 1 {
			t.Errorf("%s has exactly one suppressed cell: %q", v, rows)
		}
		if v == "reporting.mappings_per_doctor" && suppressed != 2 {
			t.Errorf("%s: %q, want the 2-patient doctor and the 12-patient one suppressed", v, rows)
		}
	}
}

// scanOfTable matches a plan node that reads a table.
var scanOfTable = regexp.MustCompile(`(?i)scan on (patients|doctors|patient_doctors|users)\b|"Relation Name"`)

// TestReportingExplainShowsNoInputs: EXPLAIN ANALYZE of a reporting view
// shows a function scan returning the published rows, never the scan of a
// table with its row count.
func TestReportingExplainShowsNoInputs(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	db.EnsureLogin(t, loginReporting, "healthcare_reporting")
	owners := pgtest.CreateUsers(t, db.Pool, "owner", 3)
	seedPatients(t, db, owners, 3, 40, "female")
	for _, v := range reportingViews {
		for _, format := range []string{"text", "json"} {
			t.Run(v+" "+format, func(t *testing.T) {
				withConn(t, &fixture{db: db}, func(ctx context.Context, conn *pgx.Conn) {
					tx := asCaller(t, ctx, conn, nil, &reporting)
					defer func() { _ = tx.Rollback(ctx) }()
					rows, err := tx.Query(ctx, "explain (analyze, verbose, format "+format+") select * from "+v+" where suppressed")
					if err != nil {
						t.Fatal(err)
					}
					lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
					if err != nil {
						t.Fatal(err)
					}
					plan := strings.Join(lines, "\n")
					if scanOfTable.MatchString(plan) || !strings.Contains(plan, "Function Scan") {
						t.Fatalf("plan shows its inputs:\n%s", plan)
					}
				})
			})
		}
	}
}

// TestPaddingAndRereadingLearnsNothing replays the averaging attack on a
// suppressed cell: one person pads it with ten patients in a self-
// registered account and ten in a psql account, then 25 times swaps one
// pad for a new one (new record key, so new noise) and re-reads the cell.
// Computed live, the readings spread over the noise and their mode minus
// the padding is the true count; from releases, every reading between two
// releases is the same, so the readings say nothing of the cell.
func TestPaddingAndRereadingLearnsNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	db.EnsureLogin(t, loginReporting, "healthcare_reporting")
	owners := pgtest.CreateUsers(t, db.Pool, "owner", 12)
	seedPatients(t, db, owners, 12, 20, "female")
	seedPatients(t, db, owners, 12, 20, "male")
	seedPatients(t, db, owners, 12, 70, "female")
	seedPatients(t, db, owners[:1], 1, 70, "male") // the cell under attack: 1
	cell := func(rows []string) string {
		t.Helper()
		for _, r := range rows {
			if strings.HasPrefix(r, "65+|male|") {
				return r
			}
		}
		t.Fatalf("no 65+|male cell in %q", rows)
		return ""
	}
	before := cell(reportRows(t, db, "reporting.patients_by_age_band")) // today's release
	if before != "65+|male|NULL|true" {
		t.Fatalf("before the attack the cell reads %s, want suppressed", before)
	}
	selfRegistered := pgtest.CreateUser(t, db.Pool, "padder")
	psqlAccount := pgtest.CreateUser(t, db.Pool, "padder_psql")
	// Record keys chosen so each swap lands the cell's key in another band
	// of the perturbation table (cell keys are sums of record keys).
	key := 0
	pad := func(owner int64) int64 {
		t.Helper()
		key += 137_000
		var id int64
		if err := db.Pool.QueryRow(ctx, `insert into app.patients (owner_id, name, age, gender, record_key)
			values ($1, 'Pad', 70, 'male', $2) returning id`, owner, key%1_000_000).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	var pads []int64
	for i := 0; i < 10; i++ {
		pads = append(pads, pad(selfRegistered), pad(psqlAccount))
	}
	live := map[string]int{}
	released := map[string]int{}
	for round := 0; round < 25; round++ {
		if _, err := db.Pool.Exec(ctx, `delete from app.patients where id = $1`, pads[round%len(pads)]); err != nil {
			t.Fatal(err)
		}
		owner := selfRegistered
		if round%2 == 1 {
			owner = psqlAccount
		}
		pads[round%len(pads)] = pad(owner)
		// The server asks for a release every minute; within the release
		// interval it is refused and the reading stays.
		if _, err := db.Pool.Exec(ctx, "select app.release_reports()"); err != nil {
			t.Fatal(err)
		}
		released[cell(readReport(t, db, "reporting.patients_by_age_band"))]++
		var v string
		if err := db.Pool.QueryRow(ctx, `select age_band || '|' || gender || '|' || coalesce(patients::text, 'NULL') || '|' || suppressed
			from app.report_patients_by_age_band() where age_band = '65+' and gender = 'male'`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		live[v]++
	}
	if len(released) != 1 || released[before] != 25 {
		t.Fatalf("the 25 readings of the release were %v; want the release's one value, %s, every time", released, before)
	}
	// The same rounds read live would have leaked: the padded cell is
	// published, and its noise moves with every swap.
	if len(live) < 2 {
		t.Fatalf("live readings %v do not vary; the test no longer replays the attack", live)
	}
	t.Logf("live readings the release withheld: %v", live)
}
