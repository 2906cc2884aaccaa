// Command healthcare is the healthcare records API: the REST server and the
// tools that run beside it (migrations, admin accounts, psql access, a
// one-command development environment). See `healthcare --help`.
package main

import "os"

func main() {
	applyRuntimeLimits = setMemoryLimit
	os.Exit(exitCode(run(os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)))
}
