package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"healthcare/internal/apitest"
	"healthcare/internal/pgtest"
)

// TestHealthcheckFollowsHTTPAddr: without --url, healthcheck asks
// /healthz on HTTP_ADDR (a wildcard host through 127.0.0.1), so a server
// moved to another port is still checked where it listens.
func TestHealthcheckFollowsHTTPAddr(t *testing.T) {
	t.Chdir(t.TempDir()) // no .env
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for _, addr := range []string{srv.Listener.Addr().String(), "0.0.0.0:" + port, ":" + port} {
		var out bytes.Buffer
		if err := runHealthcheck(context.Background(), nil, apitest.Env{"HTTP_ADDR": addr}.Getenv, nil, &out, io.Discard); err != nil || out.String() != "ok\n" {
			t.Errorf("HTTP_ADDR=%s: %q, %v", addr, out.String(), err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	err = runHealthcheck(context.Background(), nil, apitest.Env{"HTTP_ADDR": closed}.Getenv, nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), closed) {
		t.Errorf("HTTP_ADDR=%s with nothing there: %v", closed, err)
	}
	if got := healthURL(""); got != "http://127.0.0.1:8000/healthz" {
		t.Errorf("default URL %s", got)
	}
}

// TestWalkthroughNamesBASE: the walkthrough against an address where
// nothing listens says so and how to set BASE=, instead of a bare curl
// error.
func TestWalkthroughNamesBASE(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ln.Close()
	cmd := exec.Command("bash", "../../docs/walkthrough.sh")
	cmd.Env = append(os.Environ(), "BASE="+base)
	var stderr bytes.Buffer
	cmd.Stderr, cmd.Stdout = &stderr, io.Discard
	err = cmd.Run()
	if err == nil || !strings.Contains(stderr.String(), "no healthcare server answers at "+base) ||
		!strings.Contains(stderr.String(), "BASE=") || strings.Contains(stderr.String(), "curl: (7)") {
		t.Fatalf("walkthrough with no server at %s: %v\n%s", base, err, stderr.String())
	}
}

// TestCreatesuperuserRefusalsReadNaturally: a refused username or
// address reads as a sentence, not "username a user named ..." or
// "email enter a valid ...".
func TestCreatesuperuserRefusalsReadNaturally(t *testing.T) {
	db := pgtest.New(t)
	create := func(name, email string) error {
		return runCreateSuperuser(context.Background(),
			[]string{"--database-url", db.SuperURL, "--no-input", "--username", name, "--email", email},
			apitest.Env{"SUPERUSER_PASSWORD": "correct horse battery"}.Getenv, strings.NewReader(""), io.Discard, io.Discard)
	}
	if err := create("alice", "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, email, want string }{
		{"alice", "", `createsuperuser: a user named "alice" already exists (usernames are unique regardless of case)`},
		{"carol", "not-an-address", "createsuperuser: enter a valid e-mail address (name@domain"},
		{"bad name!", "", "createsuperuser: enter a valid username: 1 to 150"},
	} {
		err := create(tc.name, tc.email)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.HasSuffix(err.Error(), ".") {
			t.Errorf("createsuperuser --username %q --email %q: %v\nwant %q", tc.name, tc.email, err, tc.want)
		}
	}
}

// TestUnknownFlagIsSaidOnce: the flag package's own message is not printed
// besides run's; --help still prints the usage.
func TestUnknownFlagIsSaidOnce(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run([]string{"serve", "--nope"}, apitest.Env{}.Getenv, strings.NewReader(""), &stdout, &stderr)
	if exitCode(err) != 2 {
		t.Fatalf("exit code %d (%v), want 2", exitCode(err), err)
	}
	if n := strings.Count(stderr.String(), "flag provided but not defined"); n != 1 {
		t.Fatalf("the unknown flag is reported %d times:\n%s", n, stderr.String())
	}
	if !strings.Contains(stderr.String(), "healthcare serve --help") {
		t.Errorf("no pointer to --help:\n%s", stderr.String())
	}
	stderr.Reset()
	err = run([]string{"serve", "--help"}, apitest.Env{}.Getenv, strings.NewReader(""), &stdout, &stderr)
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "Usage: healthcare serve") || !strings.Contains(stderr.String(), "-database-url") {
		t.Fatalf("serve --help: %v\n%s", err, stderr.String())
	}
}

// TestMistypedCommandGetsASuggestion: a near miss names the command it
// probably meant; a far one does not guess.
func TestMistypedCommandGetsASuggestion(t *testing.T) {
	for typed, want := range map[string]string{"migrat": "migrate", "mirgate": "migrate", "serv": "serve", "heathcheck": "healthcheck", "createsuperusr": "createsuperuser"} {
		err := dispatch(context.Background(), []string{typed}, apitest.Env{}.Getenv, strings.NewReader(""), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "did you mean "+want+"?") || exitCode(err) != 2 {
			t.Errorf("%s: %v, want a suggestion of %s", typed, err, want)
		}
	}
	err := dispatch(context.Background(), []string{"frobnicate"}, apitest.Env{}.Getenv, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("frobnicate: %v, want no guess", err)
	}
}

// TestHelpSaysWhatANewcomerNeeds: dev --help names the drrao account, and
// audit --help says it finds the dev database by itself.
func TestHelpSaysWhatANewcomerNeeds(t *testing.T) {
	help := func(args ...string) string {
		var stderr bytes.Buffer
		if err := dispatch(context.Background(), args, apitest.Env{}.Getenv, strings.NewReader(""), io.Discard, &stderr); !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("%v: %v", args, err)
		}
		return strings.Join(strings.Fields(stderr.String()), " ")
	}
	if h := help("dev", "--help"); !strings.Contains(h, "drrao linked to Dr. Asha Rao's doctor record") {
		t.Errorf("dev --help does not mention drrao:\n%s", h)
	}
	if h := help("audit", "--help"); !strings.Contains(h, `the database of a "healthcare dev" running from this folder, which audit finds by itself`) {
		t.Errorf("audit --help does not say it finds the dev database:\n%s", h)
	}
}
