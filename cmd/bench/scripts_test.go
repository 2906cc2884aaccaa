package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"healthcare/internal/database"
)

// serverStatements are the statements database.Call sends for each
// benchmarked route, after the identity statement.
var serverStatements = map[string][]database.Func{
	"list_doctors":       {database.FnListDoctors},
	"list_patients":      {database.FnListPatients},
	"get_patient":        {database.FnGetPatient},
	"list_care_patients": {database.FnListCarePatients},
	"create_patient":     {database.FnCreatePatient},
	"create_mapping":     {database.FnCreateMapping},
	"login":              {database.FnLoginAttempt, database.FnCompleteLogin},

	"fhir_search_practitioner": {database.FhirPractitionerSearch},
	"fhir_search_patient":      {database.FhirPatientSearch},
	"fhir_read_patient":        {database.FhirPatient},
	"fhir_search_care_team":    {database.FhirCareTeamSearch},
}

// boundForm matches sql with each $n parameter replaced by an expression:
// what pgStatement makes of it.
func boundForm(t *testing.T, sql string) *regexp.Regexp {
	t.Helper()
	quoted := regexp.QuoteMeta(sql)
	pattern := regexp.MustCompile(`\\\$[0-9]+`).ReplaceAllString(quoted, `(.+)`)
	if pattern == quoted && strings.Contains(sql, "$") {
		t.Fatalf("no parameters found in %s", sql)
	}
	return regexp.MustCompile(`^` + pattern + `;$`)
}

// writeScript writes r's pgbench script into dir as the bench does and
// returns its path and text.
func writeScript(t *testing.T, dir string, r route, pipelined bool) (string, string) {
	t.Helper()
	path, err := pgbenchScript(dir, r, pipelined)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, string(b)
}

// TestPgbenchScriptsSendTheServersSQL reads the scripts the bench writes
// and checks that every transaction is the server's: the identity
// statement of database.Call, then the api function's statement as
// database.Func has it, with only the parameters replaced.
func TestPgbenchScriptsSendTheServersSQL(t *testing.T) {
	dir := t.TempDir()
	identity := boundForm(t, database.IdentitySQL)
	for _, r := range routes {
		fns, ok := serverStatements[r.Key]
		if !ok {
			t.Errorf("route %s: no server statements listed in this test", r.Key)
			continue
		}
		for _, pipelined := range []bool{true, false} {
			path, b := writeScript(t, dir, r, pipelined)
			var stmts []string
			for _, line := range strings.Split(b, "\n") {
				switch {
				case line == "", strings.HasPrefix(line, `\`), line == "begin;", line == "end;":
				default:
					stmts = append(stmts, line)
				}
			}
			if len(stmts) != 2*len(fns) {
				t.Fatalf("%s: %d statements, want identity + call for each of %d calls:\n%s", path, len(stmts), len(fns), b)
			}
			for i, fn := range fns {
				if !identity.MatchString(stmts[2*i]) {
					t.Errorf("%s: %q is not database.IdentitySQL with its parameters bound", path, stmts[2*i])
				}
				if !boundForm(t, fn.SQL()).MatchString(stmts[2*i+1]) {
					t.Errorf("%s: %q is not %s with its parameters bound", path, stmts[2*i+1], fn.SQL())
				}
			}
		}
	}
	for key := range serverStatements {
		if _, ok := routeByKey(key); !ok {
			t.Errorf("this test lists route %s, which the bench does not have", key)
		}
	}
}

// TestPgbenchScriptsUseOnlyDefinedVariables: every :name a script reads
// is set by the script, passed with -D, or pgbench's own client_id; a
// typo would otherwise make pgbench abort mid-run.
func TestPgbenchScriptsUseOnlyDefinedVariables(t *testing.T) {
	defined := []string{"client_id"}
	for _, d := range pgbenchDefines(loadParams{}, 1) {
		name, _, _ := strings.Cut(d, "=")
		defined = append(defined, name)
	}
	setRE := regexp.MustCompile(`(?m)^\\set ([a-z_]+) `)
	// A :name not preceded by another colon (a cast is ::type).
	useRE := regexp.MustCompile(`(?:^|[^:]):([a-z_]+)`)
	dir := t.TempDir()
	for _, r := range routes {
		_, script := writeScript(t, dir, r, true)
		vars := slices.Clone(defined)
		for _, m := range setRE.FindAllStringSubmatch(script, -1) {
			vars = append(vars, m[1])
		}
		for _, m := range useRE.FindAllStringSubmatch(script, -1) {
			if !slices.Contains(vars, m[1]) {
				t.Errorf("%s reads :%s, which nothing defines", r.Key, m[1])
			}
		}
		if strings.Contains(script, "$") {
			t.Errorf("%s keeps an unbound parameter:\n%s", r.Key, script)
		}
	}
}

func TestPgStatementRefusesAWrongArgumentCount(t *testing.T) {
	if got := pgStatement("select f($1::int, $2::text)", ":a", "'x'"); got != "select f(:a::int, 'x'::text);" {
		t.Fatalf("bound statement %q", got)
	}
	for _, args := range [][]string{{":a"}, {":a", ":b", ":c"}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%d arguments for two parameters did not panic", len(args))
				}
			}()
			pgStatement("select f($1::int, $2::text)", args...)
		}()
	}
}
