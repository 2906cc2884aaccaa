package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"healthcare/internal/apitest"
)

// composeService is the part of a docker-compose.yml service these tests
// read. Aliases (the shared API environment) are resolved by the parser.
type composeService struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	PullPolicy  string            `yaml:"pull_policy"`
	Command     []string          `yaml:"command"`
	EnvFile     any               `yaml:"env_file"`
	Environment map[string]string `yaml:"environment"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
}

func loadCompose(t *testing.T) map[string]composeService {
	t.Helper()
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, name := range []string{"postgres", "check", "migrate", "api"} {
		if _, ok := f.Services[name]; !ok {
			t.Fatalf("docker-compose.yml has no %s service", name)
		}
	}
	return f.Services
}

// interpolate expands s as Compose does for ${VAR}, ${VAR:-default},
// ${VAR-default}, ${VAR:?message}, ${VAR?message} and $$, with vars as the
// shell environment plus .env (a missing key is unset).
func interpolate(s string, vars map[string]string) (string, error) {
	re := regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)
	var firstErr error
	out := re.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		sub := re.FindStringSubmatch(m)
		v, set := vars[sub[1]]
		missing := !set || (strings.HasPrefix(sub[2], ":") && v == "")
		switch strings.TrimPrefix(sub[2], ":") {
		case "-":
			if missing {
				return sub[3]
			}
		case "?":
			if missing && firstErr == nil {
				firstErr = fmt.Errorf("required variable %s is missing a value: %s", sub[1], sub[3])
			}
		}
		return v
	})
	return out, firstErr
}

// dotenvMap reads a .env file as Compose does for interpolation and
// env_file (KEY=VALUE lines, # comments).
func dotenvMap(t *testing.T, text string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf(".env line %q", line)
		}
		m[k] = v
	}
	return m
}

// containerEnv is what a service's process sees: env_file (.env), then
// its environment, interpolated with dotenv.
func containerEnv(svc composeService, dotenv map[string]string) (map[string]string, error) {
	env := map[string]string{}
	if svc.EnvFile != nil {
		for k, v := range dotenv {
			env[k] = v
		}
	}
	for k, v := range svc.Environment {
		x, err := interpolate(v, dotenv)
		if err != nil {
			return nil, err
		}
		env[k] = x
	}
	return env, nil
}

// TestComposeBuildsOneImage: one service builds the image; every service
// that runs the healthcare binary runs that image, and the others never
// build or pull it.
func TestComposeBuildsOneImage(t *testing.T) {
	services := loadCompose(t)
	var builders []string
	for name, svc := range services {
		if svc.Build != nil {
			builders = append(builders, name)
		}
	}
	if !slices.Equal(builders, []string{"migrate"}) {
		t.Fatalf("services that build an image: %v, want only migrate", builders)
	}
	image := services["migrate"].Image
	if image == "" {
		t.Fatal("migrate builds an image without naming it (image:), so the others cannot run it")
	}
	for _, name := range []string{"check", "api"} {
		if svc := services[name]; svc.Image != image || svc.PullPolicy != "never" {
			t.Errorf("%s runs image %q (pull_policy %q), want migrate's %q, never pulled", name, svc.Image, svc.PullPolicy, image)
		}
	}
}

// TestComposeStopsHalfConfigured: with SECRET_KEY or DB_PASSWORD missing
// compose refuses with a message naming it; with .env copied from
// .env.example, `check` (run first, with the API's own settings) refuses
// the placeholders, so neither migrate nor api starts; migrate
// --runtime-role refuses a placeholder DB_PASSWORD too; real values pass.
func TestComposeStopsHalfConfigured(t *testing.T) {
	services := loadCompose(t)
	check, migrate, api := services["check"], services["migrate"], services["api"]
	if !slices.Equal(check.Command, []string{"serve", "--check-config"}) {
		t.Fatalf("check runs %v", check.Command)
	}
	if fmt.Sprint(check.Environment) != fmt.Sprint(api.Environment) || check.EnvFile == nil || api.EnvFile == nil {
		t.Fatal("check does not see the API's settings")
	}
	for svc, deps := range map[string][]string{"migrate": {"check"}, "api": {"check", "migrate"}} {
		for _, dep := range deps {
			if c := services[svc].DependsOn[dep].Condition; c != "service_completed_successfully" {
				t.Errorf("%s waits for %s with condition %q, want service_completed_successfully", svc, dep, c)
			}
		}
	}

	example, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // the container has no .env of its own
	runIn := func(svc composeService, dotenv map[string]string) (string, error) {
		env, err := containerEnv(svc, dotenv)
		if err != nil {
			return "", err
		}
		var out bytes.Buffer
		err = dispatch(context.Background(), svc.Command, apitest.Env(env).Getenv, strings.NewReader(""), &out, io.Discard)
		return out.String(), err
	}

	// Missing: compose itself refuses, naming the variable.
	for _, name := range []string{"SECRET_KEY", "DB_PASSWORD"} {
		dotenv := dotenvMap(t, string(example))
		delete(dotenv, name)
		for svcName, svc := range map[string]composeService{"check": check, "api": api} {
			if _, err := containerEnv(svc, dotenv); err == nil || !strings.Contains(err.Error(), "set "+name+" in .env") {
				t.Errorf("%s with no %s: %v", svcName, name, err)
			}
		}
	}

	// The example's placeholders: check and migrate refuse.
	dotenv := dotenvMap(t, string(example))
	_, err = runIn(check, dotenv)
	if err == nil || !strings.Contains(err.Error(), "SECRET_KEY") || !strings.Contains(err.Error(), "DB_PASSWORD") {
		t.Errorf("check with the example's values: %v, want SECRET_KEY and DB_PASSWORD refused", err)
	}
	migrateCmd, err := interpolateAll(migrate.Command, dotenv)
	if err != nil {
		t.Fatal(err)
	}
	migrate.Command = migrateCmd
	if _, err := runIn(migrate, dotenv); err == nil || !strings.Contains(err.Error(), "DB_PASSWORD is the example's placeholder") {
		t.Errorf("migrate --runtime-role with the example's DB_PASSWORD: %v", err)
	}

	// Real values pass the check.
	dotenv["SECRET_KEY"], dotenv["DB_PASSWORD"] = randomSecret(32), randomSecret(16)
	if out, err := runIn(check, dotenv); err != nil || !strings.Contains(out, "the settings are good") {
		t.Errorf("check with real values: %q, %v", out, err)
	}
}

func interpolateAll(args []string, vars map[string]string) ([]string, error) {
	out := make([]string, len(args))
	for i, a := range args {
		var err error
		if out[i], err = interpolate(a, vars); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// TestComposeKeepsTheSuperuserPasswordFromTheAPI: the API container's
// environment blanks the superuser's secrets and builds no URL from a
// password; the migration reads the superuser's password from PGPASSWORD.
func TestComposeKeepsTheSuperuserPasswordFromTheAPI(t *testing.T) {
	services := loadCompose(t)
	api, migrate := services["api"], services["migrate"]
	for _, name := range []string{"POSTGRES_PASSWORD", "MIGRATION_DATABASE_URL", "DATABASE_URL", "PGPASSWORD"} {
		if v, ok := api.Environment[name]; !ok || v != "" {
			t.Errorf("the api service's %s is %q, want it blanked", name, v)
		}
	}
	if !strings.HasPrefix(api.Environment["DB_PASSWORD"], "${DB_PASSWORD") {
		t.Errorf("the api service's DB_PASSWORD is %q", api.Environment["DB_PASSWORD"])
	}
	for k, v := range api.Environment {
		if strings.Contains(v, "${POSTGRES_PASSWORD") {
			t.Errorf("the api service is handed POSTGRES_PASSWORD in %s", k)
		}
	}
	if !strings.HasPrefix(migrate.Environment["PGPASSWORD"], "${POSTGRES_PASSWORD") {
		t.Error("migrate does not read the superuser's password from PGPASSWORD")
	}
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "://") && strings.Contains(line, "PASSWORD}") {
			t.Errorf("a password is pasted into a URL: %s", strings.TrimSpace(line))
		}
	}
}
