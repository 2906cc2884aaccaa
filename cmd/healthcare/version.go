package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// Set by the Dockerfile with -ldflags "-X main.buildVersion=... -X
// main.buildCommit=...": a Docker build context has no .git to stamp.
var (
	buildVersion string
	buildCommit  string
)

func runVersion(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "", "Print the module version and the VCS revision the binary was built from.", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, versionString())
	return nil
}

// build is what is known of how the binary was built.
type build struct {
	version, revision, when string
	modified                bool
	from                    string // where the revision came from, when not the build info
}

// versionString describes the build: the module version and revision from
// debug.ReadBuildInfo (`go build` and `go install` in a git checkout stamp
// them), else from -ldflags (the Docker image), else, for `go run` (which
// stamps no revision), asked of git in the source folder this binary was
// compiled from.
func versionString() string {
	b := readBuild()
	out := "healthcare " + b.version
	if b.revision != "" {
		rev := b.revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		out += " " + rev
		if b.modified {
			out += "+dirty"
		}
		if b.when != "" {
			out += " " + b.when
		}
		if b.from != "" {
			out += " (" + b.from + ")"
		}
	}
	return out + " " + runtime.Version()
}

func readBuild() build {
	b := build{version: "(devel)"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			b.version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.revision = s.Value
			case "vcs.modified":
				b.modified = s.Value == "true"
			case "vcs.time":
				b.when = s.Value
			}
		}
	}
	if buildVersion != "" {
		b.version = buildVersion
	}
	if b.revision == "" && buildCommit != "" {
		b.revision = buildCommit
	}
	if b.revision == "" {
		b.fromGit()
	}
	return b
}

// fromGit asks git for the revision of the folder this file was compiled
// from, when that folder still exists (go run, or go build where VCS
// stamping is off or impossible, as in a git worktree).
func (b *build) fromGit() {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return // -trimpath
	}
	dir := filepath.Dir(file)
	if _, err := os.Stat(dir); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	git := func(args ...string) (string, bool) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err == nil
	}
	rev, ok := git("rev-parse", "HEAD")
	if !ok || rev == "" {
		return
	}
	b.revision, b.from = rev, "from git in "+filepath.Dir(filepath.Dir(dir))
	if status, ok := git("status", "--porcelain", "--untracked-files=no"); ok && status != "" {
		b.modified = true
	}
	if when, ok := git("log", "-1", "--format=%cI", "HEAD"); ok {
		if t, err := time.Parse(time.RFC3339, when); err == nil {
			b.when = t.UTC().Format(time.RFC3339)
		}
	}
}
