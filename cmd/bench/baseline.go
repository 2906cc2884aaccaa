package main

// --baseline GIT_REF: the same HTTP load against another revision's server
// and the current one, alternating in every round.
//
// The baseline's server is built from `git archive GIT_REF` in a temporary
// directory (removed once the binary is built). Each side gets its own
// database in the one cluster, migrated by its own binary (`healthcare
// migrate up`) and seeded by the same steps (seedWith), and its own
// `healthcare serve`, started with the same environment. Both verify the
// same tokens: revisions before sessions ignore the token's session claim.
// pgbench, the floor and the extra measurements are not run: their SQL is
// the current revision's.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"healthcare/internal/auth"
)

// revision is a git revision the bench measured.
type revision struct {
	Ref     string `json:"ref"`
	Commit  string `json:"commit"`
	Subject string `json:"subject,omitempty"`
	// Dirty: the current side is the working tree, which had uncommitted
	// changes to tracked files.
	Dirty bool `json:"dirty,omitempty"`
}

func (r revision) String() string {
	s := r.Ref
	if c := shortCommit(r.Commit); c != "" && c != r.Ref {
		s += " (" + c + ")"
	}
	if r.Dirty {
		s += " with uncommitted changes"
	}
	return s
}

func shortCommit(c string) string { return c[:min(len(c), 10)] }

// abResult is the A/B comparison in the JSON document.
type abResult struct {
	Baseline revision      `json:"baseline"`
	Current  revision      `json:"current"`
	Sides    [2]abSideInfo `json:"databases"`
	Routes   []abRoute     `json:"routes"`
}

// abSideInfo describes one side's database and server.
type abSideInfo struct {
	Side        string  `json:"side"`
	Database    string  `json:"database"`
	SeedSeconds float64 `json:"seed_seconds"`
	// Sessions: one session per user was seeded; SessionCheck: the
	// schema checks every token's session (api.require_session).
	Sessions     bool    `json:"sessions_seeded"`
	SessionCheck bool    `json:"session_check"`
	PeakRSSMiB   float64 `json:"server_peak_rss_mib"`
}

// abRoute is one route measured against both servers.
type abRoute struct {
	Route       string `json:"route"`
	Connections int    `json:"connections"`
	// BaselineFirst[i]: round i ran the baseline before the current
	// server.
	BaselineFirst []bool        `json:"baseline_first"`
	BaselineRuns  []measurement `json:"baseline_runs"`
	CurrentRuns   []measurement `json:"current_runs"`
	// Medians over the rounds, field by field.
	Baseline measurement `json:"baseline"`
	Current  measurement `json:"current"`
	// RatioRuns are each round's current/baseline req/s; Ratio is their
	// median (above 1: the current revision serves more), RatioP99 the
	// median of the rounds' current/baseline p99 (below 1: lower latency).
	RatioRuns []float64 `json:"ratio_runs"`
	Ratio     float64   `json:"ratio"`
	RatioP99  float64   `json:"ratio_p99"`
	// VmHWM of each server after the route: the peak over everything it
	// served so far.
	BaselineRSSMiB float64 `json:"baseline_server_peak_rss_mib"`
	CurrentRSSMiB  float64 `json:"current_server_peak_rss_mib"`
}

// baselineFirst says which server goes first in round i of the route at
// index ri: the order swaps every round, so a machine that slows down or
// speeds up during a route weighs on both sides alike, and the next route
// starts with the other side.
func baselineFirst(ri, i int) bool { return (ri+i)%2 == 0 }

// summariseAB fills the medians and the medians of the per-round ratios.
func summariseAB(r *abRoute) {
	r.Baseline, r.Current = median(r.BaselineRuns), median(r.CurrentRuns)
	r.RatioRuns = nil
	var p99 []float64
	for i := range min(len(r.BaselineRuns), len(r.CurrentRuns)) {
		b, c := r.BaselineRuns[i], r.CurrentRuns[i]
		r.RatioRuns = append(r.RatioRuns, ratio(c.RPS, b.RPS))
		p99 = append(p99, ratio(c.P99ms, b.P99ms))
	}
	r.Ratio, r.RatioP99 = medianOf(r.RatioRuns), medianOf(p99)
}

