package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
	"golang.org/x/term"

	"healthcare/internal/auth"
	"healthcare/internal/config"
	"healthcare/internal/dbadmin"
)

const createSuperuserAbout = `
Create an admin account, like Django's createsuperuser. Asked for in turn:
Username, Email address, Password, Password (again); the password is not
echoed when stdin is a terminal.

For scripts, give --username and --email (or SUPERUSER_USERNAME and
SUPERUSER_EMAIL; Django's DJANGO_SUPERUSER_* names work too) and the
password on stdin with --password-stdin or in SUPERUSER_PASSWORD, with
--no-input to fail instead of prompting.

The account is written over the privileged connection (--database-url or
MIGRATION_DATABASE_URL, else the cluster of a "healthcare dev" running from
this folder) acting as healthcare_owner: runtime roles cannot create admins.
The username and e-mail address are checked by the database before the
password is asked for.`

// superuserEnv returns SUPERUSER_<name>, else DJANGO_SUPERUSER_<name>.
func superuserEnv(getenv func(string) string, name string) string {
	if v := getenv("SUPERUSER_" + name); v != "" {
		return v
	}
	return getenv("DJANGO_SUPERUSER_" + name)
}

func runCreateSuperuser(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("createsuperuser", "[--username NAME] [--email ADDR] [--password-stdin] [--no-input] [--database-url URL]",
		createSuperuserAbout, stderr)
	username := fs.String("username", "", "username (default SUPERUSER_USERNAME)")
	email := fs.String("email", "", "email address (default SUPERUSER_EMAIL)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	noInput := fs.Bool("no-input", false, "never prompt; fail when something is missing")
	dbURL := fs.String("database-url", "", "privileged database connection (default MIGRATION_DATABASE_URL)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("createsuperuser: unexpected argument %q", fs.Arg(0))
	}
	tools, err := loadTools(ctx, *dbURL, getenv, stderr)
	if err != nil {
		return err
	}
	if getenv, err = config.Env(getenv, envFile); err != nil {
		return err
	}
	if *username == "" {
		*username = superuserEnv(getenv, "USERNAME")
	}
	if *email == "" {
		*email = superuserEnv(getenv, "EMAIL")
	}
	password := ""
	if *pwStdin {
		if password, err = readLine(bufio.NewReader(stdin)); err != nil {
			return fmt.Errorf("read password from stdin: %w", err)
		}
	} else {
		password = superuserEnv(getenv, "PASSWORD")
	}
	conn, err := pgx.Connect(ctx, tools.MigrationDatabaseURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())

	// Ask for what is still missing; the database judges the username and
	// the e-mail address before the password is asked for, and a refused
	// value is asked for again (or, without prompts, named in the error).
	in := bufio.NewReader(stdin)
	interactive := !*noInput && !*pwStdin
	ask := func(prompt string) (string, error) {
		if !interactive {
			return "", usagef("createsuperuser: %s is required (--no-input or --password-stdin given)", strings.TrimSuffix(prompt, ": "))
		}
		fmt.Fprint(stderr, prompt)
		return readLine(in)
	}
	// check returns nil when the database would accept the account so far,
	// the refusal otherwise (printed when prompting).
	check := func(field string) (bool, error) {
		err := dbadmin.CheckNewAdmin(ctx, conn, *username, *email)
		var fe *dbadmin.FieldError
		switch {
		case err == nil:
			return true, nil
		case !errors.As(err, &fe):
			return false, err
		case !interactive || fe.Field != field:
			// The message names the field itself ("a user named ...",
			// "enter a valid e-mail address ...").
			return false, usagef("createsuperuser: %s", strings.TrimSuffix(fe.Message, "."))
		}
		fmt.Fprintln(stderr, "Error:", strings.ToUpper(fe.Message[:1])+fe.Message[1:])
		return false, nil
	}
	askedEmail := *email == "" && interactive && password == ""
	for {
		for *username == "" {
			if *username, err = ask("Username: "); err != nil {
				return err
			}
			if *username == "" {
				fmt.Fprintln(stderr, "Error: This field cannot be blank.")
			}
		}
		// The e-mail address is checked with the username; an address
		// still to be asked for is empty here, which is valid.
		ok, err := check("username")
		if err != nil {
			return err
		}
		if ok {
			break
		}
		*username = ""
	}
	for askedEmail {
		if *email, err = ask("Email address: "); err != nil {
			return err
		}
		ok, err := check("email")
		if err != nil {
			return err
		}
		if ok {
			break
		}
	}
	for password == "" {
		if !interactive {
			return usagef("createsuperuser: a password is required: --password-stdin or SUPERUSER_PASSWORD")
		}
		p1, err := readPassword(stdin, in, stderr, "Password: ")
		if err != nil {
			return err
		}
		p2, err := readPassword(stdin, in, stderr, "Password (again): ")
		if err != nil {
			return err
		}
		switch {
		case p1 != p2:
			fmt.Fprintln(stderr, "Error: Your passwords didn't match.")
		case auth.ValidatePassword(p1) != nil:
			fmt.Fprintln(stderr, "Error:", auth.ValidatePassword(p1))
		default:
			password = p1
		}
	}
	if err := auth.ValidatePassword(password); err != nil {
		return err
	}

	hasher, err := auth.NewHasher(auth.DefaultParams, 1)
	if err != nil {
		return err
	}
	hash, err := hasher.Hash(ctx, password)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	id, err := dbadmin.CreateAdmin(ctx, conn, *username, *email, hash)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Superuser created successfully (id %d, username %s).\n", id, *username)
	return nil
}

// readLine reads one line without its line ending. EOF before any input
// is an error (a closed stdin must not loop forever on prompts).
func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("unexpected end of input")
		}
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// readPassword prompts and reads a password, without echo when stdin is
// a terminal.
func readPassword(stdin io.Reader, buf *bufio.Reader, stderr io.Writer, prompt string) (string, error) {
	fmt.Fprint(stderr, prompt)
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return string(b), nil
	}
	return readLine(buf)
}
