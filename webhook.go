package strata

import (
	"context"
	"time"
)

// Webhook delivery states. A delivery is pending until a receiver answers it with a 2xx
// (delivered), it has been tried WebhookTries times (failed), or the webhook it is for is no
// longer in strata.yaml (dropped).
const (
	WebhookPending   = "pending"
	WebhookDelivered = "delivered"
	WebhookFailed    = "failed"
	WebhookDropped   = "dropped"
)

// WebhookEvents are the events a webhook may be told, the names `notify: [{events: [...]}]`
// takes: a promotion waiting, succeeded, failed or rolled back; a deployment's health check
// failing or passing again after it was made; a runtime flag change; a group switch or
// failover that ended.
var WebhookEvents = []string{"waiting", "succeeded", "failed", "rolled_back", "unhealthy", "recovered", "flag", "switch"}

// WebhookDelivery is one audit event announced to one webhook. The audit log is the outbox:
// the event is committed with the change it records, and a delivery of it is made for each
// webhook that wants it, so a crash between a change and its announcement loses nothing.
type WebhookDelivery struct {
	// Seq is the audit event's.
	Seq int64 `json:"seq"`
	// Hook names the webhook by a hash of its URL (WebhookID): the URL, which for Slack and
	// others is a credential, stays in strata.yaml.
	Hook string `json:"hook"`
	// Event is what the webhook is told: one of WebhookEvents.
	Event     string    `json:"event"`
	State     string    `json:"state"`
	Tries     int       `json:"tries"`
	NextAt    time.Time `json:"next_at"`
	Error     string    `json:"error,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
	// ClaimedBy and ClaimedUntil say which process sends it now, and until when.
	ClaimedBy    string    `json:"-"`
	ClaimedUntil time.Time `json:"-"`
	// Source is the audit event it announces.
	Source *Event `json:"source,omitempty"`
}

// WebhookStore keeps webhook deliveries: the outbox of the audit log.
type WebhookStore interface {
	// QueueWebhooks turns the audit events appended since the last call, by any process,
	// into deliveries. For each event whose action is one of actions and which is not older
	// than since, route names the webhook event and the webhooks (WebhookID) that want it
	// ("" or none: nothing); each gets one pending delivery, due at once. The cursor moves
	// past every event looked at in the same transaction, so each event is queued once
	// however many processes call it. It returns how many deliveries it queued.
	QueueWebhooks(ctx context.Context, actions []string, since time.Time, route func(*Event) (event string, hooks []string)) (int, error)
	// ClaimWebhooks claims for owner, until until, up to limit pending deliveries due at
	// now that no other owner's claim holds past now, and returns them with their events,
	// oldest first. Of several processes that claim at once, each delivery goes to one.
	ClaimWebhooks(ctx context.Context, owner string, now, until time.Time, limit int) ([]*WebhookDelivery, error)
	// FinishWebhook writes the outcome of a delivery owner claimed (state, tries, next
	// try, error) and releases the claim. ECONFLICT when owner no longer holds it.
	FinishWebhook(ctx context.Context, owner string, d *WebhookDelivery) error
	// WebhookDeliveries returns the newest limit deliveries, newest first, with their
	// events.
	WebhookDeliveries(ctx context.Context, limit int) ([]*WebhookDelivery, error)
	// CountWebhooks counts deliveries by state; a state no delivery is in is absent.
	CountWebhooks(ctx context.Context) (map[string]int, error)
}
