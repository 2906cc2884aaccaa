package config

import (
	"fmt"
	"strconv"
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
}

// LoadTools reads the tools' settings from getenv, else the .env file at
// dotenvPath, else the defaults, as Load does.
func LoadTools(getenv func(string) string, dotenvPath string) (Tools, error) {
	get, err := Env(getenv, dotenvPath)
	if err != nil {
		return Tools{}, fmt.Errorf("load config: %w", err)
	}
	val := lookup(get)
	return Tools{MigrationDatabaseURL: val("MIGRATION_DATABASE_URL"), DBPassword: val("DB_PASSWORD")}, nil
}

// String prints the settings with secrets masked.
func (t Tools) String() string {
	return "migration_database_url=" + strconv.Quote(redactDSN(t.MigrationDatabaseURL)) +
		" db_password=" + strconv.Quote(maskSecret(t.DBPassword))
}

// GoString masks secrets under %#v as well.
func (t Tools) GoString() string { return "config.Tools{" + t.String() + "}" }
