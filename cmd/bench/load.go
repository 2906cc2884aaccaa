package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"healthcare/internal/database"
)

// route is one benchmarked REST route together with the SQL transaction
// the server sends for it, written for pgbench.
type route struct {
	Name string // "GET /api/patients/"
	Key  string // short name for files and JSON
	// lua is the body of wrk's request() function. In scope: hdr[i] (the
	// headers of token i), ntok, nusers, per, ndoc, half, and nextk() for
	// the write routes that need unique pairs.
	lua string
	// prebuilt, when set, replaces lua for routes with a finite set of
	// requests: Lua run once per thread that appends every request to
	// reqs, and request() then returns a random one. Formatting a request
	// in Lua costs wrk more CPU than the request itself; on two shared
	// cores that CPU would be taken from the server and PostgreSQL.
	prebuilt string
	// pgSet are pgbench meta-commands that pick the variables; pgCall is
	// the api call exactly as database.Call sends it (built by pgCall from
	// the server's own statement; with -M prepared the :vars become $n
	// parameters again).
	pgSet  string
	pgCall string
	// pgTxns, when set, replaces the single identity+call transaction
	// (login makes two database calls).
	pgTxns []string
	// uniquePairs marks routes whose each request consumes one (patient,
	// doctor) pair, which must never repeat.
	uniquePairs bool
	// writes marks routes that add patients or mappings; the bench deletes
	// what they added afterwards, so later measurements see the seeded data.
	writes bool
	// rest, on a FHIR route, is the key of the REST route it matches: the
	// summary prints their CPU per request side by side.
	rest string
	// since names the schema change a route needs; an A/B run (--baseline)
	// leaves such routes out unless --routes names them, since the other
	// revision may predate it.
	since string
}

// identityCall is database.IdentitySQL with pgbench variables; the
// session is the one the bench seeds for each user (benchSession), and
// reads commit asynchronously as the server's do.
var identityCall = pgStatement(database.IdentitySQL, ":uid", ":rid", ":st",
	"('00000000-0000-4000-8000-' || lpad(:uid::text, 12, '0'))", "'127.0.0.1'", "'off'", "'1000'", "''")

// pgCall is the statement database.Call sends for fn, with a pgbench
// expression in place of each of its $n parameters.
func pgCall(fn database.Func, args ...string) string { return pgStatement(fn.SQL(), args...) }

var paramRE = regexp.MustCompile(`\$([0-9]+)`)

// pgStatement binds the numbered parameters of sql to args (args[0] for
// $1) and ends the statement for pgbench. The arguments keep the
// statement's casts, so an argument that is an expression needs its own
// parentheses where the cast would bind tighter. A count that differs from
// the statement's panics: routes is built when the program starts, so a
// server statement that gained or lost a parameter stops the bench (and
// its tests) instead of timing different SQL.
func pgStatement(sql string, args ...string) string {
	used := make([]bool, len(args))
	out := paramRE.ReplaceAllStringFunc(sql, func(p string) string {
		n, err := strconv.Atoi(p[1:])
		if err != nil || n < 1 || n > len(args) {
			panic(fmt.Sprintf("bench: %s has parameter %s but %d arguments were given", sql, p, len(args)))
		}
		used[n-1] = true
		return args[n-1]
	})
	for i, u := range used {
		if !u {
			panic(fmt.Sprintf("bench: %s has no parameter $%d for argument %q", sql, i+1, args[i]))
		}
	}
	return out + ";"
}

