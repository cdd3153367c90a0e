package http

import (
	"context"
	"time"

	"github.com/strata-dev/strata/notify"
)

// The webhook names, kept here for the API's clients: package notify defines them.
const (
	EventWaiting    = notify.EventWaiting
	EventSucceeded  = notify.EventSucceeded
	EventFailed     = notify.EventFailed
	EventRolledBack = notify.EventRolledBack
	EventUnhealthy  = notify.EventUnhealthy
	EventRecovered  = notify.EventRecovered
	EventFlag       = notify.EventFlag
	SignatureHeader = notify.SignatureHeader
	DeliveryHeader  = notify.DeliveryHeader
)

// Webhook is the JSON body a webhook receives (notify.Webhook).
type Webhook = notify.Webhook

// Sign returns the value of SignatureHeader for body.
func Sign(secret, body []byte) string { return notify.Sign(secret, body) }

// deliverEvery is how often the server looks for webhook deliveries that are due (a retry,
// or an event another process appended); the events this server appends are sent at once.
const deliverEvery = time.Second

// newDeliverer returns the server's webhook deliverer, which counts its outcomes.
func (s *Server) newDeliverer(cfg Config) *notify.Deliverer {
	return &notify.Deliverer{
		Store: s.store, Hooks: s.engine.Project.Notify, Secret: []byte(cfg.WebhookSecret),
		Owner: s.engine.Owner.ID(), Retry: cfg.WebhookRetry, Now: s.now, Log: s.log,
		Done: s.metrics.webhookDone,
	}
}

// deliverWebhooks sends the webhook deliveries of the store, by any process, until ctx
// ends: at once after nudgeWebhooks, and every deliverEvery for retries and other
// processes' events.
func (s *Server) deliverWebhooks(ctx context.Context) {
	t := time.NewTicker(deliverEvery)
	defer t.Stop()
	for {
		if _, err := s.deliver.Pass(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("webhooks", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.nudge:
		}
	}
}

// nudgeWebhooks makes the deliverer look now: this server appended an announcing event.
func (s *Server) nudgeWebhooks() {
	select {
	case s.nudge <- struct{}{}:
	default:
	}
}
