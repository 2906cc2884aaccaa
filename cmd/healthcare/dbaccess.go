package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"
)

const dbAccessAbout = `
Give an app user a personal PostgreSQL login (the psql door), or take it
away. The login sees exactly what the user sees over REST: the same
row-level security policies apply, and setting app.user_id changes nothing.

  grant  --user USERNAME --role LOGINROLE [--password-stdin]
         Creates LOGINROLE (LOGIN, member of healthcare_user and nothing
         else) when it does not exist, and links it to USERNAME. The
         password, if given, is sent as a SCRAM verifier, never in clear.
  revoke --user USERNAME [--drop-role]
         Unlinks the user's login; --drop-role also drops the role.

Uses the privileged connection (--database-url or MIGRATION_DATABASE_URL).`

func runDBAccess(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs := newFlagSet("db-access", "grant|revoke [flags]", dbAccessAbout, stderr)
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		fs.Usage()
		return usagef("db-access: say grant or revoke")
	}
	action, args := args[0], args[1:]
	switch action {
	case "grant", "revoke":
	default:
		return usagef("db-access: unknown action %q (want grant or revoke)", action)
	}
	fs := newFlagSet("db-access "+action, "[flags]", dbAccessAbout, stderr)
	user := fs.String("user", "", "app username (required)")
	role := fs.String("role", "", "PostgreSQL login role to create or link (grant; required)")
	pwStdin := fs.Bool("password-stdin", false, "grant: read the login's password from the first line of stdin")
	dropRole := fs.Bool("drop-role", false, "revoke: also drop the login role")
	dbURL := fs.String("database-url", "", "privileged database connection (default MIGRATION_DATABASE_URL)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("db-access %s: unexpected argument %q", action, fs.Arg(0))
	}
	if *user == "" {
		return usagef("db-access %s: --user is required", action)
	}
	if action == "grant" && *role == "" {
		return usagef("db-access grant: --role is required")
	}
	url, err := privilegedURL(*dbURL, getenv)
	if err != nil {
		return err
	}
	password := ""
	if *pwStdin {
		if password, err = readLine(bufio.NewReader(stdin)); err != nil {
			return fmt.Errorf("read password from stdin: %w", err)
		}
		if password == "" {
			return errors.New("db-access grant: empty password on stdin")
		}
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	if action == "grant" {
		created, err := grantAccess(ctx, conn, *user, *role, password)
		if err != nil {
			return err
		}
		verb := "linked existing login"
		if created {
			verb = "created login"
		}
		fmt.Fprintf(stdout, "%s %s for user %s\n", verb, *role, *user)
		return nil
	}
	old, err := revokeAccess(ctx, conn, *user, *dropRole)
	if err != nil {
		return err
	}
	if *dropRole {
		fmt.Fprintf(stdout, "unlinked and dropped login %s of user %s\n", old, *user)
	} else {
		fmt.Fprintf(stdout, "unlinked login %s from user %s\n", old, *user)
	}
	return nil
}

// forbiddenGroups are roles a personal login must not be able to act as:
// a member of healthcare_api would have its app.user_id setting trusted
// (it could become anyone), the others own or bypass the policies.
var forbiddenGroups = []string{"healthcare_api", "healthcare_owner", "healthcare_auth", "healthcare_reporter"}

// grantAccess creates (or checks) the login role and links it to the user,
// in one transaction. It reports whether the role was created.
func grantAccess(ctx context.Context, conn *pgx.Conn, username, role, password string) (created bool, err error) {
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		var exists, unsafe bool
		err := tx.QueryRow(ctx, `
			select true,
			       r.rolsuper or r.rolbypassrls or r.rolcreaterole or
			       exists (select from unnest($2::text[]) g(name)
			                where pg_catalog.pg_has_role(r.oid, g.name, 'MEMBER'))
			  from pg_catalog.pg_roles r where r.rolname = $1`, role, forbiddenGroups).Scan(&exists, &unsafe)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("look up role %s: %w", role, err)
		}
		if unsafe {
			return fmt.Errorf("role %s is a superuser, has BYPASSRLS or CREATEROLE, or is a member of one of %s: it cannot be a personal login",
				role, strings.Join(forbiddenGroups, ", "))
		}
		ident := pgx.Identifier{role}.Sanitize()
		if !exists {
			stmt := "create role " + ident + " login nosuperuser nocreatedb nocreaterole nobypassrls in role healthcare_user"
			if password != "" {
				v, err := scramVerifier(password)
				if err != nil {
					return err
				}
				stmt += " password '" + v + "'"
			}
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("create role %s: %w", role, err)
			}
			created = true
		} else {
			if _, err := tx.Exec(ctx, "grant healthcare_user to "+ident); err != nil {
				return fmt.Errorf("grant healthcare_user to %s: %w", role, err)
			}
			if password != "" {
				v, err := scramVerifier(password)
				if err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, "alter role "+ident+" login password '"+v+"'"); err != nil {
					return fmt.Errorf("set password of %s: %w", role, err)
				}
			}
		}
		if _, err := tx.Exec(ctx, "set local role healthcare_owner"); err != nil {
			return fmt.Errorf("act as healthcare_owner: %w", err)
		}
		tag, err := tx.Exec(ctx, `update app.users set db_role = $2 where lower(username) = lower($1)`, username, role)
		if err != nil {
			if strings.Contains(err.Error(), "users_db_role_key") {
				return fmt.Errorf("login %s is already linked to another user", role)
			}
			return fmt.Errorf("link %s to %s: %w", role, username, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("no user named %q", username)
		}
		return nil
	})
	return created, err
}

// revokeAccess unlinks the user's login and, with drop, drops the role.
// It returns the role that was linked.
func revokeAccess(ctx context.Context, conn *pgx.Conn, username string, drop bool) (string, error) {
	var role *string
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "set local role healthcare_owner"); err != nil {
			return fmt.Errorf("act as healthcare_owner: %w", err)
		}
		err := tx.QueryRow(ctx, `select db_role::text from app.users where lower(username) = lower($1)`, username).Scan(&role)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("no user named %q", username)
		}
		if err != nil {
			return err
		}
		if role == nil {
			return fmt.Errorf("user %q has no linked login", username)
		}
		if _, err := tx.Exec(ctx, `update app.users set db_role = null where lower(username) = lower($1)`, username); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "reset role"); err != nil {
			return err
		}
		if drop {
			if _, err := tx.Exec(ctx, "drop role if exists "+pgx.Identifier{*role}.Sanitize()); err != nil {
				return fmt.Errorf("drop role %s: %w", *role, err)
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("revoke: %w", err)
	}
	return *role, nil
}

// scramVerifier computes PostgreSQL's SCRAM-SHA-256 password verifier, so
// the password itself never appears in SQL text or server logs.
func scramVerifier(password string) (string, error) {
	const iterations = 4096
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", err
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	clientKey := mac(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := mac(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(storedKey[:]), b64(serverKey)), nil
}
