package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"healthcare/internal/auth"
)

// The reported ratios are medians of the per-round pairs, not ratios of
// the medians: a round where the machine slowed down slows both sides.
func TestSummariseTakesMediansOfPairedRatios(t *testing.T) {
	rps := func(v ...float64) []measurement {
		ms := make([]measurement, len(v))
		for i, x := range v {
			ms[i] = measurement{RPS: x}
		}
		return ms
	}
	rr := routeResult{
		Server:   rps(60, 100, 30),
		Pipeline: rps(100, 200, 100),
		Begin:    rps(60, 100, 60),
		Floor:    rps(80, 120, 50),
	}
	summarise(&rr)
	if rr.ServerMedian.RPS != 60 || rr.PipelineMedian.RPS != 100 {
		t.Errorf("medians: server %v, pipeline %v; want 60, 100", rr.ServerMedian.RPS, rr.PipelineMedian.RPS)
	}
	// Per round 0.6, 0.5, 0.3 against the pipeline (the ratio of the
	// medians would be 0.6); 1, 1, 0.5 against BEGIN..END.
	if rr.RatioPipeline != 0.5 || rr.RatioBegin != 1 {
		t.Errorf("ratios: pipeline %v, begin %v; want 0.5, 1", rr.RatioPipeline, rr.RatioBegin)
	}
	if rr.FloorMedian == nil || rr.FloorMedian.RPS != 80 || rr.RatioFloorPipeline != 0.6 {
		t.Errorf("floor: median %+v, ratio %v; want 80 req/s, 0.6 (0.8, 0.6, 0.5)", rr.FloorMedian, rr.RatioFloorPipeline)
	}

	noFloor := routeResult{Server: rps(1), Pipeline: rps(2)}
	summarise(&noFloor)
	if noFloor.FloorMedian != nil || noFloor.RatioFloorPipeline != 0 {
		t.Errorf("without --floor the floor fields must stay empty (omitted from JSON): %+v", noFloor)
	}
}

// The floor acts for the user each token was minted for, the one the
// server reads from the verified token.
func TestFloorTokensMapToTheirUsers(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef"
	tokens, err := mintTokens(secret, 3)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewTokens(auth.TokenOptions{Key: []byte(secret), Issuer: jwtIssuer, Audience: jwtAudience,
		AccessTTL: time.Hour, RefreshTTL: time.Hour, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(tokens[0]+"\n"+tokens[1]+"\n"+tokens[2]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	users, err := readFloorTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 3 {
		t.Fatalf("read %d tokens, want 3", len(users))
	}
	for i, tok := range tokens {
		c, err := verifier.Verify(tok, auth.TokenAccess)
		if err != nil {
			t.Fatal(err)
		}
		if users[tok] != c.UserID {
			t.Errorf("token %d: the floor acts for user %d, the server for %d", i, users[tok], c.UserID)
		}
	}
}

// Each FHIR route names a REST route that exists, runs in its group when
// both are selected, and the summary sets their CPU per request side by
// side as medians of the rounds' ratios.
func TestFHIRRoutesRunAndPrintBesideTheirRESTRoutes(t *testing.T) {
	for _, r := range routes {
		if strings.HasPrefix(r.Key, "fhir_") {
			if rest, ok := routeByKey(r.rest); !ok || strings.HasPrefix(rest.Key, "fhir_") {
				t.Errorf("%s: REST match %q", r.Key, r.rest)
			}
		}
	}
	pick := func(keys ...string) []route {
		var rs []route
		for _, k := range keys {
			r, _ := routeByKey(k)
			rs = append(rs, r)
		}
		return rs
	}
	var got []string
	for _, g := range routeGroups(pick("fhir_search_patient", "list_doctors", "list_patients", "fhir_read_patient", "fhir_search_practitioner")) {
		var keys []string
		for _, r := range g {
			keys = append(keys, r.Key)
		}
		got = append(got, strings.Join(keys, "+"))
	}
	if want := "list_doctors+fhir_search_practitioner list_patients+fhir_search_patient fhir_read_patient"; strings.Join(got, " ") != want {
		t.Errorf("groups %q, want %q", strings.Join(got, " "), want)
	}

	cpu := func(pairs ...float64) []measurement {
		var ms []measurement
		for i := 0; i+1 < len(pairs); i += 2 {
			ms = append(ms, measurement{ServerCPUus: pairs[i], PostgresCPUus: pairs[i+1]})
		}
		return ms
	}
	res := []routeResult{
		{Route: "GET /api/patients/", Key: "list_patients",
			Server: cpu(100, 400, 200, 400, 100, 400), Pipeline: cpu(0, 300, 0, 300, 0, 300), Begin: cpu(0, 500, 0, 500, 0, 500)},
		// per round: server 1.1, 0.6, 1.2; postgres 1.15, 1.5, 1.0
		{Route: "GET /fhir/Patient", Key: "fhir_search_patient", REST: "list_patients",
			Server: cpu(110, 460, 120, 600, 120, 400), Pipeline: cpu(0, 330, 0, 330, 0, 330), Begin: cpu(0, 500, 0, 500, 0, 500)},
		{Route: "GET /fhir/CareTeam", Key: "fhir_search_care_team", REST: "list_care_patients"}, // its REST route did not run
	}
	var b strings.Builder
	printFHIR(&b, res)
	out := b.String()
	if !strings.Contains(out, "GET /fhir/Patient") || !strings.Contains(out, "1.10     1.15     1.10     1.00") {
		t.Errorf("summary:\n%s", out)
	}
	if strings.Contains(out, "CareTeam") {
		t.Errorf("a FHIR route whose REST route did not run is printed:\n%s", out)
	}
}
