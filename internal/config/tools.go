package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
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
	// AuditRetention is how long audit events are kept (AUDIT_RETENTION).
	AuditRetention time.Duration

	// The session limits `db-access` sets on the logins it makes for
	// people (HUMAN_*).
	HumanStatementTimeout         time.Duration
	HumanLockTimeout              time.Duration
	HumanIdleInTransactionTimeout time.Duration
	// HumanConnectionLimit is the CONNECTION LIMIT of each such login
	// (HUMAN_CONNECTION_LIMIT).
	HumanConnectionLimit int
	// ServerConnectionReserve is how many of the cluster's connections
	// people's logins together may never take, kept for the servers' own
	// logins (SERVER_CONNECTION_RESERVE).
	ServerConnectionReserve int
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
	var err error
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
	for _, n := range []struct {
		name     string
		to       *int
		min, max int
	}{
		{"HUMAN_CONNECTION_LIMIT", &t.HumanConnectionLimit, 1, 1000},
		{"SERVER_CONNECTION_RESERVE", &t.ServerConnectionReserve, 0, 100000},
	} {
		v, err := strconv.Atoi(val(n.name))
		if err != nil || v < n.min || v > n.max {
			errs = append(errs, fmt.Errorf("%s: want an integer %d-%d, got %q", n.name, n.min, n.max, val(n.name)))
			continue
		}
		*n.to = v
	}
	if t.AuditRetention, err = ParseAge(val("AUDIT_RETENTION")); err != nil {
		errs = append(errs, fmt.Errorf("AUDIT_RETENTION: %w", err))
	}
	return t, errors.Join(errs...)
}

// ParseAge reads an age such as 6y, 18mo, 12w, 90d or any Go duration. A
// year is 365.25 days and a month a twelfth of that, so whole months of
// partitions line up with what people mean.
func ParseAge(s string) (time.Duration, error) {
	const day = 24 * time.Hour
	units := []struct {
		suffix string
		size   time.Duration
	}{{"mo", 365 * day / 12}, {"y", 365*day + 6*time.Hour}, {"w", 7 * day}, {"d", day}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseUint(n, 10, 16)
			if err != nil || v == 0 {
				return 0, fmt.Errorf("%q: want a positive whole number before %q", s, u.suffix)
			}
			return time.Duration(v) * u.size, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q: want a positive age such as 6y, 18mo, 12w, 90d or 720h", s)
	}
	return d, nil
}

// FormatAge writes d as ParseAge reads it, in the largest unit that holds
// it exactly (6y, 18mo, 2w, 90d), else as a Go duration; ParseAge of the
// result is d again.
func FormatAge(d time.Duration) string {
	const day = 24 * time.Hour
	for _, u := range []struct {
		suffix string
		size   time.Duration
	}{{"y", 365*day + 6*time.Hour}, {"mo", 365 * day / 12}, {"w", 7 * day}, {"d", day}} {
		if d > 0 && d%u.size == 0 && d/u.size <= 65535 {
			return strconv.FormatInt(int64(d/u.size), 10) + u.suffix
		}
	}
	return d.String()
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
