package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"healthcare/internal/auth"
	"healthcare/internal/dbadmin"
)

const userAbout = `
Administer an account, as Django's admin did:

  set-password --user NAME [--password-stdin]   a new password (asked twice, or the first line of stdin)
  deactivate   --user NAME                      no more logins; its sessions end at once
  activate     --user NAME
  grant-admin  --user NAME
  revoke-admin --user NAME

Each change is an audit event (door admin, action update, detail.change).
A new password also ends the account's sessions, as Django does. Users
imported from the Django system with a password that could not be carried
over get their new one this way.

Uses the privileged connection (--database-url or MIGRATION_DATABASE_URL,
else the cluster of a "healthcare dev" running from this folder). Flags may
come before or after the action.`

var userActions = map[string]string{
	"set-password": dbadmin.ChangeSetPassword,
	"deactivate":   dbadmin.ChangeDeactivate,
	"activate":     dbadmin.ChangeActivate,
	"grant-admin":  dbadmin.ChangeGrantAdmin,
	"revoke-admin": dbadmin.ChangeRevokeAdmin,
}

var userActionNames = []string{"set-password", "deactivate", "activate", "grant-admin", "revoke-admin"}

func runUser(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	action, args := takeAction(args, userActionNames)
	if action == "" {
		fs := newFlagSet("user", strings.Join(userActionNames, "|")+" --user NAME [flags]", userAbout, stderr)
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return usagef("user: unknown action %q (want %s)", fs.Arg(0), strings.Join(userActionNames, ", "))
		}
		fs.Usage()
		return usagef("user: say %s", strings.Join(userActionNames, ", "))
	}
	fs := newFlagSet("user "+action, "--user NAME [flags]", userAbout, stderr)
	user := fs.String("user", "", "username of the account (required)")
	pwStdin := new(bool)
	if action == "set-password" {
		pwStdin = fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	}
	dbURL := fs.String("database-url", "", "privileged database connection (default MIGRATION_DATABASE_URL, else a running dev cluster)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("user %s: unexpected argument %q", action, fs.Arg(0))
	}
	if *user == "" {
		return usagef("user %s: --user NAME is required", action)
	}
	var hash string
	if action == "set-password" {
		password, err := newPassword(stdin, stderr, *pwStdin)
		if err != nil {
			return err
		}
		hasher, err := auth.NewHasher(auth.DefaultParams, 1)
		if err != nil {
			return err
		}
		if hash, err = hasher.Hash(ctx, password); err != nil {
			return fmt.Errorf("hash password: %w", err)
		}
	}
	conn, err := connectPrivileged(ctx, *dbURL, getenv, stderr)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	c, err := dbadmin.ChangeUser(ctx, conn, *user, userActions[action], hash)
	if err != nil {
		return err
	}
	done := map[string]string{"set-password": "has a new password", "deactivate": "is deactivated", "activate": "is active",
		"grant-admin": "is an admin", "revoke-admin": "is no longer an admin"}[action]
	if !c.Changed {
		fmt.Fprintf(stdout, "user %s (id %d) %s already; nothing changed\n", c.Username, c.ID, done)
		return nil
	}
	fmt.Fprintf(stdout, "user %s (id %d) %s", c.Username, c.ID, done)
	if action == "deactivate" || action == "set-password" {
		fmt.Fprintf(stdout, "; %d sessions ended", c.SessionsEnded)
	}
	fmt.Fprintln(stdout)
	return nil
}

// newPassword reads a new password: the first line of stdin, or asked
// twice at the terminal. It must pass auth.ValidatePassword.
func newPassword(stdin io.Reader, stderr io.Writer, fromStdin bool) (string, error) {
	in := bufio.NewReader(stdin)
	var password string
	if fromStdin {
		p, err := readLine(in)
		if err != nil {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		password = p
	} else {
		p1, err := readPassword(stdin, in, stderr, "Password: ")
		if err != nil {
			return "", err
		}
		p2, err := readPassword(stdin, in, stderr, "Password (again): ")
		if err != nil {
			return "", err
		}
		if p1 != p2 {
			return "", usagef("user set-password: the passwords didn't match")
		}
		password = p1
	}
	if err := auth.ValidatePassword(password); err != nil {
		return "", usagef("user set-password: %v", err)
	}
	return password, nil
}
