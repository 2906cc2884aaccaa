package main

// The private cluster of `healthcare dev`: leftovers from a dev that did not
// stop, --reset, and the privileged URL the tools find while dev runs.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
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
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
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
