package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"healthcare/internal/apitest"
)

// holdDevDataEnv makes the test binary, run as a child, hold a dev data
// folder as a running dev does.
const holdDevDataEnv = "HEALTHCARE_TEST_HOLD_DEV_DATA"

// holdDevDataAddr is the address the child claims to serve on.
const holdDevDataAddr = "127.0.0.1:18701"

// holdDevData takes dir as dev does, says "held" on stdout and waits to be
// killed.
func holdDevData(dir string) {
	lk, err := lockDevData(dir, true)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	if err := lk.setOwner(holdDevDataAddr); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("held")
	for {
		time.Sleep(time.Hour)
	}
}

// TestDevDataLockDiesWithItsHolder: while another process holds a dev
// folder, a second dev and dev --reset refuse in one line naming its PID
// and address, and nothing is deleted; once that process is killed with
// SIGKILL the folder is free again, with no clean-up by anyone.
func TestDevDataLockDiesWithItsHolder(t *testing.T) {
	dir := fakeDevData(t)
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), holdDevDataEnv+"="+dir)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- child.Wait() }()
	t.Cleanup(func() {
		_ = child.Process.Kill()
		<-done
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "held" {
		t.Fatalf("the holder said %q, %v", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	want := fmt.Sprintf("in use by the dev running as pid %d on %s", child.Process.Pid, holdDevDataAddr)

	for _, args := range [][]string{
		{"--data", dir, "--addr", "127.0.0.1:0"},
		{"--data", dir, "--addr", "127.0.0.1:0", "--reset", "--yes"},
	} {
		var stdout, stderr strings.Builder
		err := runDev(context.Background(), args, apitest.Env{}.Getenv, strings.NewReader("y\n"), &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("dev %v on a held folder: %v; want one line with %q", args, err, want)
		}
		if slices.Contains(args, "--reset") && (err == nil || !strings.Contains(err.Error(), "nothing deleted")) {
			t.Errorf("dev --reset on a held folder does not say nothing was deleted: %v", err)
		}
		if stdout.Len()+stderr.Len() != 0 {
			t.Errorf("dev %v printed more than its refusal: %q %q", args, stdout.String(), stderr.String())
		}
	}
	err = devReset(dir, true, strings.NewReader(""), io.Discard)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "nothing deleted") {
		t.Errorf("devReset on a held folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		t.Fatalf("a held folder was touched: %v", err)
	}

	// kill -9: the kernel lets go of the folder.
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		done <- nil // for the clean-up
	case <-time.After(10 * time.Second):
		t.Fatal("the holder did not die")
	}
	if err := checkDevDataFree(dir); err != nil {
		t.Fatalf("after kill -9 of its holder: %v", err)
	}
	if err := devReset(dir, true, strings.NewReader(""), io.Discard); err != nil {
		t.Fatalf("dev --reset after the holder died: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dev --reset left %s: %v", dir, err)
	}
}

// TestDevLockIsHeldOnlyOnce: within one process too, a second hold on the
// folder is refused until the first is released.
func TestDevLockIsHeldOnlyOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "postgres")
	lk, err := lockDevData(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := lk.setOwner("127.0.0.1:9"); err != nil {
		t.Fatal(err)
	}
	var busy *devBusyError
	if _, err := lockDevData(dir, true); !errors.As(err, &busy) || busy.owner.PID != os.Getpid() {
		t.Fatalf("second hold: %v", err)
	}
	lk.release()
	if _, err := os.Stat(filepath.Join(dir, devOwnerFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the owner file outlived the hold: %v", err)
	}
	lk, err = lockDevData(dir, true)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	lk.release()
}
