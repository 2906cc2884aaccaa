package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/config"
	"healthcare/internal/dbadmin"
)

// command is one subcommand. Every subcommand gets its arguments, the
// environment as a function and the standard streams, and returns an
// error, so tests call it directly without a process.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"serve":           {"run the REST API server (--check-config: only check the settings)", runServe},
	"migrate":         {"apply or inspect database migrations (privileged connection)", runMigrate},
	"createsuperuser": {"create an admin account", runCreateSuperuser},
	"db-access":       {"psql logins: grant or revoke a personal one, grant-reporting, grant-auditor (and their revoke-)", runDBAccess},
	"doctor":          {"link a doctor record to a user account (the care view), or unlink it", runDoctor},
	"audit":           {"seal, verify, show or prune the audit trail", runAudit},
	"report":          {"release: publish the reporting door's tables now (the server does it daily)", runReport},
	"import":          {"import django --from URL: copy the Django system's users and records, keeping ids and passwords", runImport},
	"user":            {"set-password, deactivate, activate, grant-admin or revoke-admin an account (audited)", runUser},
	"throttle":        {"clear a login lockout at once: clear --user NAME or --address IP (audited)", runThrottle},
	"dev":             {"run a private PostgreSQL, seed it and serve on 127.0.0.1:8000 (--reset to start empty)", runDev},
	"secret":          {"print a new random SECRET_KEY (32 bytes, hex)", runSecret},
	"version":         {"print the module version and commit", runVersion},
	"healthcheck":     {"exit 0 when the server's /healthz answers (for containers)", runHealthcheck},
}

// usageError is a mistake in the command line: exit status 2, as flag
// packages do.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// exitCode maps run's error to the process exit status.
func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		return 2
	}
	return 1
}

// stopSignals cancel run's context: SIGINT (Ctrl-C), SIGTERM, and SIGHUP
// (the terminal was closed) unless the process was started with SIGHUP
// ignored (nohup), which must stay ignored.
func stopSignals() []os.Signal {
	sigs := []os.Signal{os.Interrupt, syscall.SIGTERM}
	if !signal.Ignored(syscall.SIGHUP) {
		sigs = append(sigs, syscall.SIGHUP)
	}
	return sigs
}

// run is the whole program. A stop signal (stopSignals) cancels the
// context, which is how `serve` and `dev` shut down gracefully.
func run(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), stopSignals()...)
	defer stop()
	err := dispatch(ctx, args, getenv, stdin, stdout, stderr)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stderr, "healthcare:", err)
	}
	return err
}

func dispatch(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return usagef("no command given")
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return nil
	case "-version", "--version":
		name = "version"
	}
	cmd, ok := commands[name]
	if !ok {
		if guess := closestCommand(name); guess != "" {
			return usagef("unknown command %q: did you mean %s? (healthcare --help lists the commands)", name, guess)
		}
		usage(stderr)
		return usagef("unknown command %q", name)
	}
	return cmd.run(ctx, args[1:], getenv, stdin, stdout, stderr)
}

