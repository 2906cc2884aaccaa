package config

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Env returns a getenv that answers from getenv first and, for a variable
// getenv reports empty, from the .env file at dotenvPath (when the path is
// not empty and the file exists). It is the one reader of .env files:
// Load and LoadTools read through it, and commands use it for the few
// variables no configuration struct holds (createsuperuser's SUPERUSER_*).
// A file that cannot be read or parsed is an error naming its line.
func Env(getenv func(string) string, dotenvPath string) (func(string) string, error) {
	file, err := readDotenv(dotenvPath)
	if err != nil {
		return nil, err
	}
	return func(name string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return file[name]
	}, nil
}

// Tools is the configuration of the administration commands (migrate,
// createsuperuser, db-access, and dev when it uses an external server).
// They never use the server's settings, so LoadTools neither reads nor
// validates those.
type Tools struct {
	// MigrationDatabaseURL is the privileged connection: a superuser, or
	// a CREATEROLE role that is a member of healthcare_owner.
	MigrationDatabaseURL string
	// DBPassword is the runtime login's password (DB_PASSWORD), which
	// `migrate --runtime-role` gives the login it creates.
	DBPassword string

	// The session limits `db-access` sets on the logins it makes for
	// people (HUMAN_*).
	HumanStatementTimeout         time.Duration
	HumanLockTimeout              time.Duration
	HumanIdleInTransactionTimeout time.Duration
}

// maxHumanTimeout is the longest HUMAN_* limit: PostgreSQL keeps them in
// milliseconds in an int, and a day is already no limit for a person.
const maxHumanTimeout = 24 * time.Hour

// DefaultTools returns the tools' settings when no variable is set.
func DefaultTools() Tools {
	t, _ := parseTools(func(string) string { return "" })
	return t
}

// LoadTools reads the tools' settings from getenv, else the .env file at
// dotenvPath, else the defaults, as Load does.
func LoadTools(getenv func(string) string, dotenvPath string) (Tools, error) {
	get, err := Env(getenv, dotenvPath)
	if err != nil {
		return Tools{}, fmt.Errorf("load config: %w", err)
	}
	t, err := parseTools(get)
	if err != nil {
		return Tools{}, fmt.Errorf("load config: %w", err)
	}
	return t, nil
}

// parseTools reads the tools' variables from get, with defaults, and
// reports every bad one.
func parseTools(get func(string) string) (Tools, error) {
	val := lookup(get)
	t := Tools{MigrationDatabaseURL: val("MIGRATION_DATABASE_URL"), DBPassword: val("DB_PASSWORD")}
	var errs []error
	for _, d := range []struct {
		name string
		to   *time.Duration
	}{
		{"HUMAN_STATEMENT_TIMEOUT", &t.HumanStatementTimeout},
		{"HUMAN_LOCK_TIMEOUT", &t.HumanLockTimeout},
		{"HUMAN_IDLE_IN_TRANSACTION_TIMEOUT", &t.HumanIdleInTransactionTimeout},
	} {
		v, err := time.ParseDuration(val(d.name))
		if err != nil || v < time.Millisecond || v > maxHumanTimeout {
			errs = append(errs, fmt.Errorf("%s: want a duration between 1ms and 24h such as 30s, got %q", d.name, val(d.name)))
			continue
		}
		*d.to = v
	}
	return t, errors.Join(errs...)
}

// String prints the settings with secrets masked.
func (t Tools) String() string {
	return "migration_database_url=" + strconv.Quote(redactDSN(t.MigrationDatabaseURL)) +
		" db_password=" + strconv.Quote(maskSecret(t.DBPassword)) +
		" human_statement_timeout=" + strconv.Quote(t.HumanStatementTimeout.String()) +
		" human_lock_timeout=" + strconv.Quote(t.HumanLockTimeout.String()) +
		" human_idle_in_transaction_timeout=" + strconv.Quote(t.HumanIdleInTransactionTimeout.String())
}

// GoString masks secrets under %#v as well.
func (t Tools) GoString() string { return "config.Tools{" + t.String() + "}" }
