package main

import (
	"os"
	"runtime/debug"
	"strconv"

	"healthcare/internal/auth"
	"healthcare/internal/config"
)

// baseMemoryLimit is the Go heap and runtime memory the server needs apart
// from argon2 matrices, with room for garbage between collections.
const baseMemoryLimit = 15 << 20

// setMemoryLimit gives the Go runtime a soft memory limit unless
// GOMEMLIMIT chose one: baseMemoryLimit plus one argon2 matrix per
// concurrent login hash (LOGIN_CONCURRENCY x ARGON2_MEMORY_KIB), 22 MiB
// with the defaults on two cores.
//
// Why: the server's budget is 40 MiB resident, of which the binary's own
// pages take about 18 MiB. Under load the live heap is about 12 MiB (7 MiB
// of it the argon2 matrix), and with GOGC=100 alone the collector would
// let garbage grow to as much again, past the budget. With the limit it
// collects sooner; on a heap this small that costs little CPU
// (docs/benchmarks.md). The limit follows the login settings so that
// raising LOGIN_CONCURRENCY cannot make the collector run without end.
//
// It runs in main, not in a subcommand, because it is process-wide: tests
// that call the subcommands in-process keep their own runtime settings.
func setMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	hashes := config.DefaultLoginConcurrency()
	if n, err := strconv.Atoi(os.Getenv("LOGIN_CONCURRENCY")); err == nil && n > 0 {
		hashes = n
	}
	kib := int64(auth.DefaultParams.Memory)
	if n, err := strconv.ParseInt(os.Getenv("ARGON2_MEMORY_KIB"), 10, 64); err == nil && n > 0 {
		kib = n
	}
	debug.SetMemoryLimit(baseMemoryLimit + int64(hashes)*kib<<10)
}