// closestCommand is the command a mistyped name most likely meant: the
// only one it is a prefix of, else the nearest within two edits; "" when
// none is close.
func closestCommand(name string) string {
	var prefixed []string
	for n := range commands {
		if strings.HasPrefix(n, name) && len(name) >= 2 {
			prefixed = append(prefixed, n)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	best, bestDist := "", 3
	for n := range commands {
		if d := editDistance(name, n); d < bestDist || (d == bestDist && n < best) {
			best, bestDist = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: healthcare <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-16s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run `healthcare <command> --help` for a command's flags.")
}

// newFlagSet returns a FlagSet that reports errors instead of exiting and
// prints a usage line plus the flags on --help.
func newFlagSet(name, synopsis, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: healthcare %s %s\n\n%s\n", name, synopsis, strings.TrimSpace(about))
		var any bool
		fs.VisitAll(func(*flag.Flag) { any = true })
		if any {
			fmt.Fprintln(fs.Output(), "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args; a flag error becomes a usageError (the FlagSet
// has already printed it with the usage), --help flag.ErrHelp. Flags may
// come before or after the verbs and other arguments (`migrate up
// --database-url X` and `migrate --database-url X up` are the same); after
// "--" everything is an argument. fs.Args() then holds the arguments in
// order.
func parseFlags(fs *flag.FlagSet, args []string) error {
	// The flag package prints a parse error itself, and run prints the
	// returned error again: keep only run's line (with a pointer to
	// --help), and print the flag package's output only for --help.
	out := fs.Output()
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	defer fs.SetOutput(out)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				_, _ = io.Copy(out, &buf)
				return err
			}
			return usageError{fs.Name() + ": " + err.Error() + " (healthcare " + fs.Name() + " --help lists the flags)"}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	// Leave exactly the arguments in fs.Args().
	return fs.Parse(append([]string{"--"}, positional...))
}

// takeAction finds the first of actions among args, wherever it stands
// among the flags, and returns it ("" when none) and the other arguments.
func takeAction(args, actions []string) (string, []string) {
	for i, a := range args {
		if slices.Contains(actions, a) {
			return a, append(slices.Clone(args[:i]), args[i+1:]...)
		}
	}
	return "", args
}

// envFile is the optional .env file every command reads, through
// internal/config.
const envFile = ".env"

// overlay returns a getenv that answers from over first.
func overlay(getenv func(string) string, over map[string]string) func(string) string {
	return func(name string) string {
		if v, ok := over[name]; ok && v != "" {
			return v
		}
		return getenv(name)
	}
}

// loadTools reads the tools' settings (internal/config) for migrate,
// createsuperuser and db-access. The privileged connection is --database-url,
// else MIGRATION_DATABASE_URL (environment, then .env), else the cluster of a
// `dev` running from this folder (the URL it keeps in its data folder); never
// the server's DATABASE_URL: that role must not be able to do these things.
// It prints on stderr where the connection came from.
func loadTools(ctx context.Context, flagURL string, getenv func(string) string, stderr io.Writer) (config.Tools, error) {
	tools, err := config.LoadTools(getenv, envFile)
	if err != nil {
		return config.Tools{}, err
	}
	var from string
	switch {
	case flagURL != "":
		tools.MigrationDatabaseURL, from = flagURL, "--database-url"
	case getenv("MIGRATION_DATABASE_URL") != "":
		from = "MIGRATION_DATABASE_URL from the environment"
	case tools.MigrationDatabaseURL != "" && config.CheckDatabasePassword(tools.MigrationDatabaseURL) == nil:
		from = "MIGRATION_DATABASE_URL from " + envFile
	default:
		if tools.MigrationDatabaseURL != "" {
			fmt.Fprintf(stderr, "healthcare: ignoring MIGRATION_DATABASE_URL from %s: its password is the example's placeholder\n", envFile)
			tools.MigrationDatabaseURL = ""
		}
		url, file, err := devPrivilegedURL(ctx, devDefaultData)
		if err != nil {
			return config.Tools{}, err
		}
		tools.MigrationDatabaseURL, from = url, "the running dev cluster ("+file+")"
	}
	if tools.MigrationDatabaseURL == "" {
		return config.Tools{}, usagef("no privileged database connection: pass --database-url or set MIGRATION_DATABASE_URL "+
			"(a superuser, or a role with CREATEROLE that is a member of %s; not the server's DATABASE_URL), "+
			"or run `healthcare dev` in this folder and try again", dbadmin.OwnerGroup)
	}
	fmt.Fprintf(stderr, "healthcare: privileged connection: %s\n", from)
	return tools, nil
}

// connectPrivileged connects with loadTools' privileged URL, for the
// commands that need nothing else of the tools' settings.
func connectPrivileged(ctx context.Context, flagURL string, getenv func(string) string, stderr io.Writer) (*pgx.Conn, error) {
	tools, err := loadTools(ctx, flagURL, getenv, stderr)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, tools.MigrationDatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return conn, nil
}

func runSecret(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("secret", "", "Print a new random SECRET_KEY: 32 bytes from the operating system's random source, as 64 hex digits\n"+
		"(the same as `openssl rand -hex 32`). Put it in .env or the environment:\n\n  echo \"SECRET_KEY=$(healthcare secret)\" >> .env", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("secret: unexpected argument %q", fs.Arg(0))
	}
	fmt.Fprintln(stdout, randomSecret(32))
	return nil
}
