package sql_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"healthcare/internal/pgtest"
)

// TestPatientQueriesUseIndexes runs api.list_patients and api.get_patient as
// API user A over 20,000 patients of 2,000 owners and captures, through
// auto_explain, the plans of the statements inside them: each must reach
// app.patients through patients_owner_id_id_idx or the primary key, never a
// sequential scan. The policies (`owner_id = (select app.current_user_id())`)
// and the functions' explicit owner filter are what make this possible.
func TestPatientQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	db := pgtest.New(t)
	installDoorExec(t, db)
	pgtest.CreateUsers(t, db.Pool, "owner", 2000)
	if _, err := db.Pool.Exec(ctx, `
		insert into app.patients (owner_id, name, age, gender)
		select u.id, 'Patient ' || u.id || '-' || g, (u.id + g) % 100, (array['male', 'female', 'other', 'unknown'])[1 + g % 4]
		  from app.users u, generate_series(1, 10) g;
		analyze app.users;
		analyze app.patients;`); err != nil {
		t.Fatal(err)
	}
	var userA, patientA int64
	if err := db.Pool.QueryRow(ctx, `select owner_id, min(id) from app.patients where owner_id = (select id from app.users where username = 'owner1000') group by owner_id`).Scan(&userA, &patientA); err != nil {
		t.Fatal(err)
	}

	conn, plans := autoExplainConn(t, ctx, db)
	a := apiCaller("API user A", func(*fixture) string { return id(userA) })
	for _, q := range []struct {
		call, stmt, index string
	}{
		{"select api.list_patients(50, 0)", "from app.patients p where p.owner_id = v_uid", "patients_owner_id_id_idx"},
		{fmt.Sprintf("select api.get_patient(%d)", patientA), "from app.patients p where p.id = p_id", "patients_pkey"},
	} {
		t.Run(q.call+" reaches app.patients by index", func(t *testing.T) {
			*plans = nil
			tx := asCaller(t, ctx, conn, nil, &a)
			defer func() { _ = tx.Rollback(ctx) }()
			var body []byte
			if err := tx.QueryRow(ctx, q.call).Scan(&body); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(body), fmt.Sprintf(`"id" : %d`, patientA)) {
				t.Fatalf("%s did not return A's patient %d: %s", q.call, patientA, body)
			}
			var found int
			for _, p := range *plans {
				if !strings.Contains(p, q.stmt) {
					continue
				}
				found++
				if strings.Contains(p, "Seq Scan on patients") {
					t.Errorf("sequential scan of app.patients:\n%s", p)
				}
				if !strings.Contains(p, "Index") || !strings.Contains(p, q.index) {
					t.Errorf("plan does not use %s:\n%s", q.index, p)
				}
			}
			if found == 0 {
				t.Fatalf("auto_explain reported no statement containing %q; plans seen:\n%s", q.stmt, strings.Join(*plans, "\n---\n"))
			}
		})
	}
	// Every policy and api function asks app.current_user_id() (and
	// app.current_user_is_admin()) first: that lookup must be an index probe
	// too, or every request scans all accounts.
	t.Run("the identity lookup reaches app.users by index", func(t *testing.T) {
		*plans = nil
		tx := asCaller(t, ctx, conn, nil, &a)
		defer func() { _ = tx.Rollback(ctx) }()
		_, got, err := execAs(ctx, tx, &a, "select app.current_user_id() from app.current_user_is_admin()")
		if err != nil || derefString(got) != id(userA) {
			t.Fatalf("app.current_user_id() = %s, %v; want %d", derefString(got), err, userA)
		}
		found := 0
		for _, p := range *plans {
			if !strings.Contains(p, "from app.users u") {
				continue
			}
			found++
			if strings.Contains(p, "Seq Scan on users") {
				t.Errorf("sequential scan of app.users (%d accounts) to identify the caller:\n%s", 2000, p)
			}
		}
		if found == 0 {
			t.Fatalf("auto_explain reported no lookup in app.users; plans seen:\n%s", strings.Join(*plans, "\n---\n"))
		}
	})
}

// autoExplainConn is a superuser connection to db on which auto_explain
// reports, with actual row counts and loops, the plan of every statement
// (nested ones included) into *plans. Loading the module and its settings
// need the superuser; the calls then run as a caller (asCaller), under the
// policies.
func autoExplainConn(t *testing.T, ctx context.Context, db *pgtest.DB) (*pgx.Conn, *[]string) {
	t.Helper()
	cfg, err := pgx.ParseConfig(db.SuperURL)
	if err != nil {
		t.Fatal(err)
	}
	plans := new([]string)
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		if strings.Contains(n.Message, "Query Text:") {
			*plans = append(*plans, n.Message)
		}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	for _, s := range []string{
		"load 'auto_explain'",
		"set auto_explain.log_min_duration = 0",
		"set auto_explain.log_nested_statements = on",
		"set auto_explain.log_analyze = on",
		"set auto_explain.log_timing = off",
		"set auto_explain.log_level = notice",
	} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return conn, plans
}
