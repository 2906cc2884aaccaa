package main

import (
	"os"
	"runtime/debug"

	"healthcare/internal/config"
)

// baseMemoryLimit is the Go heap and runtime memory the server needs apart
// from argon2 matrices, with room for garbage between collections.
const baseMemoryLimit = 15 << 20

// memoryLimit is the soft memory limit for a server with cfg:
// baseMemoryLimit plus one argon2 matrix per concurrent login hash
// (LOGIN_CONCURRENCY x ARGON2_MEMORY_KIB), 22 MiB with the defaults on two
// cores.
//
// Why: the server's budget is 40 MiB resident, of which the binary's own
// pages take about 18 MiB. Under load the live heap is about 12 MiB (7 MiB
// of it the argon2 matrix), and with GOGC=100 alone the collector would
// let garbage grow to as much again, past the budget. With the limit it
// collects sooner; on a heap this small that costs little CPU
// (docs/benchmarks.md). The limit follows the login settings so that
// raising LOGIN_CONCURRENCY cannot make the collector run without end.
func memoryLimit(cfg config.Config) int64 {
	return baseMemoryLimit + int64(cfg.LoginConcurrency)*int64(cfg.Argon2MemoryKiB)<<10
}

// setMemoryLimit applies memoryLimit unless GOMEMLIMIT chose a limit. main
// installs it as applyRuntimeLimits, because the limit is process-wide:
// tests that run the subcommands in-process keep their own.
func setMemoryLimit(cfg config.Config) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit(cfg))
	}
}
