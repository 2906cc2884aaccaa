package pgtest

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Plans reads the real plans of what a call runs: Of runs one statement as
// the REST server's role (AppRole) with app.user_id set, as database.Call
// does, and returns auto_explain's report of every statement it ran, those
// inside functions included (log_nested_statements, sent to this session
// as notices). The transaction is rolled back; the test is skipped when
// auto_explain cannot be loaded.
type Plans struct {
	conn  *pgx.Conn
	mu    sync.Mutex
	plans []string
}

// NewPlans opens a superuser session of db with auto_explain loaded,
// closed in t.Cleanup.
func (db *DB) NewPlans(t testing.TB) *Plans {
	t.Helper()
	cfg, err := pgx.ParseConfig(db.SuperURL)
	if err != nil {
		t.Fatal(err)
	}
	p := &Plans{}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		if strings.Contains(n.Message, "Query Text:") {
			p.mu.Lock()
			p.plans = append(p.plans, n.Message)
			p.mu.Unlock()
		}
	}
	ctx := context.Background()
	if p.conn, err = pgx.ConnectConfig(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.conn.Close(context.Background()) })
	for _, s := range []string{`load 'auto_explain'`, `set auto_explain.log_min_duration = 0`,
		`set auto_explain.log_nested_statements = on`, `set auto_explain.log_level = 'notice'`} {
		if _, err := p.conn.Exec(ctx, s); err != nil {
			t.Skipf("auto_explain unavailable (%v): cannot read nested plans", err)
		}
	}
	return p
}

// Of runs sql as the server's role for app user uid and returns the plans
// of every statement it ran.
func (p *Plans) Of(t testing.TB, uid int64, sql string, args ...any) []string {
	t.Helper()
	ctx := context.Background()
	p.mu.Lock()
	p.plans = nil
	p.mu.Unlock()
	tx, err := p.conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	// session_user becomes the server's role, so app.current_user_id()
	// trusts app.user_id exactly as it does for the server.
	if _, err := tx.Exec(ctx, `set local session authorization `+AppRole); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `select set_config('app.user_id', $1::text, true)`, strconv.FormatInt(uid, 10)); err != nil {
		t.Fatal(err)
	}
	var body string
	if err := tx.QueryRow(ctx, sql, args...).Scan(&body); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.plans) == 0 {
		t.Fatalf("%s: auto_explain reported no plans", sql)
	}
	return append([]string(nil), p.plans...)
}
