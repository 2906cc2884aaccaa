// Package pgcluster runs a private PostgreSQL cluster with the server
// binaries installed on the machine (initdb, pg_ctl, postgres). It is what
// the tests (internal/pgtest), the `dev` command and the benchmark use when
// no database URL is given, so that a newcomer needs nothing but the
// PostgreSQL packages.
//
// The cluster is reached over a Unix socket in a short private directory,
// where connections are trusted (the directory is mode 0700, so only its
// owner and root can reach the socket). It can also listen on TCP; there
// pg_hba.conf demands scram-sha-256 passwords, because a TCP port is open to
// every local user.
//
// PostgreSQL refuses to run as root. When the calling process is root (as in
// CI), the cluster's directories are given to the `postgres` system user and
// initdb and pg_ctl run as that user.
package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Superuser is the bootstrap superuser initdb creates.
const Superuser = "postgres"

// maxSocketPath is the longest Unix socket path the kernel accepts
// (sizeof(sun_path) - 1 on Linux).
const maxSocketPath = 107

// runAsUser is the system user the server runs as when we are root.
const runAsUser = "postgres"

// Files pgcluster writes in the data directory. The settings file is
// rewritten on every Start, so options can change between runs on the same
// data; postgresql.conf only gains one include line.
const (
	settingsFile = "pgcluster.conf"
	logFile      = "server.log"
)

// debianRoot is where Debian and Ubuntu install the server binaries, one
// folder per major version; a variable so tests can point it elsewhere.
var debianRoot = "/usr/lib/postgresql"

// installHint says what to install when no server binaries are found.
const installHint = "PostgreSQL server binaries not found: install them with " +
	"`apt-get install postgresql` (Debian/Ubuntu), `dnf install postgresql-server` (Fedora/RHEL) " +
	"or `brew install postgresql@15` (macOS), or put the directory holding initdb and pg_ctl on PATH"

// FindBinDir returns the directory that holds initdb, pg_ctl and postgres:
// the one of initdb on PATH (symlinks resolved), else `pg_config --bindir`,
// else the highest-numbered /usr/lib/postgresql/*/bin (Debian keeps the
// server binaries off PATH there).
func FindBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		if dir := filepath.Dir(p); hasServerBinaries(dir) {
			return dir, nil
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); hasServerBinaries(dir) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(debianRoot, "*", "bin"))
	best, bestVersion := "", -1.0
	for _, dir := range dirs {
		v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		if err != nil || !hasServerBinaries(dir) {
			continue
		}
		if v > bestVersion {
			best, bestVersion = dir, v
		}
	}
	if best != "" {
		return best, nil
	}
	return "", errors.New(installHint)
}

