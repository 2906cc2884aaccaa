package main

// The private cluster of `healthcare dev`: leftovers from a dev that did not
// stop, --reset, and the privileged URL the tools find while dev runs.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/dbadmin"
	"healthcare/internal/pgcluster"
)

// stopLeftover stops a PostgreSQL still running on dir from an earlier dev
// that did not stop it (killed, or its terminal closed while it hung), and
// removes the socket folder it leaves behind. It says so in one line.
func stopLeftover(ctx context.Context, cluster *pgcluster.Cluster, stderr io.Writer) error {
	if !cluster.Running() {
		return nil
	}
	pid, socketDir := leftoverPID(cluster.DataDir())
	fmt.Fprintf(stderr, "dev: PostgreSQL (pid %s) is still running on %s from an earlier dev that did not stop it: stopping it and starting afresh\n",
		pid, cluster.DataDir())
	if err := cluster.Stop(ctx); err != nil {
		return err
	}
	// pgcluster makes its socket folders with os.MkdirTemp(""); remove
	// only such a folder, and only once it holds no socket.
	if socketDir != "" && filepath.Dir(socketDir) == filepath.Clean(os.TempDir()) && strings.HasPrefix(filepath.Base(socketDir), "pg") {
		if m, _ := filepath.Glob(filepath.Join(socketDir, ".s.PGSQL.*")); len(m) == 0 {
			_ = os.RemoveAll(socketDir)
		}
	}
	return nil
}

// leftoverPID reads the postmaster's pid and socket folder from
// postmaster.pid (lines 1 and 5).
func leftoverPID(dir string) (pid, socketDir string) {
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return "?", ""
	}
	lines := strings.Split(string(b), "\n")
	pid = strings.TrimSpace(lines[0])
	if len(lines) > 4 {
		socketDir = strings.TrimSpace(lines[4])
	}
	return pid, socketDir
}

// devPrivilegedURL returns the privileged URL a running dev keeps in
// dataDir, and the file it came from, when that file exists and the
// cluster answers; "" when there is no such file.
func devPrivilegedURL(ctx context.Context, dataDir string) (string, string, error) {
	file := filepath.Join(dataDir, devURLFile)
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return "", "", nil
	}
	if err != nil {
		return "", "", err
	}
	u := strings.TrimSpace(string(b))
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, u)
	if err != nil {
		return "", "", fmt.Errorf("%s names a dev cluster that does not answer (%v): start `healthcare dev` in this folder, "+
			"or set MIGRATION_DATABASE_URL or --database-url", file, err)
	}
	_ = conn.Close(context.Background())
	return u, file, nil
}

