// Package hatest holds the high-availability tests: they start the local
// Patroni cluster of deploy/ha/cluster (etcd, three PostgreSQL 15 nodes,
// synchronous replication, pgBackRest) and run real `healthcare serve`
// copies on it:
//
//   - reporting logins read the same published numbers on a hot standby as
//     on the primary, and nothing there can write;
//   - two server copies share login throttling and logout, also across a
//     failover;
//   - a point-in-time restore of a pgBackRest backup into a scratch cluster
//     holds exactly the rows committed before the chosen time, with the
//     roles, policies and three doors working;
//   - SIGKILL of the primary's Patroni and PostgreSQL under write load
//     through two copies answers only 2xx and 503, writes resume within
//     15 s, /readyz tells the truth and no acknowledged write is lost or
//     duplicated.
//
// They need the Debian packages patroni, etcd-server and pgbackrest, take a
// few minutes, and so sit behind the build tag `ha`: `go test ./...` skips
// them. Run them with deploy/ha/test (CI does), or by hand:
//
//	go test -tags ha -count=1 -v -timeout 10m ./internal/hatest
//
// HA_DIR=DIR runs them on a cluster already started with
// `deploy/ha/cluster up DIR` instead of a fresh one (the failover test
// kills its primary and then brings the node back).
package hatest
