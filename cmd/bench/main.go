// Command bench measures the REST server against its ceiling: PostgreSQL
// running the very transaction the server sends.
//
//	go run ./cmd/bench [--quick] [--patients 1000000] [--runs 5] [--json out.json]
//
// It starts a private PostgreSQL (internal/pgcluster, in a temporary
// directory), seeds it with generate_series, builds and starts
// `healthcare serve` as a separate process (so its peak RSS is its own),
// mints access tokens for many users with the server's SECRET_KEY, and then,
// for each route, alternates in every run:
//
//	A  wrk against the server (a Lua script rotating tokens and ids)
//	B  pgbench sending the route's transaction as one pipeline (-M prepared,
//	   \startpipeline ... \endpipeline): the ceiling
//	C  pgbench sending it as BEGIN; identity; call; END (a round trip each)
//	D  (--floor, list and get only) wrk against the floor: net/http,
//	   httprouter and database.Call with nothing else (floor.go)
//
// at the same concurrency, so that drift on a shared machine hits all of
// them alike. It prints medians and the paired ratios A/B and A/C, and
// writes everything as JSON. Extra measurements: p99 at 16 connections,
// logins per second and other routes' p99 during a login flood, and
// (--compare) list/get latency with a larger data set beside the default.
//
// With --baseline GIT_REF it measures A/B instead (baseline.go): that
// revision's server and the current one, each on its own database migrated
// by its own binary, alternating in every round; it prints both sides'
// medians and the median of the per-round ratios current/baseline.
//
//	go run ./cmd/bench --baseline HEAD~1 [--routes ...] [--runs N] [--duration 5s]
//
// wrk and pgbench must be on PATH (Debian: apt-get install wrk; pgbench
// comes with the PostgreSQL packages). Everything listens on 127.0.0.1 or a
// private Unix socket, and everything started is stopped by PID at exit.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"healthcare/internal/auth"
)

type options struct {
	quick       bool
	users       int
	patients    int
	doctors     int
	mappings    int
	tokenUsers  int
	runs        int
	duration    time.Duration
	connections int
	threads     int
	p99Conns    int
	routes      string
	compare     int
	// compareEvents audit events are seeded into the large data set's
	// trail, spread over the past year (where the schema has a trail).
	compareEvents int
	noExtras      bool
	jsonOut       string
	serverEnv     string
	keep          bool
	profileDir    string
	floor         bool
	baseline      string
	breakdown     bool
}