var routes = []route{
	{
		Name: "GET /api/doctors/", Key: "list_doctors",
		prebuilt: `for i = 1, ntok do reqs[i] = wrk.format("GET", "/api/doctors/", hdr[i]) end`,
		pgSet:    `\set uid random(1, :ntok)`,
		pgCall:   pgCall(database.FnListDoctors, "NULL", "NULL", ":lim", ":off"),
	},
	{
		Name: "GET /api/patients/", Key: "list_patients",
		prebuilt: `for i = 1, ntok do reqs[i] = wrk.format("GET", "/api/patients/", hdr[i]) end`,
		pgSet:    `\set uid random(1, :ntok)`,
		pgCall:   pgCall(database.FnListPatients, ":lim", ":off"),
	},
	{
		Name: "GET /api/patients/<id>/", Key: "get_patient",
		prebuilt: `for i = 1, ntok do for k = 0, per - 1 do
		             reqs[#reqs + 1] = wrk.format("GET", "/api/patients/" .. (i + k * nusers) .. "/", hdr[i])
		           end end`,
		pgSet: `\set uid random(1, :ntok)
\set pid :uid + random(0, :per - 1) * :nusers`,
		pgCall: pgCall(database.FnGetPatient, ":pid"),
	},
	{
		// The care view of a doctor: doctor d (1..half) is linked to user
		// d and has 2 * patients / half patients mapped (the seed), so
		// the tokens of users 1..min(ntok, half) are doctors.
		Name: "GET /api/care/patients/", Key: "list_care_patients", since: "care teams (app.doctors.account_id)",
		prebuilt: `for i = 1, math.min(ntok, half) do reqs[i] = wrk.format("GET", "/api/care/patients/", hdr[i]) end`,
		pgSet:    `\set uid random(1, least(:ntok, :half))`,
		pgCall:   pgCall(database.FnListCarePatients, ":lim", ":off"),
	},
	// The FHIR face (issue 26): each read and search beside the REST route
	// it matches, to compare their cost per request in one run.
	{
		Name: "GET /fhir/Practitioner", Key: "fhir_search_practitioner", since: fhirSince, rest: "list_doctors",
		prebuilt: `for i = 1, ntok do reqs[i] = wrk.format("GET", "/fhir/Practitioner", hdr[i]) end`,
		pgSet:    `\set uid random(1, :ntok)`,
		pgCall:   pgCall(database.FhirPractitionerSearch, "NULL", "NULL", "NULL", ":lim", ":off", ":fbase"),
	},
	{
		Name: "GET /fhir/Patient", Key: "fhir_search_patient", since: fhirSince, rest: "list_patients",
		prebuilt: `for i = 1, ntok do reqs[i] = wrk.format("GET", "/fhir/Patient", hdr[i]) end`,
		pgSet:    `\set uid random(1, :ntok)`,
		pgCall:   pgCall(database.FhirPatientSearch, "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", ":lim", ":off", ":fbase"),
	},
	{
		Name: "GET /fhir/Patient/<id>", Key: "fhir_read_patient", since: fhirSince, rest: "get_patient",
		prebuilt: `for i = 1, ntok do for k = 0, per - 1 do
		             reqs[#reqs + 1] = wrk.format("GET", "/fhir/Patient/" .. (i + k * nusers), hdr[i])
		           end end`,
		pgSet: `\set uid random(1, :ntok)
\set pid :uid + random(0, :per - 1) * :nusers`,
		pgCall: pgCall(database.FhirPatient, ":pid"),
	},
	{
		// A doctor's care teams, beside the REST care view.
		Name: "GET /fhir/CareTeam", Key: "fhir_search_care_team", since: fhirSince, rest: "list_care_patients",
		prebuilt: `for i = 1, math.min(ntok, half) do reqs[i] = wrk.format("GET", "/fhir/CareTeam", hdr[i]) end`,
		pgSet:    `\set uid random(1, least(:ntok, :half))`,
		pgCall:   pgCall(database.FhirCareTeamSearch, "NULL", "NULL", ":lim", ":off", ":fbase"),
	},
	{
		Name: "POST /api/patients/", Key: "create_patient", writes: true,
		lua: `local i = math.random(ntok)
		      return wrk.format("POST", "/api/patients/", phdr[i], '{"name":"Bench Patient","age":' .. math.random(0, 99) .. ',"gender":"female"}')`,
		pgSet: `\set uid random(1, :ntok)
\set age random(0, 99)`,
		pgCall: pgCall(database.FnCreatePatient, ":pname", ":age", ":gender"),
	},
	{
		Name: "POST /api/mappings/", Key: "create_mapping", uniquePairs: true, writes: true,
		lua: `local k = nextk(); local t = k % ntok; local j = math.floor(k / ntok)
		      local pid = (t + 1) + (j % per) * nusers; local doc = half + 1 + math.floor(j / per) % (ndoc - half)
		      return wrk.format("POST", "/api/mappings/", phdr[t + 1], '{"patient":' .. pid .. ',"doctor":' .. doc .. '}')`,
		pgSet: `\set k :base + :client_id + :nclients * :n
\set n :n + 1
\set t :k % :ntok
\set j :k / :ntok
\set uid :t + 1
\set pid :uid + (:j % :per) * :nusers
\set doc :half + 1 + (:j / :per) % (:ndoc - :half)`,
		pgCall: pgCall(database.FnCreateMapping, ":pid", ":doc"),
	},
	{
		Name: "POST /api/auth/login/", Key: "login",
		lua: `local i = math.random(ntok)
		      return wrk.format("POST", "/api/auth/login/", jhdr, '{"username":"user' .. i .. '","password":"` + benchPass + `"}')`,
		pgSet: `\set uid random(1, :ntok)`,
		// Login's two calls, each its own transaction: the throttle check
		// with the credentials, then (after the password check in Go) the
		// count reset with the new refresh token. The token's ids come from
		// gen_random_uuid() because pgbench cannot make UUIDs (the server
		// makes them in Go and sends them as parameters). Each pgbench
		// client logs in from its own address: at a thousand logins a
		// second from one address, every transaction queues on that
		// address's throttle row until the statement timeout cancels it,
		// which measures the lock rather than the SQL (the server, at
		// fifty logins a second, does not meet that queue).
		pgTxns: []string{
			pgCall(database.FnLoginAttempt, "'user' || :uid", "'10.0.0.' || :client_id", "5", "50", "20", "900"),
			pgCall(database.FnCompleteLogin, "'user' || :uid", "'10.0.0.' || :client_id", ":uid",
				"gen_random_uuid()", "gen_random_uuid()", "(now() + interval '7 days')", "null", "null"),
		},
	},
}

