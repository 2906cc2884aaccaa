package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"

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
	"serve":           {"run the REST API server", runServe},
	"migrate":         {"apply or inspect database migrations (privileged connection)", runMigrate},
	"createsuperuser": {"create an admin account", runCreateSuperuser},
	"db-access":       {"give an app user a personal psql login, or take it away", runDBAccess},
	"dev":             {"run a private PostgreSQL, seed it and serve on 127.0.0.1:8000", runDev},
	"version":         {"print the version", runVersion},
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

// run is the whole program. SIGINT and SIGTERM cancel the context, which
// is how `serve` and `dev` shut down gracefully.
func run(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
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
		usage(stderr)
		return usagef("unknown command %q", name)
	}
	return cmd.run(ctx, args[1:], getenv, stdin, stdout, stderr)
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
// has already printed it with the usage), --help flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{fs.Name() + ": " + err.Error()}
	}
	return nil
}

// envFile is the optional .env file every command reads (as config does).
const envFile = ".env"

// lookupEnv returns the variable from getenv, else from the .env file in
// the working directory, else "". internal/config reads the server's
// settings the same way; the tools use this for the few variables they
// read themselves (MIGRATION_DATABASE_URL and the superuser ones).
func lookupEnv(getenv func(string) string, name string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return dotenv(envFile)[name]
}

// dotenv reads KEY=value lines (optionally `export `-prefixed, values
// optionally quoted). Unreadable files read as empty: the file is optional.
func dotenv(path string) map[string]string {
	out := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			if v[0] == '"' {
				if u, err := strconv.Unquote(v); err == nil {
					v = u
				} else {
					v = v[1 : len(v)-1]
				}
			} else {
				v = v[1 : len(v)-1]
			}
		} else if i := strings.Index(v, " #"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		out[k] = v
	}
	return out
}

// overlay returns a getenv that answers from over first.
func overlay(getenv func(string) string, over map[string]string) func(string) string {
	return func(name string) string {
		if v, ok := over[name]; ok && v != "" {
			return v
		}
		return getenv(name)
	}
}

// privilegedURL is the connection for migrate, createsuperuser and
// db-access: --database-url, else MIGRATION_DATABASE_URL. Never the
// server's DATABASE_URL: that role must not be able to do these things.
func privilegedURL(flagURL string, getenv func(string) string) (string, error) {
	if flagURL != "" {
		return flagURL, nil
	}
	if u := lookupEnv(getenv, "MIGRATION_DATABASE_URL"); u != "" {
		return u, nil
	}
	return "", usagef("no privileged database connection: pass --database-url or set MIGRATION_DATABASE_URL "+
		"(a superuser, or a role with CREATEROLE that is a member of %s; not the server's DATABASE_URL)", dbadmin.OwnerGroup)
}
