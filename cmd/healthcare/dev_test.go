package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/apitest"
	"healthcare/internal/pgcluster"
)

// TestDotenvDoesNotChangeWhatDevIs: with .env copied from .env.example,
// dev still runs its private cluster and its own key, and says where each
// setting came from; only the command line or DATABASE_URL in the
// environment itself send it elsewhere.
func TestDotenvDoesNotChangeWhatDevIs(t *testing.T) {
	example, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	dotenv := string(example) + "\nDATABASE_URL=postgres://x:y@db.example/z\nHTTP_ADDR=127.0.0.1:8123\n"
	if err := os.WriteFile(envFile, []byte(dotenv), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := devSources(apitest.Env{}.Getenv, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if s.appURL != "" || s.secretKey != "" || s.addr != "127.0.0.1:8123" {
		t.Fatalf("from .env: database %q key %q addr %q; want the private cluster, dev's own key and .env's HTTP_ADDR", s.appURL, s.secretKey, s.addr)
	}
	var out bytes.Buffer
	s.print(&out, "/data")
	for _, want := range []string{
		"database: the private cluster in /data",
		"not used by dev: DATABASE_URL, DB_NAME, DB_USER, DB_PASSWORD, DB_HOST, DB_PORT",
		"listen address 127.0.0.1:8123: HTTP_ADDR from .env",
		"SECRET_KEY: dev's own (SECRET_KEY from .env is not used: is the example's placeholder",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dev's report lacks %q:\n%s", want, out.String())
		}
	}

	const good = "5e0b2c9a71f4d8e36a0c5b7d92e1f4a8"
	s, _ = devSources(apitest.Env{"DATABASE_URL": "postgres://app@h/db", "SECRET_KEY": good, "HTTP_ADDR": "127.0.0.1:9"}.Getenv, "", "", "127.0.0.1:7")
	if s.appURL != "postgres://app@h/db" || s.appFrom != "DATABASE_URL from the environment" || s.secretKey != good || s.addr != "127.0.0.1:7" {
		t.Fatalf("from the environment and flags: %+v", s)
	}
	if s.migrationURL != "" {
		t.Fatalf("the example's empty MIGRATION_DATABASE_URL became %q", s.migrationURL)
	}
	s, _ = devSources(apitest.Env{}.Getenv, "postgres://flag@h/db", "postgres://owner@h/db", "")
	if s.appFrom != "--database-url" || s.migrationURL != "postgres://owner@h/db" || s.migrationFrom != "--migration-database-url" {
		t.Fatalf("from the command line: %+v", s)
	}
}

// TestDevChecksItsPortFirst: a port in use stops dev before it creates
// its data folder.
func TestDevChecksItsPortFirst(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t.Chdir(t.TempDir())
	data := filepath.Join(t.TempDir(), "postgres")
	err = runDev(context.Background(), []string{"--data", data},
		apitest.Env{"HTTP_ADDR": ln.Addr().String()}.Getenv, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "cannot listen on "+ln.Addr().String()) {
		t.Fatalf("dev on a busy port: %v", err)
	}
	if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dev created %s before finding its port busy (%v)", data, err)
	}
}

// devProcess is a `healthcare dev` subprocess.
type devProcess struct {
	cmd    *exec.Cmd
	stderr *apitest.SyncBuffer
	done   chan error
}

func (p *devProcess) wait(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case err := <-p.done:
		return err
	case <-time.After(within):
		t.Fatalf("dev did not exit within %s\n%s", within, p.stderr.String())
		return nil
	}
}

