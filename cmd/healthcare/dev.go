package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"healthcare/internal/config"
	"healthcare/internal/database"
	"healthcare/internal/dbadmin"
	"healthcare/internal/pgcluster"
)

const devAbout = `
Run everything a developer needs with one command.

By default dev runs a private PostgreSQL cluster in --data (initdb on first
run, from the installed server binaries; as root the server runs as the
postgres system user), listening on a private Unix socket and on a free
127.0.0.1 port (password authentication on TCP). It migrates, creates the
server's runtime login healthcare_app, and on the FIRST run seeds a demo
admin, two demo users (alice, bob), doctors, patients and mappings, the
account drrao linked to Dr. Asha Rao's doctor record (the care view:
GET /api/care/patients/), psql logins linked to alice and to drrao, and a
reporting login. Generated passwords and a
dev SECRET_KEY are kept in the data folder (mode 0600) and printed on every
run, with psql command lines for the three doors. Then it serves the API on
--addr (default HTTP_ADDR, else 127.0.0.1:8000); the port is checked before
anything is created. Ctrl-C, SIGTERM or closing the terminal (SIGHUP) stop
the server, then the cluster; the next run reuses the data. A cluster left
running by a dev that was killed is stopped and started again.

While dev runs it holds --data (a lock the system releases when dev ends,
however it ends): a second dev, or dev --reset, on the same folder refuses
in one line naming the running dev's PID and address.

While dev runs, the tools (migrate, createsuperuser, db-access) run from the
same folder find its cluster on their own: dev keeps the privileged URL in
the data folder (mode 0600) and removes it when it stops.

.env does not change what dev is: its DATABASE_URL, DB_* and
MIGRATION_DATABASE_URL are for serve and the tools. dev uses another
database server only when told so on the command line (--database-url,
with --migration-database-url or MIGRATION_DATABASE_URL to migrate and seed
it) or by DATABASE_URL set in the environment itself. SECRET_KEY from the
environment or .env is used only when it is a good key (not the example's
placeholder); otherwise dev uses its own. dev prints where each setting
came from.`

// Names of the demo accounts and logins. Role names are cluster-wide,
// which is fine for a private cluster.
const (
	devDatabase     = "healthcare"
	devAppRole      = dbadmin.AppLogin
	devAdmin        = "admin"
	devUserA        = "alice"
	devUserB        = "bob"
	devLinkedLogin  = "alice"   // psql login linked to app user alice
	devDoctorUser   = "drrao"   // app user linked to the doctor record of Dr. Asha Rao
	devDoctorLogin  = "drrao"   // psql login linked to app user drrao
	devReportLogin  = "analyst" // member of dbadmin.ReportingGroup
	devStateFile    = "healthcare-dev.json"
	devServiceFile  = "pg_service.conf"
	devDefaultAddr  = "127.0.0.1:8000"
	devDefaultData  = ".data/postgres"
	devStartTimeout = 90 * time.Second
	// devURLFile holds the privileged URL of the running cluster, for the
	// tools run from the same folder (loadTools); removed when dev stops.
	devURLFile = "privileged-url"
)

// devState is what dev keeps between runs, in the data folder (0600).
type devState struct {
	SecretKey      string `json:"secret_key"`
	AppPassword    string `json:"app_password"`
	AdminPassword  string `json:"admin_password"`
	AlicePassword  string `json:"alice_password"`
	BobPassword    string `json:"bob_password"`
	LinkedPassword string `json:"linked_login_password"`
	DrraoPassword  string `json:"drrao_password"`
	DrraoLinked    string `json:"drrao_login_password"`
	// CareSeeded: drrao was seeded (dev data made before care teams has
	// no doctor account; `dev --reset` makes one).
	CareSeeded      bool   `json:"care_seeded,omitempty"`
	ReportPassword  string `json:"reporting_login_password"`
	PostgresPort    int    `json:"postgres_port,omitempty"`
	Seeded          bool   `json:"seeded"`
	SuperuserSecret string `json:"superuser_password,omitempty"`
}

