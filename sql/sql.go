// Package sql holds the database half of the product: the tern migrations
// that create the roles, tables and indexes, and the definitions (functions,
// views, triggers, policies and grants) that the migrations do not repeat.
// They are embedded so the binary, the tests and the tern CLI (see
// tern.conf) all apply exactly the same bytes.
package sql

import "embed"

// Migrations contains migrations/NNN_name.sql in tern's format: what must
// happen once and in order.
//
//go:embed migrations/*.sql
var Migrations embed.FS

// Definitions contains definitions/*.sql, a tern code package
// (definitions/install.sql lists the files): the one home of every
// function, view, trigger, policy and grant of the product's schemas.
//
//go:embed definitions/*.sql
var Definitions embed.FS
