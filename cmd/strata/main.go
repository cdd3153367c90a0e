// Command strata declares environments, builds each service once, and promotes that one
// release through the environments behind gates, with rollback, drift detection and an
// audit log. See docs/cli.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	if os.Getenv("GOGC") == "" {
		// The heap that stays live is small (a project, a store's caches), while a promotion
		// allocates per deployment; collecting at the default doubling spent a tenth of a
		// large promotion's CPU in the collector. GOGC still overrides this.
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