func randomSecret(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

func loadDevState(dir string) (*devState, error) {
	st := &devState{}
	b, err := os.ReadFile(filepath.Join(dir, devStateFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(b, st); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, devStateFile), err)
		}
	}
	fill := func(p *string, n int) {
		if *p == "" {
			*p = randomSecret(n)
		}
	}
	fill(&st.SecretKey, 32)
	fill(&st.AppPassword, 12)
	fill(&st.AdminPassword, 8)
	fill(&st.AlicePassword, 8)
	fill(&st.BobPassword, 8)
	fill(&st.LinkedPassword, 8)
	fill(&st.DrraoPassword, 8)
	fill(&st.DrraoLinked, 8)
	fill(&st.ReportPassword, 8)
	fill(&st.SuperuserSecret, 12)
	return st, nil
}

func (st *devState) save(dir string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writePrivate(filepath.Join(dir, devStateFile), append(b, '\n'))
}

// writePrivate writes a file only its owner can read.
func writePrivate(name string, data []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// devSettings says where dev's database settings come from.
type devSettings struct {
	appURL, appFrom   string // empty appURL: the private cluster
	migrationURL      string
	migrationFrom     string
	addr, addrFrom    string
	secretKey         string // empty: the stored one
	secretFrom        string
	ignoredFromDotenv []string
}

// devSources decides dev's settings from its flags, the environment and
// .env. Only the command line or DATABASE_URL set in the environment itself
// send dev to another server; .env never does.
func devSources(getenv func(string) string, flagDB, flagMigration, flagAddr string) (devSettings, error) {
	var s devSettings
	dotenv, err := config.Env(func(string) string { return "" }, envFile)
	if err != nil {
		return s, err
	}
	from := func(name string) (string, string) {
		if v := getenv(name); v != "" {
			return v, name + " from the environment"
		}
		if v := dotenv(name); v != "" {
			return v, name + " from " + envFile
		}
		return "", ""
	}
	switch {
	case flagDB != "":
		s.appURL, s.appFrom = flagDB, "--database-url"
	case getenv("DATABASE_URL") != "":
		s.appURL, s.appFrom = getenv("DATABASE_URL"), "DATABASE_URL from the environment"
	}
	if s.appURL != "" {
		if flagMigration != "" {
			s.migrationURL, s.migrationFrom = flagMigration, "--migration-database-url"
		} else {
			s.migrationURL, s.migrationFrom = from("MIGRATION_DATABASE_URL")
		}
	} else {
		for _, v := range config.Variables() {
			if v.Name == "DATABASE_URL" || v.Name == "MIGRATION_DATABASE_URL" || v.Name == "DB_NAME" || v.Name == "DB_USER" ||
				v.Name == "DB_PASSWORD" || v.Name == "DB_HOST" || v.Name == "DB_PORT" {
				if getenv(v.Name) != "" || dotenv(v.Name) != "" {
					s.ignoredFromDotenv = append(s.ignoredFromDotenv, v.Name)
				}
			}
		}
	}
	switch {
	case flagAddr != "":
		s.addr, s.addrFrom = flagAddr, "--addr"
	default:
		if s.addr, s.addrFrom = from("HTTP_ADDR"); s.addr == "" {
			s.addr, s.addrFrom = devDefaultAddr, "the default"
		}
	}
	key, keyFrom := from("SECRET_KEY")
	switch {
	case key == "":
		s.secretFrom = "dev's own (SECRET_KEY is not set)"
	case config.CheckSecretKey(key) != nil:
		s.secretFrom = fmt.Sprintf("dev's own (%s is not used: %v)", keyFrom, config.CheckSecretKey(key))
	default:
		s.secretKey, s.secretFrom = key, keyFrom
	}
	return s, nil
}

// print says where each setting came from, one line each.
func (s devSettings) print(w io.Writer, dataDir string) {
	if s.appURL == "" {
		fmt.Fprintf(w, "dev: database: the private cluster in %s (no --database-url, no DATABASE_URL in the environment)\n", dataDir)
		if len(s.ignoredFromDotenv) > 0 {
			fmt.Fprintf(w, "dev: not used by dev: %s (they are for serve and the tools)\n", strings.Join(s.ignoredFromDotenv, ", "))
		}
	} else {
		fmt.Fprintf(w, "dev: database: %s\n", s.appFrom)
		if s.migrationFrom != "" {
			fmt.Fprintf(w, "dev: migrations and seed: %s\n", s.migrationFrom)
		}
	}
	fmt.Fprintf(w, "dev: listen address %s: %s\n", s.addr, s.addrFrom)
	fmt.Fprintf(w, "dev: SECRET_KEY: %s\n", s.secretFrom)
}

// checkPortFree fails when addr cannot be listened on, before dev creates
// anything. Port 0 (any free port) is always fine.
func checkPortFree(addr string) error {
	if _, port, err := net.SplitHostPort(addr); err == nil && port == "0" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("dev: cannot listen on %s (%v): is another server (or another dev) using it? "+
			"Stop it, or choose another address with --addr or HTTP_ADDR", addr, err)
	}
	return ln.Close()
}

