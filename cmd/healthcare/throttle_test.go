package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"healthcare/internal/apitest"
	"healthcare/internal/pgtest"
)

// TestThrottleClearCommand: `healthcare throttle clear --user NAME` over
// the privileged connection removes the account's counters (its own and
// its pairs with every address, not other accounts'), says so, and
// records the clearing in the audit trail. (That the right password then
// logs in at once over REST: TestThrottleClearLetsTheRightPasswordIn in
// internal/httpapi.)
func TestThrottleClearCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	pgtest.CreateUser(t, db.Pool, "typist")
	pgtest.CreateUser(t, db.Pool, "bystander")
	fail := func(user, addr string) {
		t.Helper()
		if _, err := db.Pool.Exec(ctx, `select app.login_attempt($1, $2, 5, 50, 20, 3600)`, user, addr); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		fail("typist", "192.0.2.7")
	}
	fail("bystander", "198.51.100.1")
	counters := func(like string) int {
		t.Helper()
		var n int
		if err := db.Pool.QueryRow(ctx, `select count(*) from app.login_failures where key like $1 and failures > 0`, like).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if counters("typist%") != 2 {
		t.Fatalf("typist has %d counters before the clear, want 2 (account and pair)", counters("typist%"))
	}

	var stdout, stderr bytes.Buffer
	err := run([]string{"throttle", "clear", "--user", "Typist", "--database-url", db.SuperURL}, apitest.Env{}.Getenv, strings.NewReader(""), &stdout, &stderr)
	if err != nil {
		t.Fatalf("throttle clear: %v\n%s", err, stderr.String())
	}
	if want := "login throttle cleared for user Typist (2 counters removed; recorded in the audit trail)\n"; stdout.String() != want {
		t.Errorf("said %q, want %q", stdout.String(), want)
	}
	if n := counters("typist%"); n != 0 {
		t.Errorf("typist still has %d counters", n)
	}
	if n := counters("bystander%"); n != 2 {
		t.Errorf("bystander has %d counters, want its 2 untouched", n)
	}
	var event string
	if err := db.Pool.QueryRow(ctx, `select door || ' ' || action || ' ' || (detail ->> 'username') || ' ' || (detail ->> 'cleared')
	                                   from audit.events where detail ->> 'object' = 'login_throttle'`).Scan(&event); err != nil || event != "admin delete Typist 2" {
		t.Fatalf("event %q (%v), want admin delete Typist 2", event, err)
	}

	// Neither flag is a usage error; a malformed address is refused.
	if err := run([]string{"throttle", "clear", "--database-url", db.SuperURL}, apitest.Env{}.Getenv, strings.NewReader(""), &stdout, &stderr); exitCode(err) != 2 {
		t.Errorf("clear without --user or --address: %v (exit %d), want a usage error", err, exitCode(err))
	}
	err = run([]string{"throttle", "clear", "--address", "not-an-ip", "--database-url", db.SuperURL}, apitest.Env{}.Getenv, strings.NewReader(""), &stdout, &stderr)
	if err == nil || !strings.Contains(fmt.Sprint(err)+stderr.String(), "not an IP address") {
		t.Errorf("clear --address not-an-ip: %v, want it refused", err)
	}
}
