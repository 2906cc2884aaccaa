package database_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"healthcare/internal/pgtest"
)

// TestPolicyFilteredQueriesUseIndexes guards issue 5 item 3: the plans of
// the statements that api.list_patients and api.get_patient run (the
// identity lookup inside the policies included) use indexes, so their cost
// does not grow with the number of patients or users.
//
// The plans are the real ones: auto_explain with log_nested_statements
// reports every statement run inside the functions, and
// client_min_messages = log sends those reports to this session as
// notices. The caller is the REST server's role with app.user_id set, as
// database.Call does it.
func TestPolicyFilteredQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	tdb := pgtest.New(t)
	ctx := context.Background()
	const users, patients = 2000, 20000
	pgtest.CreateUsers(t, tdb.Pool, "u", users)
	seed := []string{
		`insert into app.patients (owner_id, name, age)
		   select u.id, 'p' || i, i % 100
		     from generate_series(1, 20000) i join app.users u on u.username = 'u' || (1 + i % 2000)`,
		`analyze app.users`, `analyze app.patients`,
	}
	for _, s := range seed {
		if _, err := tdb.Pool.Exec(ctx, s); err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
	var uid, pid int64
	if err := tdb.Pool.QueryRow(ctx, `select p.owner_id, p.id from app.patients p order by p.id desc limit 1`).Scan(&uid, &pid); err != nil {
		t.Fatal(err)
	}
	_ = patients

	cfg, err := pgx.ParseConfig(tdb.SuperURL)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		plans []string
	)
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		if strings.Contains(n.Message, "Query Text:") {
			mu.Lock()
			plans = append(plans, n.Message)
			mu.Unlock()
		}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range []string{
		`load 'auto_explain'`,
		`set auto_explain.log_min_duration = 0`,
		`set auto_explain.log_nested_statements = on`,
		`set auto_explain.log_level = 'notice'`,
	} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Skipf("auto_explain unavailable (%v): cannot read nested plans", err)
		}
	}

	calls := []struct {
		name, sql string
		args      []any
	}{
		{"list", `select api.list_patients($1::int, $2::int)::text`, []any{50, 0}},
		{"get", `select api.get_patient($1::bigint)::text`, []any{pid}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			mu.Lock()
			plans = nil
			mu.Unlock()
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			// session_user becomes the server's role, so app.current_user_id()
			// trusts app.user_id exactly as it does for the server.
			if _, err := tx.Exec(ctx, `set local session authorization `+pgtest.AppRole); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(ctx, `select set_config('app.user_id', $1::text, true)`, strconv.FormatInt(uid, 10)); err != nil {
				t.Fatal(err)
			}
			var body string
			if err := tx.QueryRow(ctx, c.sql, c.args...).Scan(&body); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			mu.Lock()
			got := append([]string(nil), plans...)
			mu.Unlock()
			if len(got) == 0 {
				t.Fatal("auto_explain reported no plans")
			}
			sawPatients := false
			for _, p := range got {
				if strings.Contains(p, "Seq Scan on patients") || strings.Contains(p, "Seq Scan on users") {
					t.Errorf("%s: a policy-filtered statement scans a whole table:\n%s", c.name, p)
				}
				if strings.Contains(p, " on patients") {
					sawPatients = true
				}
			}
			if !sawPatients {
				t.Errorf("%s: no plan touched patients; plans:\n%s", c.name, strings.Join(got, "\n---\n"))
			}
			if testing.Verbose() {
				t.Logf("%s plans:\n%s", c.name, strings.Join(got, "\n---\n"))
			}
		})
	}
}
