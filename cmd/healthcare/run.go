package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

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
	"serve":           {"run the REST API server", runServe},
	"migrate":         {"apply or inspect database migrations (privileged connection)", runMigrate},
	"createsuperuser": {"create an admin account", runCreateSuperuser},
	"db-access":       {"give an app user a personal psql login, or take it away", runDBAccess},
	"audit":           {"seal, verify, show or prune the audit trail", runAudit},
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
// else MIGRATION_DATABASE_URL; never the server's DATABASE_URL: that role
// must not be able to do these things.
func loadTools(flagURL string, getenv func(string) string) (config.Tools, error) {
	tools, err := config.LoadTools(getenv, envFile)
	if err != nil {
		return config.Tools{}, err
	}
	if flagURL != "" {
		tools.MigrationDatabaseURL = flagURL
	}
	if tools.MigrationDatabaseURL == "" {
		return config.Tools{}, usagef("no privileged database connection: pass --database-url or set MIGRATION_DATABASE_URL "+
			"(a superuser, or a role with CREATEROLE that is a member of %s; not the server's DATABASE_URL)", dbadmin.OwnerGroup)
	}
	return tools, nil
}