// devReset deletes the private cluster's folder, after asking unless yes.
// It refuses a folder that does not look like one dev made, so a mistyped
// --data cannot delete anything else.
func devReset(dir string, yes bool, stdin io.Reader, stderr io.Writer) error {
	// A running dev holds the folder: never delete it under that dev.
	lk, err := lockDevData(dir, false)
	if err != nil {
		return fmt.Errorf("dev --reset: %w: stop that dev first; nothing deleted", err)
	}
	if lk == nil {
		return nil
	}
	defer lk.release()
	for _, marker := range []string{"PG_VERSION", devStateFile} {
		if _, err := os.Stat(filepath.Join(dir, marker)); err != nil {
			return fmt.Errorf("dev --reset: %s has no %s, so it is not a dev cluster; not deleting it", dir, marker)
		}
	}
	if !yes {
		fmt.Fprintf(stderr, "Stop and delete %s (the dev cluster, its data and its generated passwords)? [y/N] ", dir)
		answer, _ := bufio.NewReader(stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return errors.New("dev --reset: not confirmed; nothing deleted (--yes skips the question)")
		}
	}
	// A cluster still running there (a dev that was killed) is stopped
	// first: deleting its files under it would leave a server without data.
	if _, err := os.Stat(filepath.Join(dir, "postmaster.pid")); err == nil {
		cluster, err := pgcluster.New(pgcluster.Options{DataDir: dir, StartTimeout: devStartTimeout})
		if err != nil {
			return fmt.Errorf("dev --reset: %w", err)
		}
		if err := stopLeftover(context.Background(), cluster, stderr); err != nil {
			return fmt.Errorf("dev --reset: %w", err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("dev --reset: %w", err)
	}
	fmt.Fprintf(stderr, "dev: deleted %s; starting from an empty cluster\n", dir)
	return nil
}

// createDatabase creates dbname on the server of maintURL when missing.
func createDatabase(ctx context.Context, maintURL, dbname string) error {
	conn, err := pgx.Connect(ctx, maintURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	return dbadmin.CreateDatabase(ctx, conn, dbname)
}

// devOwnerFile names the dev that holds the data folder: its PID and the
// address it serves on, for the refusal a second dev prints. It is only
// information; the lock itself is devLock's.
const devOwnerFile = "dev-owner.json"

// devOwner is what devOwnerFile holds.
type devOwner struct {
	PID  int    `json:"pid"`
	Addr string `json:"addr"`
}

// devLock is a dev's hold on its data folder: an exclusive flock(2) on the
// folder itself (a file inside would stop initdb, which wants an empty
// folder). The kernel releases it when the process ends, however it ends,
// so a dev killed with SIGKILL leaves a folder the next dev can take (and
// recover: stopLeftover). The descriptor is close-on-exec, so PostgreSQL,
// started by dev, does not inherit it.
type devLock struct {
	dir string
	f   *os.File
}

// devBusyError: the folder is held by another running dev.
type devBusyError struct {
	dir   string
	owner devOwner // zero when that dev has not yet said who it is
}

func (e *devBusyError) Error() string {
	who := "another dev that is still starting"
	if e.owner.PID != 0 {
		who = fmt.Sprintf("the dev running as pid %d on %s", e.owner.PID, e.owner.Addr)
	}
	return fmt.Sprintf("%s is in use by %s", e.dir, who)
}

// lockDevData takes dir for this process, creating it (0700, parents
// 0755) when create is set. It returns a *devBusyError when another
// process holds it, and (nil, nil) when dir does not exist and create is
// not set.
func lockDevData(dir string, create bool) (*devLock, error) {
	if create {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return nil, fmt.Errorf("dev: %w", err)
		}
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("dev: %w", err)
		}
	}
	f, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) && !create {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dev: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &devBusyError{dir: dir, owner: readDevOwner(dir)}
		}
		return nil, fmt.Errorf("dev: lock %s: %w", dir, err)
	}
	return &devLock{dir: dir, f: f}, nil
}

// checkDevDataFree fails with a *devBusyError when a running dev holds dir.
func checkDevDataFree(dir string) error {
	lk, err := lockDevData(dir, false)
	if err != nil {
		return err
	}
	lk.release()
	return nil
}

// readDevOwner reads devOwnerFile; the zero devOwner when there is none.
func readDevOwner(dir string) devOwner {
	var o devOwner
	if b, err := os.ReadFile(filepath.Join(dir, devOwnerFile)); err == nil {
		_ = json.Unmarshal(b, &o)
	}
	return o
}

// setOwner records this process and addr as the folder's dev. Call it once
// the folder holds a cluster (initdb wants an empty folder).
func (l *devLock) setOwner(addr string) error {
	b, err := json.Marshal(devOwner{PID: os.Getpid(), Addr: addr})
	if err != nil {
		return err
	}
	return writePrivate(filepath.Join(l.dir, devOwnerFile), append(b, '\n'))
}

// release removes the owner file and lets go of the folder. A nil lock is
// fine.
func (l *devLock) release() {
	if l == nil {
		return
	}
	if readDevOwner(l.dir).PID == os.Getpid() {
		_ = os.Remove(filepath.Join(l.dir, devOwnerFile))
	}
	_ = l.f.Close() // closing the last descriptor releases the flock
}