func main() {
	if os.Getenv(floorAddrEnv) != "" {
		if err := floorMain(); err != nil {
			fmt.Fprintln(os.Stderr, "bench floor:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.quick, "quick", false, "small data, 1 run of 1s per measurement: a smoke test that finishes within a minute (flags given beside it, e.g. --runs, --duration or --doctors, override its presets)")
	fs.IntVar(&o.users, "users", 0, "seeded users (default patients/5, i.e. 10,000 for 50,000 patients)")
	fs.IntVar(&o.patients, "patients", 50000, "seeded patients (1000000 for the large data set)")
	fs.IntVar(&o.doctors, "doctors", 500, "seeded doctors")
	fs.IntVar(&o.mappings, "mappings", 0, "seeded patient-doctor mappings (default 2 per patient)")
	fs.IntVar(&o.tokenUsers, "token-users", 2000, "distinct users the load is spread over (one access token each)")
	fs.IntVar(&o.runs, "runs", 3, "A/B/C rounds per route; medians are reported")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of each load run (whole seconds)")
	fs.IntVar(&o.connections, "connections", 32, "concurrent connections for wrk and clients for pgbench")
	fs.IntVar(&o.threads, "threads", 2, "wrk and pgbench threads")
	fs.IntVar(&o.p99Conns, "p99-connections", 16, "connections for the latency measurement")
	fs.StringVar(&o.routes, "routes", "", "comma-separated route keys to run (default all: list_doctors,list_patients,get_patient,list_care_patients,fhir_search_practitioner,fhir_search_patient,fhir_read_patient,fhir_search_care_team,create_patient,create_mapping,login; with --baseline, all but list_care_patients and the fhir_ routes)")
	fs.IntVar(&o.compare, "compare", 0, "also seed a second database with this many patients (e.g. 1000000) and compare list/get latency with the main one, alternating")
	fs.IntVar(&o.compareEvents, "compare-events", -1, "audit events to seed into the large data set's trail, spread over the past year (default 5 per patient; 0: none)")
	fs.BoolVar(&o.noExtras, "no-extras", false, "skip the 16-connection, login-flood and compare measurements")
	fs.StringVar(&o.jsonOut, "json", "", "write the results as JSON to this file")
	fs.BoolVar(&o.keep, "keep", false, "keep the scratch directory (server logs, wrk and pgbench scripts) at exit; the data directory goes with it")
	fs.StringVar(&o.profileDir, "profile", "", "save the server's CPU profile of each route's first run and a heap profile after it into this directory (pprof)")
	fs.BoolVar(&o.floor, "floor", false, "also measure the floor (net/http, httprouter and database.Call with nothing else) on the list and get routes, as a fourth step D of every run")
	fs.StringVar(&o.serverEnv, "server-env", "", "extra KEY=VALUE settings for the server, comma-separated (e.g. GOGC=200,DB_POOL_MAX_CONNS=4)")
	fs.BoolVar(&o.breakdown, "breakdown", false, "with --baseline: after each route's rounds, show where its database time goes on each side: pg_stat_statements (track = all) and track_functions per request at one connection, and wait events sampled at 16 and 32 connections (Markdown, for docs/benchmarks.md)")
	fs.StringVar(&o.baseline, "baseline", "", "A/B mode: build this git revision's server too and, in every round, run each route against it and against the current server alternately, "+
		"each on its own database migrated by its own binary; reports req/s, p99 and RSS of both and the median of the per-round ratios current/baseline (no pgbench, floor or extra measurements)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		// Its presets give way to the flags given beside it.
		preset := func(name string, p *int, v int) {
			if !set[name] {
				*p = v
			}
		}
		preset("patients", &o.patients, 5000)
		preset("users", &o.users, 1000)
		preset("doctors", &o.doctors, 100)
		preset("mappings", &o.mappings, 10000)
		preset("token-users", &o.tokenUsers, 500)
		preset("runs", &o.runs, 1)
		if !set["duration"] {
			o.duration = time.Second
		}
		if o.compare > 0 { // turned on: at a size to match the small data
			o.compare = 20000
		}
	}
	if o.breakdown && !set["baseline"] {
		return o, errors.New("--breakdown needs --baseline: it shows both sides of an A/B run")
	}
	if set["baseline"] {
		if o.baseline = strings.TrimSpace(o.baseline); o.baseline == "" || strings.HasPrefix(o.baseline, "-") {
			return o, errors.New("--baseline wants a git revision (e.g. HEAD~1, main, a commit)")
		}
		var clash []string
		for _, f := range []string{"floor", "compare", "profile"} {
			if set[f] {
				clash = append(clash, "--"+f)
			}
		}
		if len(clash) > 0 {
			return o, fmt.Errorf("--baseline measures the HTTP routes A/B only; drop %s", strings.Join(clash, ", "))
		}
	}
	if o.users == 0 {
		o.users = max(1, o.patients/5)
	}
	if o.mappings == 0 {
		o.mappings = 2 * o.patients
	}
	o.tokenUsers = min(o.tokenUsers, o.users)
	if o.duration < time.Second || o.duration%time.Second != 0 {
		return o, errors.New("--duration must be a whole number of seconds, at least 1s")
	}
	if o.runs < 1 || o.connections < 1 || o.threads < 1 {
		return o, errors.New("--runs, --connections and --threads must be positive")
	}
	return o, nil
}

// result is the JSON document.
type result struct {
	Started  time.Time      `json:"started"`
	Machine  machine        `json:"machine"`
	Settings map[string]any `json:"settings"`
	Routes   []routeResult  `json:"routes"`
	// PeakRSSMiB is the server's VmHWM at the end, over the whole run.
	PeakRSSMiB float64       `json:"server_peak_rss_mib"`
	Latency16  []routeResult `json:"latency_16,omitempty"`
	LoginFlood *floodResult  `json:"login_flood,omitempty"`
	Compare    *scaleResult  `json:"compare,omitempty"`
	// AB is the --baseline comparison; Routes is empty then.
	AB *abResult `json:"baseline_ab,omitempty"`
}

type machine struct {
	NumCPU   int    `json:"nproc"`
	CPU      string `json:"cpu"`
	MemTotal string `json:"mem_total"`
	Go       string `json:"go"`
}

type routeResult struct {
	Route       string        `json:"route"`
	Key         string        `json:"key"`
	REST        string        `json:"rest_route,omitempty"` // a FHIR route's REST match (its key)
	Connections int           `json:"connections"`
	Server      []measurement `json:"server_runs"`
	Pipeline    []measurement `json:"pgbench_pipeline_runs,omitempty"`
	Begin       []measurement `json:"pgbench_begin_runs,omitempty"`
	Floor       []measurement `json:"floor_runs,omitempty"`
	RSSMiB      float64       `json:"server_peak_rss_mib"`
	// Medians over the runs; ratios are medians of the per-run pairs.
	ServerMedian   measurement `json:"server"`
	PipelineMedian measurement `json:"pgbench_pipeline"`
	BeginMedian    measurement `json:"pgbench_begin"`
	RatioPipeline  float64     `json:"ratio_pipeline"`
	RatioBegin     float64     `json:"ratio_begin"`
	// With --floor: the floor's medians and its ratio to the pipeline.
	FloorMedian        *measurement `json:"floor,omitempty"`
	RatioFloorPipeline float64      `json:"ratio_floor_pipeline,omitempty"`
}

type floodResult struct {
	Connections      int         `json:"login_connections"`
	LoginsPerSecond  float64     `json:"logins_per_second"`
	LoginErrors      int64       `json:"login_errors"`
	OtherRoute       string      `json:"other_route"`
	OtherConnections int         `json:"other_connections"`
	OtherAlone       measurement `json:"other_alone"`
	OtherDuringFlood measurement `json:"other_during_flood"`
}

type scaleResult struct {
	BasePatients  int                `json:"base_patients"`
	LargePatients int                `json:"large_patients"`
	LargeUsers    int                `json:"large_users"`
	SeedSeconds   float64            `json:"large_seed_seconds"`
	Routes        []scaleRouteResult `json:"routes"`
}

type scaleRouteResult struct {
	Route      string      `json:"route"`
	Base       measurement `json:"base"`
	Large      measurement `json:"large"`
	RatioP50   float64     `json:"ratio_p50"`
	RatioP99   float64     `json:"ratio_p99"`
	RatioRPS   float64     `json:"ratio_rps"`
	LargeRuns  []float64   `json:"large_p50_runs"`
	BaseRuns   []float64   `json:"base_p50_runs"`
	ServerRSS  float64     `json:"large_server_peak_rss_mib"`
	Connection int         `json:"connections"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if err := needTools(); err != nil {
		return err
	}
	selected := routes
	if o.routes != "" {
		selected = nil
		for _, k := range strings.Split(o.routes, ",") {
			r, ok := routeByKey(strings.TrimSpace(k))
			if !ok {
				return fmt.Errorf("unknown route %q", k)
			}
			selected = append(selected, r)
		}
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", a...) }
	if o.baseline != "" {
		if o.routes == "" {
			// The other revision may predate a route's schema.
			selected = slices.DeleteFunc(slices.Clone(selected), func(r route) bool {
				if r.since != "" {
					logf("--baseline: leaving out %s, which needs %s (name it in --routes to run it)", r.Key, r.since)
				}
				return r.since != ""
			})
		}
		return runAB(ctx, o, selected, stdout, stderr, logf)
	}

	res := newResult(o)

	logf("starting PostgreSQL")
	e, err := startCluster(ctx, clusterSettingsFor(o))
	if err != nil {
		return err
	}
	e.keep = o.keep
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return err
		}
		e.profileDir = o.profileDir
	}
	defer e.close()

	logf("building ./cmd/healthcare")
	bin, err := buildServer(ctx, e.dir, stderr)
	if err != nil {
		return err
	}

	hasher, err := auth.NewHasher(auth.DefaultParams, 1)
	if err != nil {
		return err
	}
	hash, err := hasher.Hash(ctx, benchPass)
	if err != nil {
		return err
	}
	e.hash = hash
	logf("seeding %d users, %d patients, %d doctors, %d mappings", o.users, o.patients, o.doctors, o.mappings)
	ds, err := e.seed(ctx, "bench", o.users, o.patients, o.doctors, o.mappings, hash)
	if err != nil {
		return err
	}
	logf("seeded in %.1fs (%s)", ds.seedTime.Seconds(), ds.tableSize)
	res.Settings["seed_seconds"] = ds.seedTime.Seconds()

	secret := randomHex(32)
	tokens, err := mintTokens(secret, o.tokenUsers)
	if err != nil {
		return err
	}
	var extra []string
	if o.serverEnv != "" {
		extra = strings.Split(o.serverEnv, ",")
	}
	srv, err := e.startServer(ctx, bin, ds, secret, extra, "main")
	if err != nil {
		return err
	}
	defer srv.stop()
	logf("server %s (pid %d); memory at start: %s", srv.url, srv.cmd.Process.Pid, srv.memory())
	var floor *server
	if o.floor {
		if floor, err = e.startFloor(ds, tokens); err != nil {
			return err
		}
		defer floor.stop()
		logf("floor %s (pid %d)", floor.url, floor.cmd.Process.Pid)
	}

	p := loadParams{ntok: o.tokenUsers, nusers: o.users, per: ds.perUser, ndoc: o.doctors, half: ds.mapHalf}
	takePairs := newPairSlices(p).take
	warm := func(r route, s *server) error { return warmUp(ctx, e.dir, r, tokens, p, o, s) }

	// A group's routes (a REST route and the FHIR routes that match it)
	// take turns round by round, so a slow moment of the machine falls on
	// both sides of their ratio; every other round reverses the turns, so
	// neither side always meets the background work (autovacuum, the
	// sealer, WAL) the other's requests left behind.
	for _, group := range routeGroups(selected) {
		results := make([]routeResult, len(group))
		pipeScripts := make([]string, len(group))
		beginScripts := make([]string, len(group))
		writes := false
		for j, r := range group {
			results[j] = routeResult{Route: r.Name, Key: r.Key, REST: r.rest, Connections: o.connections}
			writes = writes || r.writes
			if r.uniquePairs {
				if p.base, err = takePairs(warmUpDuration); err != nil {
					return err
				}
			}
			if err := warm(r, srv); err != nil {
				return err
			}
			if floor != nil && floorRoutes[r.Key] {
				if err := warm(r, floor); err != nil {
					return err
				}
			}
			if pipeScripts[j], err = pgbenchScript(e.dir, r, true); err != nil {
				return err
			}
			if beginScripts[j], err = pgbenchScript(e.dir, r, false); err != nil {
				return err
			}
		}
		for i := 0; i < o.runs; i++ {
			for k := range group {
				j := k
				if i%2 == 1 {
					j = len(group) - 1 - k
				}
				r := group[j]
				if ctx.Err() != nil {
					return ctx.Err()
				}
				rr := &results[j]
				withFloor := floor != nil && floorRoutes[r.Key]
				pipeScript, beginScript := pipeScripts[j], beginScripts[j]
				if r.uniquePairs {
					if p.base, err = takePairs(o.duration); err != nil {
						return err
					}
				}
				script, err := wrkScript(e.dir, r, tokens, p, o.threads)
				if err != nil {
					return err
				}
				var profErr chan error
				if i == 0 && o.profileDir != "" && o.duration >= 2*time.Second {
					profErr = make(chan error, 1)
					secs := int(o.duration.Seconds()) - 1
					go func() {
						profErr <- srv.profile(fmt.Sprintf("profile?seconds=%d", secs), filepath.Join(o.profileDir, r.Key+".cpu.pprof"))
					}()
				}
				a, err := runWrk(ctx, startCPU(e, srv), script, srv.url, o.threads, o.connections, o.duration)
				if err != nil {
					return err
				}
				if profErr != nil {
					if err := <-profErr; err != nil {
						return err
					}
					if err := srv.profile("heap", filepath.Join(o.profileDir, r.Key+".heap.pprof")); err != nil {
						return err
					}
				}
				rr.Server = append(rr.Server, a)
				if r.uniquePairs {
					if p.base, err = takePairs(o.duration); err != nil {
						return err
					}
				}
				b, err := runPgbench(ctx, e, ds, pipeScript, p, o.threads, o.connections, o.duration)
				if err != nil {
					return err
				}
				rr.Pipeline = append(rr.Pipeline, b)
				if r.uniquePairs {
					if p.base, err = takePairs(o.duration); err != nil {
						return err
					}
				}
				c, err := runPgbench(ctx, e, ds, beginScript, p, o.threads, o.connections, o.duration)
				if err != nil {
					return err
				}
				rr.Begin = append(rr.Begin, c)
				logf("%-24s run %d: server %8.0f/s p99 %6.2fms err %d | pipeline %8.0f/s | begin %8.0f/s | CPU us/req server %.0f pg %.0f wrk %.0f; pipeline: pg %.0f pgbench %.0f",
					r.Name, i+1, a.RPS, a.P99ms, a.Errors, b.RPS, c.RPS, a.ServerCPUus, a.PostgresCPUus, a.LoadgenCPUus, b.PostgresCPUus, b.LoadgenCPUus)
				if withFloor {
					d, err := runWrk(ctx, startCPU(e, floor), script, floor.url, o.threads, o.connections, o.duration)
					if err != nil {
						return err
					}
					rr.Floor = append(rr.Floor, d)
					logf("%-24s run %d: floor %8.0f/s p99 %6.2fms err %d | CPU us/req floor %.0f pg %.0f wrk %.0f",
						r.Name, i+1, d.RPS, d.P99ms, d.Errors, d.ServerCPUus, d.PostgresCPUus, d.LoadgenCPUus)
				}
			}
		}
		// The server's peak memory is the group's: its routes took turns.
		for j := range group {
			results[j].RSSMiB = mib(srv.peakRSS())
			summarise(&results[j])
			res.Routes = append(res.Routes, results[j])
		}
		logf("server memory after %s: %s", groupName(group), srv.memory())
		// Every route writes something (tokens, throttle rows, dead tuples
		// of the deleted rows): restore ends with a vacuum and a checkpoint
		// so none of it is flushed during the next measurement. Routes that
		// add rows never share a group (routeGroups), so each still sees
		// the seeded data.
		if err := e.restore(ctx, ds, writes); err != nil {
			return err
		}
	}

	if !o.noExtras {
		if err := extras(ctx, o, e, ds, srv, bin, secret, extra, tokens, p, res, logf); err != nil {
			return err
		}
	}
	res.PeakRSSMiB = mib(srv.peakRSS())

	printTable(stdout, o, res)
	return writeJSON(o.jsonOut, res, logf)
}

func newResult(o options) *result {
	return &result{Started: time.Now().UTC(), Machine: describeMachine(), Settings: map[string]any{
		"users": o.users, "patients": o.patients, "doctors": o.doctors, "mappings": o.mappings,
		"token_users": o.tokenUsers, "runs": o.runs, "duration_s": o.duration.Seconds(),
		"connections": o.connections, "threads": o.threads, "quick": o.quick,
		"server_env": o.serverEnv, "cluster_settings": clusterSettings,
	}}
}

// writeJSON writes res to path, when --json named one.
func writeJSON(path string, res *result, logf func(string, ...any)) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return err
	}
	logf("wrote %s", path)
	return nil
}

// extras: p99 at 16 connections, the login flood, and the scale compare.
func extras(ctx context.Context, o options, e *env, ds *dataset, srv *server, bin, secret string, extra []string,
	tokens []string, p loadParams, res *result, logf func(string, ...any)) error {
	list, _ := routeByKey("list_patients")
	get, _ := routeByKey("get_patient")
	login, _ := routeByKey("login")

	// Latency at 16 connections, server only.
	for _, r := range []route{list, get} {
		script, err := wrkScript(e.dir, r, tokens, p, o.threads)
		if err != nil {
			return err
		}
		rr := routeResult{Route: r.Name, Connections: o.p99Conns}
		for i := 0; i < o.runs; i++ {
			m, err := runWrk(ctx, startCPU(e, srv), script, srv.url, o.threads, o.p99Conns, o.duration)
			if err != nil {
				return err
			}
			rr.Server = append(rr.Server, m)
		}
		rr.RSSMiB = mib(srv.peakRSS())
		summarise(&rr)
		logf("%-24s at %d connections: %8.0f/s p50 %.2fms p99 %.2fms errors %d",
			r.Name, o.p99Conns, rr.ServerMedian.RPS, rr.ServerMedian.P50ms, rr.ServerMedian.P99ms, rr.ServerMedian.Errors)
		res.Latency16 = append(res.Latency16, rr)
	}

	// Login flood: logins at full concurrency while another client reads
	// patients at 8 connections; compared with the reads alone.
	loginScript, err := wrkScript(e.dir, login, tokens, p, o.threads)
	if err != nil {
		return err
	}
	getScript, err := wrkScript(e.dir, get, tokens, p, o.threads)
	if err != nil {
		return err
	}
	fr := &floodResult{Connections: o.connections, OtherRoute: get.Name, OtherConnections: 8}
	var alone, during, logins []measurement
	for i := 0; i < o.runs; i++ {
		a, err := runWrk(ctx, nil, getScript, srv.url, 1, 8, o.duration)
		if err != nil {
			return err
		}
		alone = append(alone, a)
		type out struct {
			m   measurement
			err error
		}
		lc := make(chan out, 1)
		go func() {
			m, err := runWrk(ctx, nil, loginScript, srv.url, 1, o.connections, o.duration+time.Second)
			lc <- out{m, err}
		}()
		time.Sleep(500 * time.Millisecond) // let the flood build up first
		d, err := runWrk(ctx, nil, getScript, srv.url, 1, 8, o.duration)
		lo := <-lc
		if err != nil {
			return err
		}
		if lo.err != nil {
			return lo.err
		}
		during = append(during, d)
		logins = append(logins, lo.m)
		logf("login flood run %d: %0.f logins/s (errors %d); %s p99 alone %.2fms, during flood %.2fms (%0.f/s, errors %d)",
			i+1, lo.m.RPS, lo.m.Errors, get.Name, a.P99ms, d.P99ms, d.RPS, d.Errors)
	}
	fr.OtherAlone, fr.OtherDuringFlood = median(alone), median(during)
	lm := median(logins)
	fr.LoginsPerSecond, fr.LoginErrors = lm.RPS, lm.Errors
	res.LoginFlood = fr

	if o.compare > 0 {
		if err := compareScale(ctx, o, e, ds, srv, bin, secret, extra, tokens, p, res, logf); err != nil {
			return err
		}
	}
	return nil
}

// compareScale seeds a second database with o.compare patients (five per
// user, like the main one, so every user's page is the same size) and
// alternates list and get between a server on each.
func compareScale(ctx context.Context, o options, e *env, ds *dataset, srv *server, bin, secret string, extra []string,
	tokens []string, p loadParams, res *result, logf func(string, ...any)) error {
	users := max(1, o.compare/max(1, ds.perUser))
	logf("seeding the large data set: %d users, %d patients", users, o.compare)
	big, err := e.seed(ctx, "bench_large", users, o.compare, o.doctors, 2*o.compare, e.hash)
	if err != nil {
		return err
	}
	bigDir := filepath.Join(e.dir, "large")
	if err := os.MkdirAll(bigDir, 0o755); err != nil {
		return err
	}
	logf("seeded in %.1fs (%s)", big.seedTime.Seconds(), big.tableSize)
	if n, secs, err := seedAuditYear(ctx, big.superURL, o.compareEvents, big.patients, big.users); err != nil {
		return err
	} else if n > 0 {
		logf("seeded %d audit events over the past year in %.1fs", n, secs)
	}
	bsrv, err := e.startServer(ctx, bin, big, secret, extra, "large")
	if err != nil {
		return err
	}
	defer bsrv.stop()
	bp := p
	bp.nusers, bp.per = big.users, big.perUser
	sr := &scaleResult{BasePatients: ds.patients, LargePatients: big.patients, LargeUsers: big.users, SeedSeconds: big.seedTime.Seconds()}
	list, _ := routeByKey("list_patients")
	get, _ := routeByKey("get_patient")
	for _, r := range []route{list, get} {
		baseScript, err := wrkScript(e.dir, r, tokens, p, o.threads)
		if err != nil {
			return err
		}
		bigScript, err := wrkScript(bigDir, r, tokens, bp, o.threads)
		if err != nil {
			return err
		}
		if _, err := runWrk(ctx, nil, bigScript, bsrv.url, o.threads, o.p99Conns, time.Second); err != nil {
			return err
		}
		var bm, lm []measurement
		for i := 0; i < o.runs; i++ {
			a, err := runWrk(ctx, nil, baseScript, srv.url, o.threads, o.p99Conns, o.duration)
			if err != nil {
				return err
			}
			b, err := runWrk(ctx, nil, bigScript, bsrv.url, o.threads, o.p99Conns, o.duration)
			if err != nil {
				return err
			}
			bm, lm = append(bm, a), append(lm, b)
			logf("%-24s scale run %d: %d patients p50 %.2fms p99 %.2fms | %d patients p50 %.2fms p99 %.2fms",
				r.Name, i+1, ds.patients, a.P50ms, a.P99ms, big.patients, b.P50ms, b.P99ms)
		}
		s := scaleRouteResult{Route: r.Name, Base: median(bm), Large: median(lm), Connection: o.p99Conns,
			ServerRSS: mib(bsrv.peakRSS())}
		for i := range bm {
			s.BaseRuns = append(s.BaseRuns, bm[i].P50ms)
			s.LargeRuns = append(s.LargeRuns, lm[i].P50ms)
		}
		s.RatioP50 = ratio(s.Large.P50ms, s.Base.P50ms)
		s.RatioP99 = ratio(s.Large.P99ms, s.Base.P99ms)
		s.RatioRPS = ratio(s.Large.RPS, s.Base.RPS)
		sr.Routes = append(sr.Routes, s)
	}
	res.Compare = sr
	return nil
}

// pairSlices hands out slices of a dataset's unused (patient, doctor)
// pairs: each load run that creates mappings gets its own, sized
// generously for its duration.
type pairSlices struct {
	capacity, next int64
}

func newPairSlices(p loadParams) *pairSlices {
	return &pairSlices{capacity: int64(p.ntok) * int64(p.per) * int64(p.ndoc-p.half)}
}

// take returns the first pair index of the next slice, for a run of dur.
func (ps *pairSlices) take(dur time.Duration) (int64, error) {
	b := ps.next
	ps.next += int64(dur.Seconds()) * 20000
	if ps.next > ps.capacity {
		return 0, fmt.Errorf("not enough unique (patient, doctor) pairs for the mapping route: raise --token-users or --doctors, or shorten --duration")
	}
	return b, nil
}

const warmUpDuration = time.Second

// warmUp is a short untimed pass of r against s: it fills the server's
// token cache and pool and PostgreSQL's caches, so run 1 is not a
// cold-start outlier.
func warmUp(ctx context.Context, dir string, r route, tokens []string, p loadParams, o options, s *server) error {
	script, err := wrkScript(dir, r, tokens, p, o.threads)
	if err != nil {
		return err
	}
	_, err = runWrk(ctx, nil, script, s.url, o.threads, o.connections, warmUpDuration)
	return err
}

func summarise(rr *routeResult) {
	rr.ServerMedian = median(rr.Server)
	rr.PipelineMedian = median(rr.Pipeline)
	rr.BeginMedian = median(rr.Begin)
	var rp, rb []float64
	for i := range rr.Server {
		if i < len(rr.Pipeline) {
			rp = append(rp, ratio(rr.Server[i].RPS, rr.Pipeline[i].RPS))
		}
		if i < len(rr.Begin) {
			rb = append(rb, ratio(rr.Server[i].RPS, rr.Begin[i].RPS))
		}
	}
	rr.RatioPipeline, rr.RatioBegin = medianOf(rp), medianOf(rb)
	if len(rr.Floor) > 0 {
		m := median(rr.Floor)
		rr.FloorMedian = &m
		var rf []float64
		for i := range rr.Floor {
			if i < len(rr.Pipeline) {
				rf = append(rf, ratio(rr.Floor[i].RPS, rr.Pipeline[i].RPS))
			}
		}
		rr.RatioFloorPipeline = medianOf(rf)
	}
}

// median takes each field's median independently.
func median(ms []measurement) measurement {
	if len(ms) == 0 {
		return measurement{}
	}
	get := func(f func(measurement) float64) float64 {
		v := make([]float64, len(ms))
		for i, m := range ms {
			v[i] = f(m)
		}
		return medianOf(v)
	}
	return measurement{
		RPS:      get(func(m measurement) float64 { return m.RPS }),
		P50ms:    get(func(m measurement) float64 { return m.P50ms }),
		P99ms:    get(func(m measurement) float64 { return m.P99ms }),
		Requests: int64(get(func(m measurement) float64 { return float64(m.Requests) })),
		Errors:   int64(get(func(m measurement) float64 { return float64(m.Errors) })),

		ServerCPUus:   get(func(m measurement) float64 { return m.ServerCPUus }),
		PostgresCPUus: get(func(m measurement) float64 { return m.PostgresCPUus }),
		LoadgenCPUus:  get(func(m measurement) float64 { return m.LoadgenCPUus }),
	}
}

func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func describeMachine() machine {
	m := machine{NumCPU: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				m.MemTotal = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

func printTable(w io.Writer, o options, res *result) {
	fmt.Fprintf(w, "\nmachine: %d CPUs (%s), %s; %s\n", res.Machine.NumCPU, res.Machine.CPU, res.Machine.MemTotal, res.Machine.Go)
	fmt.Fprintf(w, "data: %d users, %d patients, %d doctors, %d mappings; load spread over %d users\n",
		o.users, o.patients, o.doctors, o.mappings, o.tokenUsers)
	fmt.Fprintf(w, "medians of %d runs of %s at %d connections (wrk -t%d; pgbench -M prepared -j%d), A/B/C alternating\n\n",
		o.runs, o.duration, o.connections, o.threads, o.threads)
	fmt.Fprintf(w, "%-24s %9s %8s %8s %6s %9s %9s %7s %7s %8s\n",
		"route", "server/s", "p50 ms", "p99 ms", "errors", "pipe tx/s", "begin/s", "/pipe", "/begin", "RSS MiB")
	for _, r := range res.Routes {
		s := r.ServerMedian
		fmt.Fprintf(w, "%-24s %9.0f %8.2f %8.2f %6d %9.0f %9.0f %7.2f %7.2f %8.1f\n",
			r.Route, s.RPS, s.P50ms, s.P99ms, s.Errors, r.PipelineMedian.RPS, r.BeginMedian.RPS,
			r.RatioPipeline, r.RatioBegin, r.RSSMiB)
	}
	fmt.Fprintf(w, "\nCPU per request in microseconds (medians; %d cores = %d us of CPU per second):\n", runtime.NumCPU(), runtime.NumCPU()*1000000)
	fmt.Fprintf(w, "%-24s %8s %8s %8s | %8s %8s | %8s %8s\n", "route", "server", "postgres", "wrk", "pipe pg", "pgbench", "begin pg", "pgbench")
	for _, r := range res.Routes {
		s, p, b := r.ServerMedian, r.PipelineMedian, r.BeginMedian
		fmt.Fprintf(w, "%-24s %8.0f %8.0f %8.0f | %8.0f %8.0f | %8.0f %8.0f\n", r.Route,
			s.ServerCPUus, s.PostgresCPUus, s.LoadgenCPUus, p.PostgresCPUus, p.LoadgenCPUus, b.PostgresCPUus, b.LoadgenCPUus)
	}
	printFloor(w, res.Routes)
	printFHIR(w, res.Routes)
	if len(res.Latency16) > 0 {
		fmt.Fprintf(w, "\nserver at %d connections:\n", res.Latency16[0].Connections)
		for _, r := range res.Latency16 {
			s := r.ServerMedian
			fmt.Fprintf(w, "  %-24s %9.0f/s  p50 %.2f ms  p99 %.2f ms  errors %d\n", r.Route, s.RPS, s.P50ms, s.P99ms, s.Errors)
		}
	}
	if f := res.LoginFlood; f != nil {
		fmt.Fprintf(w, "\nlogin (argon2id m=%d KiB t=%d p=%d) at %d connections: %.0f logins/s, errors %d\n",
			auth.DefaultParams.Memory, auth.DefaultParams.Iterations, auth.DefaultParams.Parallelism,
			f.Connections, f.LoginsPerSecond, f.LoginErrors)
		fmt.Fprintf(w, "  %s at %d connections: alone p99 %.2f ms (%.0f/s); during the login flood p99 %.2f ms (%.0f/s), errors %d\n",
			f.OtherRoute, f.OtherConnections, f.OtherAlone.P99ms, f.OtherAlone.RPS,
			f.OtherDuringFlood.P99ms, f.OtherDuringFlood.RPS, f.OtherDuringFlood.Errors)
	}
	if c := res.Compare; c != nil {
		fmt.Fprintf(w, "\n%d vs %d patients (%d users) at %d connections:\n", c.LargePatients, c.BasePatients, c.LargeUsers, o.p99Conns)
		for _, r := range c.Routes {
			fmt.Fprintf(w, "  %-24s p50 %.2f vs %.2f ms (x%.2f)  p99 %.2f vs %.2f ms (x%.2f)  req/s x%.2f\n",
				r.Route, r.Large.P50ms, r.Base.P50ms, r.RatioP50, r.Large.P99ms, r.Base.P99ms, r.RatioP99, r.RatioRPS)
		}
	}
	fmt.Fprintf(w, "\nserver peak RSS (VmHWM) over the whole run: %.1f MiB\n", res.PeakRSSMiB)
}

// printFHIR sets each FHIR route's CPU per request beside its REST route's
// from the same run: the medians of the per-round ratios FHIR/REST (the
// two take turns in every round).
func printFHIR(w io.Writer, routes []routeResult) {
	byKey := map[string]routeResult{}
	for _, r := range routes {
		byKey[r.Key] = r
	}
	paired := func(f, r []measurement) float64 {
		var rs []float64
		for i := range min(len(f), len(r)) {
			rs = append(rs, ratio(f[i].PostgresCPUus, r[i].PostgresCPUus))
		}
		return medianOf(rs)
	}
	header := false
	for _, f := range routes {
		r, ok := byKey[f.REST]
		if f.REST == "" || !ok {
			continue
		}
		if !header {
			fmt.Fprintf(w, "\nFHIR against its REST route, CPU per request (FHIR/REST, medians of the rounds' ratios):\n")
			fmt.Fprintf(w, "%-24s %-24s %8s %8s %8s %8s\n", "FHIR route", "REST route", "server", "postgres", "pipe pg", "begin pg")
			header = true
		}
		var server []float64
		for i := range min(len(f.Server), len(r.Server)) {
			server = append(server, ratio(f.Server[i].ServerCPUus, r.Server[i].ServerCPUus))
		}
		fmt.Fprintf(w, "%-24s %-24s %8.2f %8.2f %8.2f %8.2f\n", f.Route, r.Route,
			medianOf(server), paired(f.Server, r.Server), paired(f.Pipeline, r.Pipeline), paired(f.Begin, r.Begin))
	}
}

// printFloor adds the floor's lines, when it was measured: the same load
// against a server that does nothing but route and call the database.
func printFloor(w io.Writer, routes []routeResult) {
	header := false
	for _, r := range routes {
		f := r.FloorMedian
		if f == nil {
			continue
		}
		if !header {
			fmt.Fprintf(w, "\nfloor (net/http + httprouter + database.Call, nothing else), same load:\n")
			fmt.Fprintf(w, "%-24s %9s %8s %7s %7s | %8s %8s %8s | %s\n",
				"route", "floor/s", "p99 ms", "/pipe", "server/", "floor us", "postgres", "wrk", "server us - floor us")
			header = true
		}
		s := r.ServerMedian
		fmt.Fprintf(w, "%-24s %9.0f %8.2f %7.2f %7.2f | %8.0f %8.0f %8.0f | %.0f\n",
			r.Route, f.RPS, f.P99ms, r.RatioFloorPipeline, ratio(s.RPS, f.RPS),
			f.ServerCPUus, f.PostgresCPUus, f.LoadgenCPUus, s.ServerCPUus-f.ServerCPUus)
	}
}
