// Command strata declares environments, builds each service once, and promotes that one
// release through the environments behind gates, with rollback, drift detection and an
// audit log. See docs/cli.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/strata-dev/strata/engine"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	// The config and outputs files handed to steps may hold secrets: none outlives the
	// process (a process that dies first is cleared by the next one, app.engine).
	if err := engine.RemoveScratch(); err != nil {
		fmt.Fprintf(os.Stderr, "strata: warning: %v\n", err)
	}
	os.Exit(code)
}