func hasServerBinaries(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// Options configure a Cluster. Only DataDir is required.
type Options struct {
	// DataDir holds the cluster. It is created (mode 0700) if missing and
	// reused if it already holds a cluster (PG_VERSION present).
	DataDir string
	// SocketDir is where the server puts its Unix socket. Empty means a
	// fresh directory under os.TempDir(), made at the first Start and
	// removed by Close. It must be short:
	// the socket path is limited to 107 bytes.
	SocketDir string
	// Port is the server port, also part of the socket file name. 0 picks a
	// free loopback port at Start.
	Port int
	// ListenAddress is PostgreSQL's listen_addresses. Empty means socket
	// only; "127.0.0.1" also listens on loopback TCP, where every role must
	// authenticate with a scram-sha-256 password.
	ListenAddress string
	// SuperuserPassword, when set, is given to the postgres role at every
	// Start so TCP clients can log in as the superuser.
	SuperuserPassword string
	// Settings are extra server settings (name -> value, unquoted), for
	// example {"fsync": "off", "max_connections": "200"}.
	Settings map[string]string
	// BinDir holds initdb and pg_ctl. Empty means FindBinDir().
	BinDir string
	// StartTimeout bounds Start and Stop each; 0 means 60 seconds.
	StartTimeout time.Duration
}

// Cluster is one PostgreSQL data directory and the server running on it.
// Its methods are not safe for concurrent use.
type Cluster struct {
	opts         Options
	binDir       string
	ownSocketDir bool                // SocketDir was created by us and is removed by Stop
	port         int                 // the port of the last Start (or opts.Port)
	cred         *syscall.Credential // non-nil when we run the server as another user
	runAsHome    string
	uid, gid     int
}

// New checks opts and finds the binaries; it touches nothing on disk.
func New(opts Options) (*Cluster, error) {
	if opts.DataDir == "" {
		return nil, errors.New("pgcluster: DataDir is required")
	}
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: data dir: %w", err)
	}
	opts.DataDir = dataDir
	if opts.SocketDir != "" {
		if opts.SocketDir, err = filepath.Abs(opts.SocketDir); err != nil {
			return nil, fmt.Errorf("pgcluster: socket dir: %w", err)
		}
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("pgcluster: port %d out of range", opts.Port)
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	c := &Cluster{opts: opts, port: opts.Port, uid: os.Geteuid(), gid: os.Getegid()}
	c.binDir = opts.BinDir
	if c.binDir == "" {
		if c.binDir, err = FindBinDir(); err != nil {
			return nil, err
		}
	} else if !hasServerBinaries(c.binDir) {
		return nil, fmt.Errorf("pgcluster: %s does not hold initdb, pg_ctl and postgres; %s", c.binDir, installHint)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup(runAsUser)
		if err != nil {
			return nil, fmt.Errorf("pgcluster: running as root, and PostgreSQL refuses to run as root, "+
				"but there is no %q system user to run it as (%v); create one (`useradd --system %s`) or run as a normal user",
				runAsUser, err, runAsUser)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.uid, c.gid, c.runAsHome = uid, gid, u.HomeDir
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
	}
	return c, nil
}

// DataDir is the absolute data directory.
func (c *Cluster) DataDir() string { return c.opts.DataDir }

// SocketDir is the directory of the server's Unix socket; empty before the
// first Start when it is chosen automatically.
func (c *Cluster) SocketDir() string { return c.opts.SocketDir }

// Port is the server's port (after Start when Options.Port was 0).
func (c *Cluster) Port() int { return c.port }

// BinDir is the directory of the server binaries in use.
func (c *Cluster) BinDir() string { return c.binDir }

// LogFile is the server's log file, inside the data directory.
func (c *Cluster) LogFile() string { return filepath.Join(c.opts.DataDir, logFile) }

// URL is a connection URL for database dbname as the superuser over the
// Unix socket, where no password is needed.
func (c *Cluster) URL(dbname string) string {
	return c.SocketURL(dbname, Superuser, "")
}

// SocketURL is a connection URL for dbname as role over the Unix socket.
// password may be empty; the socket trusts every role.
func (c *Cluster) SocketURL(dbname, role, password string) string {
	q := url.Values{}
	q.Set("host", c.opts.SocketDir)
	q.Set("port", strconv.Itoa(c.port))
	q.Set("sslmode", "disable")
	return buildURL("", dbname, role, password, q)
}

// TCPURL is a connection URL for dbname as role over TCP, for clusters
// started with a ListenAddress. The role needs a password.
func (c *Cluster) TCPURL(dbname, role, password string) string {
	host := c.opts.ListenAddress
	if host == "" || host == "*" || host == "0.0.0.0" || strings.Contains(host, ",") {
		host = "127.0.0.1"
	}
	q := url.Values{}
	q.Set("sslmode", "disable")
	return buildURL(net.JoinHostPort(host, strconv.Itoa(c.port)), dbname, role, password, q)
}

func buildURL(hostport, dbname, role, password string, q url.Values) string {
	u := &url.URL{Scheme: "postgres", Host: hostport, Path: "/" + dbname, RawQuery: q.Encode()}
	if password != "" {
		u.User = url.UserPassword(role, password)
	} else {
		u.User = url.User(role)
	}
	return u.String()
}

// Init creates the data directory and runs initdb unless it already holds a
// cluster (PG_VERSION present), so data survives from one run to the next.
// The superuser is postgres, the encoding UTF8 and the locale C (byte
// order, the same on every machine).
func (c *Cluster) Init(ctx context.Context) error {
	if err := c.prepareDir(c.opts.DataDir); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(c.opts.DataDir, "PG_VERSION")); err == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*c.opts.StartTimeout)
	defer cancel()
	out, err := c.run(ctx, "initdb", "-D", c.opts.DataDir, "-U", Superuser,
		"--auth=trust", "-E", "UTF8", "--locale=C", "--no-instructions")
	if err != nil {
		return fmt.Errorf("pgcluster: initdb %s: %w\n%s", c.opts.DataDir, err, out)
	}
	conf := filepath.Join(c.opts.DataDir, "postgresql.conf")
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	_, err = fmt.Fprintf(f, "\n# Written by pgcluster on every start.\ninclude_if_exists '%s'\n", settingsFile)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pgcluster: %s: %w", conf, err)
	}
	return nil
}