// abSide is one side of the comparison while it runs.
type abSide struct {
	name  string // "baseline" or "current"
	bin   string
	ds    *dataset
	srv   *server
	dir   string // its wrk scripts
	p     loadParams
	pairs *pairSlices
}

// runAB is the whole --baseline run.
func runAB(ctx context.Context, o options, selected []route, stdout, stderr io.Writer, logf func(string, ...any)) error {
	base, err := resolveRevision(ctx, o.baseline)
	if err != nil {
		return err
	}
	cur, err := currentRevision(ctx)
	if err != nil {
		return err
	}
	res := newResult(o)
	res.AB = &abResult{Baseline: base, Current: cur}
	res.Settings["baseline"] = base.Ref

	logf("starting PostgreSQL")
	e, err := startCluster(ctx, clusterSettingsFor(o))
	if err != nil {
		return err
	}
	e.keep = o.keep
	defer e.close()

	logf("building ./cmd/healthcare")
	curBin, err := buildServer(ctx, e.dir, stderr)
	if err != nil {
		return err
	}
	logf("building ./cmd/healthcare at %s", base)
	baseBin, err := buildRevision(ctx, base.Commit, filepath.Join(e.dir, "healthcare-baseline"), stderr)
	if err != nil {
		return err
	}

	hasher, err := auth.NewHasher(auth.DefaultParams, 1)
	if err != nil {
		return err
	}
	if e.hash, err = hasher.Hash(ctx, benchPass); err != nil {
		return err
	}
	secret := randomHex(32)
	tokens, err := mintTokens(secret, o.tokenUsers)
	if err != nil {
		return err
	}
	var extra []string
	if o.serverEnv != "" {
		extra = strings.Split(o.serverEnv, ",")
	}

	// Both databases are seeded before either server starts, so neither
	// seeding runs beside an idle server of the other side.
	sides := []*abSide{{name: "baseline", bin: baseBin}, {name: "current", bin: curBin}}
	for i, s := range sides {
		logf("seeding bench_%s (migrated by its own binary): %d users, %d patients, %d doctors, %d mappings",
			s.name, o.users, o.patients, o.doctors, o.mappings)
		if s.ds, err = e.seedWith(ctx, "bench_"+s.name, o.users, o.patients, o.doctors, o.mappings, e.hash, e.migrateWithBinary(s.bin)); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		logf("seeded bench_%s in %.1fs (%s); sessions seeded %t, checked by the schema %t",
			s.name, s.ds.seedTime.Seconds(), s.ds.tableSize, s.ds.sessions, s.ds.sessionCheck)
		res.AB.Sides[i] = abSideInfo{Side: s.name, Database: s.ds.db, SeedSeconds: s.ds.seedTime.Seconds(),
			Sessions: s.ds.sessions, SessionCheck: s.ds.sessionCheck}
		s.p = loadParams{ntok: o.tokenUsers, nusers: o.users, per: s.ds.perUser, ndoc: o.doctors, half: s.ds.mapHalf}
		s.pairs = newPairSlices(s.p)
		s.dir = filepath.Join(e.dir, "wrk-"+s.name)
		if err := os.MkdirAll(s.dir, 0o755); err != nil {
			return err
		}
	}
	for _, s := range sides {
		if s.srv, err = e.startServer(ctx, s.bin, s.ds, secret, extra, s.name); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		defer s.srv.stop()
		if err := checkToken(s.srv, tokens[0]); err != nil {
			return fmt.Errorf("%s server: %w", s.name, err)
		}
		logf("%s server %s (pid %d); memory at start: %s", s.name, s.srv.url, s.srv.cmd.Process.Pid, s.srv.memory())
	}

	var breakdowns strings.Builder
	for ri, r := range selected {
		ar := abRoute{Route: r.Name, Connections: o.connections}
		for _, s := range sides {
			if err := s.prepare(r, warmUpDuration); err != nil {
				return err
			}
			if err := warmUp(ctx, s.dir, r, tokens, s.p, o, s.srv); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
		}
		for i := 0; i < o.runs; i++ {
			order := []*abSide{sides[0], sides[1]}
			if !baselineFirst(ri, i) {
				order[0], order[1] = order[1], order[0]
			}
			ar.BaselineFirst = append(ar.BaselineFirst, baselineFirst(ri, i))
			got := map[string]measurement{}
			for _, s := range order {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if err := s.prepare(r, o.duration); err != nil {
					return err
				}
				script, err := wrkScript(s.dir, r, tokens, s.p, o.threads)
				if err != nil {
					return err
				}
				m, err := runWrk(ctx, startCPU(e, s.srv), script, s.srv.url, o.threads, o.connections, o.duration)
				if err != nil {
					return fmt.Errorf("%s: %w", s.name, err)
				}
				got[s.name] = m
			}
			b, c := got["baseline"], got["current"]
			ar.BaselineRuns, ar.CurrentRuns = append(ar.BaselineRuns, b), append(ar.CurrentRuns, c)
			logf("%-24s round %d (%s first): baseline %8.0f/s p99 %6.2fms err %d | current %8.0f/s p99 %6.2fms err %d | x%.3f | server CPU us/req %.0f / %.0f",
				r.Name, i+1, order[0].name, b.RPS, b.P99ms, b.Errors, c.RPS, c.P99ms, c.Errors, ratio(c.RPS, b.RPS), b.ServerCPUus, c.ServerCPUus)
		}
		if o.breakdown {
			for _, s := range sides {
				if err := breakdown(ctx, &breakdowns, e, s, r, tokens, o); err != nil {
					return fmt.Errorf("breakdown of %s on %s: %w", r.Key, s.name, err)
				}
			}
		}
		ar.BaselineRSSMiB, ar.CurrentRSSMiB = mib(sides[0].srv.peakRSS()), mib(sides[1].srv.peakRSS())
		summariseAB(&ar)
		res.AB.Routes = append(res.AB.Routes, ar)
		for _, s := range sides {
			if err := e.restore(ctx, s.ds, r.writes); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
		}
	}
	for i, s := range sides {
		res.AB.Sides[i].PeakRSSMiB = mib(s.srv.peakRSS())
	}
	res.PeakRSSMiB = res.AB.Sides[1].PeakRSSMiB

	printAB(stdout, o, res)
	if o.breakdown {
		fmt.Fprintf(stdout, "\n### Where the database time goes\n%s", breakdowns.String())
	}
	return writeJSON(o.jsonOut, res, logf)
}