func runDev(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("dev", "[--data DIR] [--addr host:port] [--reset [--yes]] [--database-url URL [--migration-database-url URL]]", devAbout, stderr)
	dataDir := fs.String("data", devDefaultData, "folder of the private cluster and the generated credentials")
	addr := fs.String("addr", "", "HTTP listen address (default HTTP_ADDR, else "+devDefaultAddr+")")
	reset := fs.Bool("reset", false, "stop and delete the private cluster in --data (after asking) and start from an empty one")
	yes := fs.Bool("yes", false, "with --reset: do not ask")
	dbURL := fs.String("database-url", "", "serve from this database server instead of a private cluster (the runtime login's URL)")
	migURL := fs.String("migration-database-url", "", "with --database-url: the privileged URL to migrate and seed it (default MIGRATION_DATABASE_URL)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("dev: unexpected argument %q", fs.Arg(0))
	}
	dir, err := filepath.Abs(*dataDir)
	if err != nil {
		return err
	}
	settings, err := devSources(getenv, *dbURL, *migURL, *addr)
	if err != nil {
		return err
	}
	// A folder another dev holds is refused first, in one line, before
	// anything else is said or checked.
	if err := checkDevDataFree(dir); err != nil {
		return devBusy(err, *reset)
	}
	settings.print(stderr, dir)
	if err := checkPortFree(settings.addr); err != nil {
		return err
	}
	if *reset {
		if err := devReset(dir, *yes, stdin, stderr); err != nil {
			return err
		}
	}
	// From here until it returns, after its cluster has stopped, this dev
	// holds the folder.
	lk, err := lockDevData(dir, true)
	if err != nil {
		return devBusy(err, *reset)
	}
	defer lk.release()
	if settings.appURL != "" {
		return devExternal(ctx, dir, lk, settings, getenv, stdout, stderr)
	}

	st, err := loadDevState(dir)
	if err != nil {
		return err
	}
	tools, err := config.LoadTools(getenv, envFile)
	if err != nil {
		return err
	}
	cluster, err := pgcluster.New(pgcluster.Options{
		DataDir:           dir,
		ListenAddress:     "127.0.0.1",
		Port:              st.PostgresPort,
		SuperuserPassword: st.SuperuserSecret,
		StartTimeout:      devStartTimeout,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "dev: PostgreSQL binaries in %s, data in %s\n", cluster.BinDir(), dir)
	if err := cluster.Init(ctx); err != nil {
		return err
	}
	if err := lk.setOwner(settings.addr); err != nil {
		return err
	}
	if err := stopLeftover(ctx, cluster, stderr); err != nil {
		return err
	}
	if err := cluster.Start(ctx); err != nil && st.PostgresPort != 0 {
		// The remembered port may have been taken meanwhile: pick another.
		fmt.Fprintf(stderr, "dev: could not start on port %d, trying a free one: %v\n", st.PostgresPort, err)
		st.PostgresPort = 0
		if cluster, err = pgcluster.New(pgcluster.Options{DataDir: dir, ListenAddress: "127.0.0.1",
			SuperuserPassword: st.SuperuserSecret, StartTimeout: devStartTimeout}); err != nil {
			return err
		}
		err = cluster.Start(ctx)
		if err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	urlFile := filepath.Join(dir, devURLFile)
	defer func() {
		_ = os.Remove(urlFile)
		fmt.Fprintln(stderr, "dev: stopping PostgreSQL")
		sctx, cancel := context.WithTimeout(context.Background(), devStartTimeout)
		defer cancel()
		if err := cluster.Close(sctx); err != nil {
			fmt.Fprintln(stderr, "dev:", err)
		}
	}()
	st.PostgresPort = cluster.Port()
	if err := st.save(dir); err != nil {
		return err
	}

	// Create the database on first run.
	if err := createDatabase(ctx, cluster.URL("postgres"), devDatabase); err != nil {
		return err
	}
	superURL := cluster.URL(devDatabase)
	appURL := cluster.TCPURL(devDatabase, devAppRole, st.AppPassword)
	if err := devPrepare(ctx, superURL, appURL, st, dir, dbadmin.HumanLimits(tools), stderr); err != nil {
		if errors.Is(err, database.ErrPredatesMigrations) {
			return fmt.Errorf("this dev database predates the current migrations: delete %s or run `healthcare dev --reset`", dir)
		}
		return err
	}
	if err := writePrivate(urlFile, []byte(superURL+"\n")); err != nil {
		return err
	}
	doors := devDoors{
		admin:     fmt.Sprintf("psql -h %s -p %d -U %s %s", cluster.SocketDir(), cluster.Port(), pgcluster.Superuser, devDatabase),
		host:      "127.0.0.1",
		port:      cluster.Port(),
		superHint: "the socket is trusted for the local owner of the data folder (and root)",
		migration: superURL,
	}
	if err := writeServiceFile(dir, doors, st); err != nil {
		return err
	}
	return devServe(ctx, getenv, settings, appURL, st, dir, lk, doors, stdout, stderr)
}

// devBusy is the one-line refusal of a folder another dev holds.
func devBusy(err error, reset bool) error {
	var busy *devBusyError
	switch {
	case !errors.As(err, &busy):
		return err
	case reset:
		return fmt.Errorf("dev --reset: %w: stop that dev first (Ctrl-C in its terminal); nothing deleted", err)
	}
	return fmt.Errorf("dev: %w: stop that dev first (Ctrl-C in its terminal), or give this one another --data", err)
}

// devDoors says how to reach the database for the printed psql lines.
type devDoors struct {
	admin     string // the full psql command as the administrator
	host      string
	port      int
	superHint string
	migration string // the privileged URL to paste as MIGRATION_DATABASE_URL
}

// devExternal is dev against a server named on the command line or by
// DATABASE_URL in the environment.
func devExternal(ctx context.Context, dir string, lk *devLock, settings devSettings, getenv func(string) string, stdout, stderr io.Writer) error {
	if err := lk.setOwner(settings.addr); err != nil {
		return err
	}
	st, err := loadDevState(dir)
	if err != nil {
		return err
	}
	superURL := settings.migrationURL
	if superURL == "" {
		return errors.New("dev: --database-url or DATABASE_URL in the environment sends dev to another server; " +
			"give --migration-database-url or MIGRATION_DATABASE_URL (privileged) so dev can migrate and seed it, " +
			"or leave both out to run a private cluster")
	}
	pc, err := pgconn.ParseConfig(settings.appURL)
	if err != nil {
		return fmt.Errorf("%s: %w", settings.appFrom, err)
	}
	fmt.Fprintf(stderr, "dev: using the database server at %s:%d\n", pc.Host, pc.Port)
	tools, err := config.LoadTools(getenv, envFile)
	if err != nil {
		return err
	}
	if err := devPrepareExternal(ctx, superURL, settings.appURL, st, dir, dbadmin.HumanLimits(tools), stderr); err != nil {
		return err
	}
	doors := devDoors{admin: "psql \"$MIGRATION_DATABASE_URL\"", host: pc.Host, port: int(pc.Port), superHint: "your privileged connection"}
	dbName := pc.Database
	if err := writeServiceFileDB(dir, doors, st, dbName); err != nil {
		return err
	}
	return devServe(ctx, getenv, settings, settings.appURL, st, dir, lk, doors, stdout, stderr)
}

func devServe(ctx context.Context, getenv func(string) string, settings devSettings, appURL string, st *devState, dir string, lk *devLock, doors devDoors, stdout, stderr io.Writer) error {
	// The server's other settings come from the environment and .env as
	// for serve; the database, address and key are dev's.
	key := settings.secretKey
	if key == "" {
		key = st.SecretKey
	}
	rawGetenv := getenv
	getenv, err := config.Env(getenv, envFile)
	if err != nil {
		return err
	}
	over := map[string]string{"DATABASE_URL": appURL, "HTTP_ADDR": settings.addr, "SECRET_KEY": key}
	// No load balancer to drain: Ctrl-C stops at once unless the
	// environment itself asks otherwise (.env's value is for serve).
	if rawGetenv("SHUTDOWN_DRAIN") == "" {
		over["SHUTDOWN_DRAIN"] = "0s"
	}
	cfg, err := config.Load(overlay(getenv, over), "")
	if err != nil {
		return err
	}
	return serve(ctx, cfg, stderr, func(bound string) {
		if err := lk.setOwner(bound); err != nil {
			fmt.Fprintln(stderr, "dev:", err)
		}
		printBanner(stdout, bound, dir, doors, st)
	})
}

func printBanner(w io.Writer, bound, dir string, doors devDoors, st *devState) {
	svc := filepath.Join(dir, devServiceFile)
	rel := svc
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, svc); err == nil && !strings.HasPrefix(r, "..") {
			rel = r
		}
	}
	careAccount, careDoor := "", ""
	if st.CareSeeded {
		careAccount = fmt.Sprintf("  drrao  %-10s password %s   (Dr. Asha Rao's account: GET /api/care/patients/)\n", "", st.DrraoPassword)
		careDoor = fmt.Sprintf("  psql drrao PGSERVICEFILE=%s psql service=drrao -c 'select * from records.care_patients;'\n"+
			"             (login %q linked to app user drrao, password %s: the patients mapped to Dr. Asha Rao, read-only)\n",
			rel, devDoctorLogin, st.DrraoLinked)
	}
	fmt.Fprintf(w, `
Healthcare API (dev) is running at http://%s/   (Ctrl-C stops it)
  API reference:    http://%s/api/docs/   (try any route in the browser)
  OpenAPI document: http://%s/api/openapi.json

Demo accounts (REST, POST /api/auth/login/):
  admin  %-10s password %s   (is_admin)
  alice  %-10s password %s
  bob    %-10s password %s
%s  Five wrong passwords lock an account out of REST for LOGIN_FAILURE_WINDOW (15m);
  to let it in at once: healthcare throttle clear --user alice   (or --address IP; audited)

The three doors, ready to paste:
  REST       curl http://%s/api/doctors/
  psql admin %s
             (superuser over the Unix socket; %s)
  psql alice PGSERVICEFILE=%s psql service=alice -c 'select api.list_patients();'
             (login %q linked to app user alice, password %s, TCP %s:%d: sees only alice's patients)
%s  reporting  PGSERVICEFILE=%s psql service=reporting -c 'select * from reporting.patients_per_specialization;'
             (login %q in healthcare_reporting, password %s: reporting views only)

Credentials are kept in %s (mode 0600).
%s`, bound, bound, bound,
		"", st.AdminPassword, "", st.AlicePassword, "", st.BobPassword, careAccount,
		bound, doors.admin, doors.superHint,
		rel, devLinkedLogin, st.LinkedPassword, doors.host, doors.port, careDoor,
		rel, devReportLogin, st.ReportPassword,
		filepath.Join(dir, devStateFile), toolsHint(doors))
}