// Start writes the settings and pg_hba.conf, starts the server and waits
// until it accepts connections. Call Init first.
func (c *Cluster) Start(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(c.opts.DataDir, "PG_VERSION")); err != nil {
		return fmt.Errorf("pgcluster: %s holds no cluster; call Init first", c.opts.DataDir)
	}
	if err := c.prepareSocketDir(); err != nil {
		return err
	}
	if c.port == 0 {
		// Picked once, so a restarted server keeps its URLs.
		p, err := freePort()
		if err != nil {
			return fmt.Errorf("pgcluster: pick a free port: %w", err)
		}
		c.port = p
	}
	if n := len(filepath.Join(c.opts.SocketDir, ".s.PGSQL."+strconv.Itoa(c.port))); n > maxSocketPath {
		return fmt.Errorf("pgcluster: socket path in %s would be %d bytes, over the %d-byte limit of Unix sockets; choose a shorter SocketDir",
			c.opts.SocketDir, n, maxSocketPath)
	}
	if err := c.writeConfig(); err != nil {
		return err
	}
	timeout := c.opts.StartTimeout
	ctx, cancel := context.WithTimeout(ctx, timeout+10*time.Second)
	defer cancel()
	out, err := c.run(ctx, "pg_ctl", "start", "-D", c.opts.DataDir, "-l", c.LogFile(),
		"-w", "-t", strconv.Itoa(int(timeout.Seconds())))
	if err != nil {
		return fmt.Errorf("pgcluster: start server in %s: %w\n%s\nlast lines of %s:\n%s",
			c.opts.DataDir, err, out, c.LogFile(), c.logTail(20))
	}
	if c.opts.SuperuserPassword != "" {
		if err := c.setSuperuserPassword(ctx); err != nil {
			_ = c.Stop(context.Background())
			return err
		}
	}
	return nil
}

// Stop shuts the server down with pg_ctl's fast mode (open sessions are
// rolled back), waiting at most StartTimeout. Stopping a cluster that is
// not running is not an error. The port and socket directory are kept, so
// a later Start serves the same URLs.
func (c *Cluster) Stop(ctx context.Context) error {
	if !c.Running() {
		return nil
	}
	timeout := c.opts.StartTimeout
	ctx, cancel := context.WithTimeout(ctx, timeout+10*time.Second)
	defer cancel()
	out, err := c.run(ctx, "pg_ctl", "stop", "-D", c.opts.DataDir, "-m", "fast",
		"-w", "-t", strconv.Itoa(int(timeout.Seconds())))
	if err != nil {
		return fmt.Errorf("pgcluster: stop server in %s: %w\n%s", c.opts.DataDir, err, out)
	}
	return nil
}

// Close stops the server and removes the socket directory if Start chose
// it. The data directory is left alone.
func (c *Cluster) Close(ctx context.Context) error {
	err := c.Stop(ctx)
	if c.ownSocketDir {
		if rerr := os.RemoveAll(c.opts.SocketDir); err == nil {
			err = rerr
		}
		c.opts.SocketDir, c.ownSocketDir = "", false
	}
	return err
}

// Running reports whether a server is running on the data directory.
func (c *Cluster) Running() bool {
	if _, err := os.Stat(filepath.Join(c.opts.DataDir, "postmaster.pid")); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// pg_ctl status exits 0 when running, 3 when not.
	_, err := c.run(ctx, "pg_ctl", "status", "-D", c.opts.DataDir)
	return err == nil
}

func (c *Cluster) setSuperuserPassword(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return fmt.Errorf("pgcluster: connect to set the superuser password: %w", err)
	}
	defer conn.Close(context.Background())
	lit := "'" + strings.ReplaceAll(c.opts.SuperuserPassword, "'", "''") + "'"
	if _, err := conn.Exec(ctx, "alter role "+Superuser+" password "+lit); err != nil {
		return fmt.Errorf("pgcluster: set the superuser password: %w", err)
	}
	return nil
}