// fhirSince is the schema change the FHIR routes need.
const fhirSince = "the FHIR face (schema fhir, migration 022)"

// fhirBase is the base URL the pgbench scripts pass the fhir searches: the
// length of the server's own (http://127.0.0.1:<port>/fhir).
const fhirBase = "http://127.0.0.1:8000/fhir"

func routeByKey(key string) (route, bool) {
	for _, r := range routes {
		if r.Key == key {
			return r, true
		}
	}
	return route{}, false
}

// loadParams describe the data the scripts address.
type loadParams struct {
	ntok, nusers, per, ndoc, half int
	base                          int64 // first pair index for uniquePairs routes
}

// measurement is one load run, from wrk or pgbench.
type measurement struct {
	RPS      float64 `json:"rps"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	// CPU time per request (microseconds) of the server, of PostgreSQL
	// (every backend, the postmaster and its helpers) and of the load
	// generator, over the run: where the two cores went.
	ServerCPUus   float64 `json:"server_cpu_us"`
	PostgresCPUus float64 `json:"postgres_cpu_us"`
	LoadgenCPUus  float64 `json:"loadgen_cpu_us"`
}

// wrkScript writes the Lua script for r: tokens are embedded, headers are
// built once per thread, and each thread draws its own random sequence.
func wrkScript(dir string, r route, tokens []string, p loadParams, nthreads int) (string, error) {
	var b strings.Builder
	b.WriteString("-- generated by cmd/bench\nlocal tokens = {\n")
	for _, t := range tokens[:p.ntok] {
		fmt.Fprintf(&b, "%q,\n", t)
	}
	fmt.Fprintf(&b, `}
ntok, nusers, per, ndoc, half = %d, %d, %d, %d, %d
local base, nthreads = %d, %d
local nthread = 0
function setup(thread)
  thread:set("tid", nthread)
  nthread = nthread + 1