// toolsHint says how the tools reach the cluster.
func toolsHint(doors devDoors) string {
	if doors.migration == "" {
		return ""
	}
	return fmt.Sprintf(`
The tools (healthcare migrate, createsuperuser, db-access, throttle) run from this
folder use this cluster on their own while dev runs. From elsewhere:
  export MIGRATION_DATABASE_URL='%s'
`, doors.migration)
}

// writeServiceFile writes a libpq service file with the linked and the
// reporting login, so `PGSERVICEFILE=... psql service=alice` works without
// typing passwords.
func writeServiceFile(dir string, doors devDoors, st *devState) error {
	return writeServiceFileDB(dir, doors, st, devDatabase)
}

func writeServiceFileDB(dir string, doors devDoors, st *devState, dbName string) error {
	var b strings.Builder
	b.WriteString("# Written by `healthcare dev` on every run: demo logins for psql.\n")
	logins := []struct{ name, user, pw string }{
		{"alice", devLinkedLogin, st.LinkedPassword},
		{"reporting", devReportLogin, st.ReportPassword},
	}
	if st.CareSeeded {
		logins = append(logins, struct{ name, user, pw string }{"drrao", devDoctorLogin, st.DrraoLinked})
	}
	for _, s := range logins {
		fmt.Fprintf(&b, "[%s]\nhost=%s\nport=%d\ndbname=%s\nuser=%s\npassword=%s\nsslmode=disable\n\n",
			s.name, doors.host, doors.port, dbName, s.user, s.pw)
	}
	return writePrivate(filepath.Join(dir, devServiceFile), []byte(b.String()))
}