// TestDevSurvivesKillAndHangUp runs the built binary as a newcomer would,
// from a folder with .env copied from .env.example: dev serves on
// HTTP_ADDR from its private cluster; the tools find that cluster from the
// same folder; a second dev and dev --reset on the folder refuse and leave
// the first serving; after kill -9 the next dev stops the leftover cluster and
// starts again; dev --reset stops a leftover cluster before deleting it;
// SIGHUP stops dev and its cluster.
func TestDevSurvivesKillAndHangUp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	if _, err := pgcluster.FindBinDir(); err != nil {
		t.Skip(err)
	}
	bin := filepath.Join(t.TempDir(), "healthcare")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	example, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	// As root the cluster runs as postgres, which must pass through the
	// folders t.TempDir made; the temporary directory itself (1777) stays
	// as it is, or apt and every other user lose it.
	for d := work; d != os.TempDir() && d != filepath.Dir(d); d = filepath.Dir(d) {
		_ = os.Chmod(d, 0o755)
	}
	if err := os.WriteFile(filepath.Join(work, envFile), example, 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(work, devDefaultData)
	t.Cleanup(func() {
		// Whatever happened, no PostgreSQL outlives the test.
		if c, err := pgcluster.New(pgcluster.Options{DataDir: data}); err == nil {
			_ = c.Stop(context.Background())
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr

	start := func(args ...string) *devProcess {
		t.Helper()
		p := &devProcess{cmd: exec.Command(bin, append([]string{"dev"}, args...)...), stderr: &apitest.SyncBuffer{}, done: make(chan error, 1)}
		p.cmd.Dir = work
		p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "HTTP_ADDR=" + addr}
		p.cmd.Stdout, p.cmd.Stderr = io.Discard, p.stderr
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { p.done <- p.cmd.Wait() }()
		t.Cleanup(func() {
			if p.cmd.ProcessState == nil {
				_ = p.cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-p.done:
				case <-time.After(30 * time.Second):
					_ = p.cmd.Process.Kill()
				}
			}
		})
		deadline := time.Now().Add(120 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case err := <-p.done:
				t.Fatalf("dev exited: %v\n%s", err, p.stderr.String())
			default:
			}
			if resp, err := http.Get(base + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return p
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("dev did not answer on %s\n%s", base, p.stderr.String())
		return nil
	}
	postmasterRunning := func() bool {
		pid, _ := leftoverPID(data)
		var n int
		if _, err := fmt.Sscan(pid, &n); err != nil {
			return false
		}
		return syscall.Kill(n, 0) == nil
	}

	first := start()
	for _, want := range []string{"database: the private cluster in " + data, "HTTP_ADDR from the environment",
		"SECRET_KEY: dev's own (SECRET_KEY from .env is not used"} {
		if !strings.Contains(first.stderr.String(), want) {
			t.Errorf("dev's first lines lack %q:\n%s", want, first.stderr.String())
		}
	}
	if fi, err := os.Stat(filepath.Join(data, devURLFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the privileged URL file: %v %v", fi, err)
	}

	t.Run("the tools find the dev cluster from the same folder", func(t *testing.T) {
		t.Chdir(work)
		var out, errOut bytes.Buffer
		if err := runMigrate(context.Background(), nil, apitest.Env{}.Getenv, strings.NewReader(""), &out, &errOut); err != nil {
			t.Fatalf("migrate: %v\n%s", err, errOut.String())
		}
		if !strings.Contains(errOut.String(), "privileged connection: the running dev cluster") || !strings.Contains(out.String(), "migrated: version") {
			t.Fatalf("migrate alone: stdout %q stderr %q", out.String(), errOut.String())
		}
		// createsuperuser names what is wrong before asking for a password.
		errOut.Reset()
		in := "bad name!\nnewadmin\nnot-an-address\nnewadmin@example.com\ncorrect horse battery\ncorrect horse battery\n"
		if err := runCreateSuperuser(context.Background(), nil, apitest.Env{}.Getenv, strings.NewReader(in), &out, &errOut); err != nil {
			t.Fatalf("createsuperuser: %v\n%s", err, errOut.String())
		}
		prompts := errOut.String()
		iUser, iMail, iPass := strings.Index(prompts, "Error: Enter a valid username"), strings.Index(prompts, "Error: Enter a valid e-mail"), strings.Index(prompts, "Password:")
		if iUser < 0 || iMail < 0 || iPass < iUser || iPass < iMail {
			t.Fatalf("the refusals did not come before the password prompt:\n%s", prompts)
		}
		err := runCreateSuperuser(context.Background(), []string{"--no-input", "--username", "newadmin", "--email", "a@b.c"},
			apitest.Env{"SUPERUSER_PASSWORD": "correct horse battery"}.Getenv, strings.NewReader(""), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "username") || !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("a taken username: %v", err)
		}
	})

	t.Run("drrao reads the patients mapped to Dr. Asha Rao at both doors", func(t *testing.T) {
		st, err := loadDevState(data)
		if err != nil || !st.CareSeeded {
			t.Fatalf("dev state: %+v, %v", st, err)
		}
		c := apitest.New(t, base)
		drrao := c.Login(devDoctorUser, st.DrraoPassword)
		var page struct {
			Count   int
			Results []struct {
				Name string
				User int64
			}
		}
		c.Must("GET", "/api/care/patients/", drrao.Access, nil, 200).Decode(t, &page)
		var names []string
		for _, r := range page.Results {
			names = append(names, r.Name)
		}
		if page.Count != 2 || !slices.Contains(names, "Ravi Kumar") {
			t.Fatalf("drrao's care view: %+v, want alice's Ravi Kumar and bob's Tom Baker", page)
		}
		if ids := c.Must("GET", "/api/patients/", drrao.Access, nil, 200).IDs(t); len(ids) != 0 {
			t.Fatalf("drrao's own patients: %v", ids)
		}
		svc, err := os.ReadFile(filepath.Join(data, devServiceFile))
		if err != nil || !strings.Contains(string(svc), "[drrao]") {
			t.Fatalf("service file %s: %v", svc, err)
		}
		conn, err := pgx.Connect(context.Background(), fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", devDoctorLogin, st.DrraoLinked, st.PostgresPort, devDatabase))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var psqlNames string
		if err := conn.QueryRow(context.Background(), "select string_agg(name, ',' order by name) from records.care_patients").Scan(&psqlNames); err != nil {
			t.Fatal(err)
		}
		if psqlNames != "Ravi Kumar,Tom Baker" {
			t.Fatalf("records.care_patients for drrao: %q", psqlNames)
		}
	})

	t.Run("a second dev and dev --reset leave the first serving", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		other := ln.Addr().String()
		ln.Close()
		want := fmt.Sprintf("in use by the dev running as pid %d on %s", first.cmd.Process.Pid, addr)
		for _, args := range [][]string{{"dev", "--addr", other}, {"dev", "--reset", "--yes"}} {
			cmd := exec.Command(bin, args...)
			cmd.Dir = work
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
			out, err := cmd.CombinedOutput()
			if err == nil || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 || !strings.Contains(string(out), want) {
				t.Errorf("healthcare %v while a dev runs: %v\n%s\nwant one line with %q", args, err, out, want)
			}
		}
		if resp, err := http.Get(base + "/readyz"); err != nil || resp.StatusCode != 200 {
			t.Fatalf("the first dev after a second one tried: /readyz %v %v", resp, err)
		} else {
			resp.Body.Close()
		}
		st, err := loadDevState(data)
		if err != nil {
			t.Fatal(err)
		}
		apitest.New(t, base).Login(devAdmin, st.AdminPassword)
		if _, err := os.Stat(filepath.Join(data, devURLFile)); err != nil {
			t.Fatalf("the first dev's privileged URL file: %v", err)
		}
		if strings.Contains(first.stderr.String(), "shutting down") {
			t.Fatalf("the first dev's cluster was stopped:\n%s", first.stderr.String())
		}
	})

	// kill -9: the cluster stays up; the next dev stops it and starts again.
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.wait(t, 10*time.Second)
	if !postmasterRunning() {
		t.Fatal("after kill -9 of dev its PostgreSQL is not running: nothing left over to test")
	}
	second := start()
	if !strings.Contains(second.stderr.String(), "is still running on "+data+" from an earlier dev") {
		t.Fatalf("the second dev did not report the leftover cluster:\n%s", second.stderr.String())
	}
	if strings.Contains(second.stderr.String(), "lock file") {
		t.Fatalf("the leftover cluster was not stopped first:\n%s", second.stderr.String())
	}

	// kill -9 again; dev --reset --yes stops the leftover, deletes, seeds.
	if err := second.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	second.wait(t, 10*time.Second)
	third := start("--reset", "--yes")
	log := third.stderr.String()
	if iStop, iDel, iSeed := strings.Index(log, "is still running on"), strings.Index(log, "dev: deleted "+data), strings.Index(log, "first run: seeding"); iStop < 0 || iDel < iStop || iSeed < iDel {
		t.Fatalf("dev --reset did not stop, delete and seed in that order:\n%s", log)
	}

	// Closing the terminal (SIGHUP) stops dev, then its cluster. A process
	// started under nohup passes SIGHUP on ignored, and dev then rightly
	// keeps running on it: stop it as a service manager would instead.
	hangUp := syscall.SIGHUP
	if signal.Ignored(syscall.SIGHUP) {
		t.Log("SIGHUP is ignored in this process (nohup): stopping dev with SIGTERM")
		hangUp = syscall.SIGTERM
	}
	if err := third.cmd.Process.Signal(hangUp); err != nil {
		t.Fatal(err)
	}
	if err := third.wait(t, 60*time.Second); err != nil {
		t.Fatalf("dev after SIGHUP: %v\n%s", err, third.stderr.String())
	}
	if !strings.Contains(third.stderr.String(), "dev: stopping PostgreSQL") || postmasterRunning() {
		t.Fatalf("SIGHUP left the cluster running:\n%s", third.stderr.String())
	}
	if _, err := os.Stat(filepath.Join(data, devURLFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the privileged URL file outlived dev: %v", err)
	}
}