end
hdr, phdr, reqs = {}, {}, {}
jhdr = {["Content-Type"] = "application/json"}
local counter = 0
function nextk()
  local k = base + tid + nthreads * counter
  counter = counter + 1
  return k
end
function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
  for i = 1, #tokens do
    hdr[i] = {["Authorization"] = "Bearer " .. tokens[i]}
    phdr[i] = {["Authorization"] = "Bearer " .. tokens[i], ["Content-Type"] = "application/json"}
  end
  %s
  nreqs = #reqs
end
function request()
  %s
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCHJSON {"requests":%%d,"duration_us":%%d,"errors":%%d,"p50_us":%%d,"p99_us":%%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout + e.status,
    latency:percentile(50), latency:percentile(99)))
end
`, p.ntok, p.nusers, p.per, p.ndoc, p.half, p.base, nthreads, r.prebuilt, requestBody(r))
	path := filepath.Join(dir, "wrk-"+r.Key+".lua")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

// requestBody is the body of wrk's request() function for r.
func requestBody(r route) string {
	if r.prebuilt != "" {
		return "return reqs[math.random(nreqs)]"
	}
	return r.lua
}

// runWrk drives url with wrk and returns its measurement.
func runWrk(ctx context.Context, meter *cpuMeter, script, url string, threads, conns int, dur time.Duration) (measurement, error) {
	threads = min(threads, conns)
	cmd := exec.CommandContext(ctx, "wrk", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns),
		"-d", strconv.Itoa(int(dur.Seconds()))+"s", "--timeout", "5s", "-s", script, url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return measurement{}, fmt.Errorf("wrk: %w\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if js, ok := strings.CutPrefix(line, "BENCHJSON "); ok {
			var v struct {
				Requests   int64 `json:"requests"`
				DurationUS int64 `json:"duration_us"`
				Errors     int64 `json:"errors"`
				P50US      int64 `json:"p50_us"`
				P99US      int64 `json:"p99_us"`
			}
			if err := json.Unmarshal([]byte(js), &v); err != nil {
				return measurement{}, fmt.Errorf("wrk output %q: %w", js, err)
			}
			m := measurement{Requests: v.Requests, Errors: v.Errors,
				P50ms: float64(v.P50US) / 1000, P99ms: float64(v.P99US) / 1000}
			if v.DurationUS > 0 {
				m.RPS = float64(v.Requests) / (float64(v.DurationUS) / 1e6)
			}
			if meter != nil {
				meter.stop(&m, cmd)
			}
			return m, nil
		}
	}
	return measurement{}, fmt.Errorf("wrk printed no result:\n%s", out)
}

// pgbenchScript writes r's transaction for pgbench: pipelined (one
// \startpipeline ... \endpipeline per transaction, the ceiling: exactly the
// messages of one pgx batch) or as BEGIN ... END with a round trip per
// statement.
func pgbenchScript(dir string, r route, pipelined bool) (string, error) {
	var b strings.Builder
	b.WriteString(r.pgSet + "\n")
	txns := r.pgTxns
	if txns == nil {
		txns = []string{r.pgCall}
	}
	for _, call := range txns {
		if pipelined {
			b.WriteString("\\startpipeline\n" + identityCall + "\n" + call + "\n\\endpipeline\n")
		} else {
			b.WriteString("begin;\n" + identityCall + "\n" + call + "\nend;\n")
		}
	}
	kind := "begin"
	if pipelined {
		kind = "pipeline"
	}
	path := filepath.Join(dir, "pgbench-"+r.Key+"-"+kind+".sql")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

var tpsRE = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// pgbenchDefines are the variables every script may use besides its own
// \set ones and pgbench's client_id, as -D name=value.
func pgbenchDefines(p loadParams, conns int) []string {
	return []string{
		"ntok=" + strconv.Itoa(p.ntok), "nusers=" + strconv.Itoa(p.nusers),
		"per=" + strconv.Itoa(p.per), "ndoc=" + strconv.Itoa(p.ndoc), "half=" + strconv.Itoa(p.half),
		"base=" + strconv.FormatInt(p.base, 10), "nclients=" + strconv.Itoa(conns), "n=0",
		"rid=" + requestIDVal, "st=5000", "lim=50", "off=0",
		"pname=Bench Patient", "gender=female", "fbase=" + fhirBase,
	}
}

// runPgbench runs script as the server's login role with -M prepared and
// computes latency percentiles from pgbench's per-transaction log.
func runPgbench(ctx context.Context, e *env, ds *dataset, script string, p loadParams, threads, conns int, dur time.Duration) (measurement, error) {
	logDir, err := os.MkdirTemp(e.dir, "pgblog")
	if err != nil {
		return measurement{}, err
	}
	defer os.RemoveAll(logDir)
	args := []string{"-n", "-M", "prepared", "-c", strconv.Itoa(conns), "-j", strconv.Itoa(min(threads, conns)),
		"-T", strconv.Itoa(int(dur.Seconds())), "-f", script,
		"-h", e.cluster.SocketDir(), "-p", strconv.Itoa(e.cluster.Port()), "-U", appRole,
		"--log", "--log-prefix", filepath.Join(logDir, "tx")}
	for _, d := range pgbenchDefines(p, conns) {
		args = append(args, "-D", d)
	}
	args = append(args, ds.db)
	cmd := exec.CommandContext(ctx, "pgbench", args...)
	cmd.Dir = logDir
	meter := startCPU(e, nil)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return measurement{}, fmt.Errorf("pgbench %s: %w\n%s", filepath.Base(script), err, out)
	}
	mm := tpsRE.FindSubmatch(out)
	if mm == nil {
		return measurement{}, fmt.Errorf("pgbench printed no tps:\n%s", out)
	}
	m := measurement{}
	m.RPS, _ = strconv.ParseFloat(string(mm[1]), 64)
	lat, failed, err := readPgbenchLogs(logDir)
	if err != nil {
		return measurement{}, err
	}
	m.Requests, m.Errors = int64(len(lat)), failed
	m.P50ms, m.P99ms = percentile(lat, 50), percentile(lat, 99)
	meter.stop(&m, cmd)
	return m, nil
}

// readPgbenchLogs reads every per-transaction log line: the third field is
// the latency in microseconds, or "failed"/"skipped".
func readPgbenchLogs(dir string) ([]float64, int64, error) {
	files, err := filepath.Glob(filepath.Join(dir, "tx*"))
	if err != nil {
		return nil, 0, err
	}
	var lat []float64
	var failed int64
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, 0, err
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 3 {
				continue
			}
			us, err := strconv.ParseFloat(fields[2], 64)
			if err != nil {
				failed++
				continue
			}
			lat = append(lat, us/1000)
		}
		fh.Close()
	}
	sort.Float64s(lat)
	return lat, failed, nil
}

// percentile of sorted values, nearest rank.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// routeGroups orders the selected routes into the groups the bench runs
// round by round: a REST route with the selected FHIR routes that match
// it, every other route alone, in the order selected (a matched FHIR route
// joins its REST route's group wherever it was named). A route that adds
// rows (writes) stays alone, so the data is restored after it.
func routeGroups(selected []route) [][]route {
	named := map[string]bool{}
	for _, r := range selected {
		named[r.Key] = true
	}
	var groups [][]route
	for _, r := range selected {
		if r.rest != "" && named[r.rest] && !r.writes {
			if rest, _ := routeByKey(r.rest); !rest.writes {
				continue
			}
		}
		g := []route{r}
		for _, f := range selected {
			if f.rest == r.Key && !r.writes && !f.writes {
				g = append(g, f)
			}
		}
		groups = append(groups, g)
	}
	return groups
}

// groupName names a group's routes for the log.
func groupName(group []route) string {
	names := make([]string, len(group))
	for i, r := range group {
		names[i] = r.Name
	}
	return strings.Join(names, " and ")
}
