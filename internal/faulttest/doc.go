// Package faulttest holds the end-to-end tests that run the real
// `healthcare serve` binary as a subprocess and then do things to it or to
// its database: SIGTERM under load, stopping PostgreSQL under write load,
// slow clients, oversized headers, unsafe database roles, a migration
// version mismatch.
//
// The tests live in their own package because some stop and start the
// throwaway PostgreSQL cluster that pgtest shares among a package's tests;
// none of them runs in parallel. The package has no non-test code.
package faulttest
