package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

// The A/B ratio is the median of the per-round ratios current/baseline,
// not the ratio of the two medians: a round where the machine slowed down
// slows both sides.
func TestSummariseABTakesMediansOfPerRoundRatios(t *testing.T) {
	m := func(rps, p99 float64) measurement { return measurement{RPS: rps, P99ms: p99} }
	r := abRoute{
		BaselineRuns: []measurement{m(100, 10), m(50, 20), m(200, 4)},
		CurrentRuns:  []measurement{m(110, 5), m(60, 30), m(180, 4)},
	}
	summariseAB(&r)
	if r.Baseline.RPS != 100 || r.Current.RPS != 110 {
		t.Errorf("medians: baseline %v, current %v; want 100, 110", r.Baseline.RPS, r.Current.RPS)
	}
	if r.Baseline.P99ms != 10 || r.Current.P99ms != 5 {
		t.Errorf("p99 medians: baseline %v, current %v; want 10, 5", r.Baseline.P99ms, r.Current.P99ms)
	}
	// Rounds: 1.1, 1.2, 0.9 (the ratio of the medians would be 1.1).
	want := []float64{1.1, 1.2, 0.9}
	if len(r.RatioRuns) != len(want) {
		t.Fatalf("ratio runs %v, want %v", r.RatioRuns, want)
	}
	for i := range want {
		if !near(r.RatioRuns[i], want[i]) {
			t.Errorf("round %d ratio %v, want %v", i, r.RatioRuns[i], want[i])
		}
	}
	if !near(r.Ratio, 1.1) {
		t.Errorf("ratio %v, want 1.1", r.Ratio)
	}
	// p99 per round: 0.5, 1.5, 1 -> 1.
	if !near(r.RatioP99, 1) {
		t.Errorf("p99 ratio %v, want 1", r.RatioP99)
	}

	// An even number of rounds averages the middle two; a baseline round
	// that served nothing gives a ratio of 0 rather than a division by zero.
	even := abRoute{
		BaselineRuns: []measurement{m(100, 1), m(100, 1), m(0, 0), m(100, 1)},
		CurrentRuns:  []measurement{m(90, 1), m(130, 1), m(50, 1), m(110, 1)},
	}
	summariseAB(&even)
	if !near(even.Ratio, 1.0) || even.RatioRuns[2] != 0 {
		t.Errorf("even rounds: ratio %v (runs %v), want 1.0 from 0, 0.9, 1.1, 1.3", even.Ratio, even.RatioRuns)
	}

	// Summarising again (as after a retry) does not pile up ratios.
	summariseAB(&even)
	if len(even.RatioRuns) != 4 {
		t.Errorf("summarised twice: %d ratios, want 4", len(even.RatioRuns))
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// The order swaps every round, and the next route starts with the side
// the last one did not start with when the round count is odd.
func TestBaselineFirstAlternates(t *testing.T) {
	for ri := 0; ri < 3; ri++ {
		for i := 0; i < 4; i++ {
			if baselineFirst(ri, i) == baselineFirst(ri, i+1) {
				t.Errorf("route %d: rounds %d and %d start with the same side", ri, i, i+1)
			}
		}
		if baselineFirst(ri, 0) == baselineFirst(ri+1, 0) {
			t.Errorf("routes %d and %d start with the same side", ri, ri+1)
		}
	}
}

func TestParseFlagsBaseline(t *testing.T) {
	o, err := parseFlags([]string{"--baseline", "HEAD~1", "--quick"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.baseline != "HEAD~1" || o.runs != 1 || o.duration != time.Second {
		t.Errorf("--baseline HEAD~1 --quick: baseline %q, runs %d, duration %s", o.baseline, o.runs, o.duration)
	}

	// --quick keeps its small data but takes the flags given beside it.
	o, err = parseFlags([]string{"--quick", "--runs", "3", "--duration", "2s", "--doctors", "200", "--baseline=main"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.runs != 3 || o.duration != 2*time.Second || o.doctors != 200 || o.patients != 5000 || o.tokenUsers != 500 || o.baseline != "main" {
		t.Errorf("--quick --runs 3 --duration 2s --doctors 200: runs %d, duration %s, doctors %d, patients %d, token users %d, baseline %q",
			o.runs, o.duration, o.doctors, o.patients, o.tokenUsers, o.baseline)
	}

	// Without --baseline nothing changes.
	o, err = parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.baseline != "" || o.runs != 3 || o.duration != 10*time.Second {
		t.Errorf("defaults: baseline %q, runs %d, duration %s", o.baseline, o.runs, o.duration)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--baseline", ""}, "wants a git revision"},
		{[]string{"--baseline", "  "}, "wants a git revision"},
		{[]string{"--baseline", "--quick"}, "wants a git revision"},
		{[]string{"--baseline", "HEAD~1", "--floor"}, "drop --floor"},
		{[]string{"--baseline", "HEAD~1", "--compare", "1000", "--profile", "/tmp/p"}, "drop --compare, --profile"},
	} {
		_, err := parseFlags(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one saying %q", tc.args, err, tc.want)
		}
	}
}

func TestRevisionString(t *testing.T) {
	r := revision{Ref: "HEAD~1", Commit: "0123456789abcdef0123"}
	if got := r.String(); got != "HEAD~1 (0123456789)" {
		t.Errorf("%q", got)
	}
	r = revision{Ref: "working tree", Commit: "0123456789abcdef0123", Dirty: true}
	if got := r.String(); got != "working tree (0123456789) with uncommitted changes" {
		t.Errorf("%q", got)
	}
}

// Each run gets its own slice of the pairs, sized by its duration; the
// bench stops before a slice would run past the pair space.
func TestPairSlicesAreSizedByTheRunsDuration(t *testing.T) {
	ps := newPairSlices(loadParams{ntok: 10, per: 5, ndoc: 2000, half: 1000}) // 50,000 pairs
	for _, want := range []int64{0, 20000} {
		got, err := ps.take(time.Second)
		if err != nil || got != want {
			t.Fatalf("take(1s) = %d, %v; want %d", got, err, want)
		}
	}
	if _, err := ps.take(2 * time.Second); err == nil {
		t.Fatal("a 2s run past 40,000 of 50,000 pairs was given a slice")
	}
}
