package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/strata-dev/strata/notify"
	"github.com/strata-dev/strata/step"
)

// cliDeliveryBudget bounds how long a local command spends sending webhooks when it ends:
// a receiver that is down delays the command by this at most, and what is left is sent by
// the next process on the store (a server, or the next command).
const cliDeliveryBudget = 5 * time.Second

// deliverWebhooks sends, at the end of a local command that used the store, the webhooks of
// strata.yaml's notify: that are due: the events this command appended (a promotion it ran
// that waited, succeeded or failed) and any a process before it left undelivered. A server
// on the same store may send them instead; each delivery is claimed by one.
func (a *app) deliverWebhooks(ctx context.Context) {
	if a.store == nil || a.project == nil || len(a.project.Notify) == 0 || a.client != nil || ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cliDeliveryBudget)
	defer cancel()
	d := &notify.Deliverer{
		Store: a.store, Hooks: a.project.Notify, Secret: []byte(os.Getenv("STRATA_WEBHOOK_SECRET")),
		Owner: step.Self().ID(), Now: a.now,
	}
	if _, err := d.Pass(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintf(a.stderr, "strata: warning: webhooks: %v (the next strata process on this store tries again)\n", err)
	}
}