// writeConfig writes the settings file and pg_hba.conf. Both are owned by
// pgcluster and rewritten on every start.
func (c *Cluster) writeConfig() error {
	settings := map[string]string{
		"port":                    strconv.Itoa(c.port),
		"listen_addresses":        c.opts.ListenAddress,
		"unix_socket_directories": c.opts.SocketDir,
		"unix_socket_permissions": "0700",
		"password_encryption":     "scram-sha-256",
	}
	for k, v := range c.opts.Settings {
		settings[k] = v
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteString("# Written by pgcluster on every start; edits are lost.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = '%s'\n", k, strings.ReplaceAll(settings[k], "'", "''"))
	}
	if err := c.writeFile(filepath.Join(c.opts.DataDir, settingsFile), b.Bytes()); err != nil {
		return err
	}
	// The socket is trusted: its directory is private (0700). TCP always
	// needs a password, because any local user can reach a port.
	hba := "# Written by pgcluster on every start; edits are lost.\n" +
		"local all all trust\n" +
		"host  all all all scram-sha-256\n"
	return c.writeFile(filepath.Join(c.opts.DataDir, "pg_hba.conf"), []byte(hba))
}

func (c *Cluster) writeFile(name string, data []byte) error {
	if err := os.WriteFile(name, data, 0o600); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if c.cred != nil {
		if err := os.Chown(name, c.uid, c.gid); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
	}
	return nil
}

// prepareDir creates dir (0700) and its missing parents (0755, so the
// server's user can pass through them), hands dir to the server's user when
// we are root, and checks that user can reach it.
func (c *Cluster) prepareDir(dir string) error {
	if err := mkdirChain(dir); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if c.cred != nil {
		fi, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && (int(st.Uid) != c.uid) {
			if err := chownTree(dir, c.uid, c.gid); err != nil {
				return fmt.Errorf("pgcluster: give %s to user %s: %w", dir, runAsUser, err)
			}
		}
		return c.checkTraversable(filepath.Dir(dir))
	}
	return nil
}

func (c *Cluster) prepareSocketDir() error {
	if c.opts.SocketDir == "" {
		dir, err := os.MkdirTemp("", "pg")
		if err != nil {
			return fmt.Errorf("pgcluster: socket dir: %w", err)
		}
		c.opts.SocketDir, c.ownSocketDir = dir, true
	}
	return c.prepareDir(c.opts.SocketDir)
}

// mkdirChain is os.MkdirAll with mode 0700 for dir itself and 0755 for the
// parents it creates (MkdirAll would give them 0700 under a 077 umask).
func mkdirChain(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		mode := os.FileMode(0o755)
		if i == 0 {
			mode = 0o700
		}
		if err := os.Mkdir(missing[i], mode); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		if err := os.Chmod(missing[i], mode); err != nil {
			return err
		}
	}
	return nil
}

func chownTree(root string, uid, gid int) error {
	return filepath.Walk(root, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}

// checkTraversable fails when the server's user cannot pass through dir and
// every directory above it; initdb would otherwise fail with a bare
// "Permission denied".
func (c *Cluster) checkTraversable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		m := fi.Mode().Perm()
		okDir := m&0o001 != 0 ||
			(int(st.Uid) == c.uid && m&0o100 != 0) ||
			(int(st.Gid) == c.gid && m&0o010 != 0)
		if !okDir {
			return fmt.Errorf("pgcluster: the server runs as user %s, which cannot enter %s (mode %04o, owner uid %d); "+
				"put the cluster elsewhere (for example under %s) or run `chmod o+x %s`",
				runAsUser, d, m, st.Uid, os.TempDir(), d)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// run runs one of the server binaries, as the server's user when we are
// root, and returns its combined output.
func (c *Cluster) run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, name), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// The postmaster is started by pg_ctl with its output sent to the log
	// file; WaitDelay guards against a child keeping our pipe open anyway.
	cmd.WaitDelay = 5 * time.Second
	cmd.Dir = "/"
	cmd.Env = c.env()
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

// env is the environment of the server binaries: ours without the PG*
// variables (PGPORT, PGDATA, ... would change what they do) and, when we
// run them as another user, with that user's HOME.
func (c *Cluster) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || (c.cred != nil && strings.HasPrefix(kv, "HOME=")) {
			continue
		}
		env = append(env, kv)
	}
	if c.cred != nil {
		env = append(env, "HOME="+c.runAsHome)
	}
	return env
}

// logTail returns the last n lines of the server log.
func (c *Cluster) logTail(n int) string {
	f, err := os.Open(c.LogFile())
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	const max = 64 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > max {
		_, _ = f.Seek(-max, io.SeekEnd)
	}
	data, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freePort asks the kernel for a free loopback TCP port. Another process
// may take it before the server binds it; Start then fails and says so.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
