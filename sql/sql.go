// Package sql holds the database half of the product: the tern migrations
// that create the roles, tables, row-level security policies and the api and
// reporting schemas. They are embedded so the binary, the tests and the tern
// CLI (see tern.conf) all apply exactly the same bytes.
package sql

import "embed"

// Migrations contains migrations/NNN_name.sql in tern's format.
//
//go:embed migrations/*.sql
var Migrations embed.FS