// prepare gives a route that consumes (patient, doctor) pairs a fresh
// slice of this side's pairs before each run of dur.
func (s *abSide) prepare(r route, dur time.Duration) error {
	if !r.uniquePairs {
		return nil
	}
	b, err := s.pairs.take(dur)
	if err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	s.p.base = b
	return nil
}

// checkToken makes sure srv accepts the bench's tokens before anything is
// timed: a server that refused them would be measured answering 401.
func checkToken(srv *server, token string) error {
	req, err := http.NewRequest(http.MethodGet, srv.url+"/api/patients/", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /api/patients/ with the bench's token: %s %s", resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

// git runs git in the current directory (the repository root, where the
// bench is run) and returns its trimmed output.
func git(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return strings.TrimSpace(string(out)), nil
}

// resolveRevision turns ref into a commit.
func resolveRevision(ctx context.Context, ref string) (revision, error) {
	commit, err := git(ctx, "rev-parse", "--verify", "--end-of-options", ref+"^{commit}")
	if err != nil {
		return revision{}, fmt.Errorf("--baseline %s: not a commit of this repository (run the bench from the repository root): %w", ref, err)
	}
	subject, err := git(ctx, "log", "-1", "--format=%s", commit)
	if err != nil {
		return revision{}, err
	}
	return revision{Ref: ref, Commit: commit, Subject: subject}, nil
}

// currentRevision is what ./cmd/healthcare builds from: HEAD and whether
// tracked files differ from it.
func currentRevision(ctx context.Context) (revision, error) {
	r, err := resolveRevision(ctx, "HEAD")
	if err != nil {
		return revision{}, err
	}
	r.Ref = "working tree"
	status, err := git(ctx, "status", "--porcelain", "--untracked-files=no")
	if err != nil {
		return revision{}, err
	}
	r.Dirty = status != ""
	return r, nil
}

// buildRevision builds commit's ./cmd/healthcare into bin: `git archive`
// unpacked in a temporary directory, built there, and the directory
// removed.
func buildRevision(ctx context.Context, commit, bin string, stderr io.Writer) (string, error) {
	src, err := os.MkdirTemp("", "hcbench-baseline-src")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(src)
	archive := exec.CommandContext(ctx, "git", "archive", "--format=tar", commit)
	untar := exec.CommandContext(ctx, "tar", "-x", "-C", src)
	var archiveErr, untarErr bytes.Buffer
	archive.Stderr, untar.Stderr = &archiveErr, &untarErr
	pipe, err := archive.StdoutPipe()
	if err != nil {
		return "", err
	}
	untar.Stdin = pipe
	if err := untar.Start(); err != nil {
		return "", err
	}
	aerr := archive.Run()
	uerr := untar.Wait()
	if aerr != nil || uerr != nil {
		return "", fmt.Errorf("unpack %s: %w %s %s", commit, errors.Join(aerr, uerr),
			bytes.TrimSpace(archiveErr.Bytes()), bytes.TrimSpace(untarErr.Bytes()))
	}
	build := exec.CommandContext(ctx, "go", "build", "-buildvcs=false", "-o", bin, "./cmd/healthcare")
	build.Dir = src
	build.Stdout, build.Stderr = stderr, stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build ./cmd/healthcare at %s: %w", shortCommit(commit), err)
	}
	return bin, nil
}

// printAB prints the comparison.
func printAB(w io.Writer, o options, res *result) {
	ab := res.AB
	fmt.Fprintf(w, "\nmachine: %d CPUs (%s), %s; %s\n", res.Machine.NumCPU, res.Machine.CPU, res.Machine.MemTotal, res.Machine.Go)
	fmt.Fprintf(w, "data: %d users, %d patients, %d doctors, %d mappings per database; load spread over %d users\n",
		o.users, o.patients, o.doctors, o.mappings, o.tokenUsers)
	fmt.Fprintf(w, "baseline: %s %q\ncurrent:  %s %q\n", ab.Baseline, ab.Baseline.Subject, ab.Current, ab.Current.Subject)
	fmt.Fprintf(w, "medians of %d rounds of %s at %d connections (wrk -t%d), baseline and current alternating, order swapped every round;\n",
		o.runs, o.duration, o.connections, o.threads)
	fmt.Fprintf(w, "cur/base is the median of the per-round ratios current/baseline (req/s: above 1 is faster; p99: below 1 is lower)\n\n")
	fmt.Fprintf(w, "%-24s %9s %9s %8s %13s | %8s %8s %8s | %9s | %8s %8s | %8s %8s\n",
		"route", "base/s", "cur/s", "cur/base", "round ratios", "base p99", "cur p99", "cur/base", "errors", "base us", "cur us", "base RSS", "cur RSS")
	for _, r := range ab.Routes {
		b, c := r.Baseline, r.Current
		lo, hi := minMax(r.RatioRuns)
		fmt.Fprintf(w, "%-24s %9.0f %9.0f %8.3f %6.3f-%-6.3f | %8.2f %8.2f %8.3f | %4d/%-4d | %8.0f %8.0f | %8.1f %8.1f\n",
			r.Route, b.RPS, c.RPS, r.Ratio, lo, hi, b.P99ms, c.P99ms, r.RatioP99, b.Errors, c.Errors,
			b.ServerCPUus, c.ServerCPUus, r.BaselineRSSMiB, r.CurrentRSSMiB)
	}
	fmt.Fprintf(w, "\n(us: server CPU per request; RSS: the server's VmHWM in MiB after the route)\n")
	for _, s := range ab.Sides {
		fmt.Fprintf(w, "%-8s server peak RSS over the whole run: %.1f MiB; database %s seeded in %.1fs, sessions seeded %t, session check %t\n",
			s.Side, s.PeakRSSMiB, s.Database, s.SeedSeconds, s.Sessions, s.SessionCheck)
	}
}

func minMax(v []float64) (lo, hi float64) {
	for i, x := range v {
		if i == 0 || x < lo {
			lo = x
		}
		if i == 0 || x > hi {
			hi = x
		}
	}
	return lo, hi
}
