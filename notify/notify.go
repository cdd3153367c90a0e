// Package notify announces what the audit log records to the webhooks of strata.yaml's
// `notify:`: a promotion that waits, succeeds, fails or is rolled back, and a deployment that
// becomes unhealthy or recovers.
//
// The audit log is the outbox. An event that announces something is committed in the same
// transaction as the change it records; a Deliverer (run by `strata serve`, and by the CLI
// at the end of a local command) turns new events into deliveries, one for each webhook that
// wants it, claims them, posts them, and records each outcome, retrying with backoff. So a
// process that dies between a change and its webhook loses nothing: the next process that
// runs a Deliverer on the store sends it. Of several processes, each delivery is claimed by
// one at a time.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strata-dev/strata"
)

// Events a webhook receives (the names `notify: [{events: [...]}]` takes).
const (
	EventWaiting    = "waiting"
	EventSucceeded  = "succeeded"
	EventFailed     = "failed"
	EventRolledBack = "rolled_back"
	// EventUnhealthy and EventRecovered announce a deployment whose health check, run again
	// by `serve` after the deployment, stopped passing or passes again. Nothing is rolled
	// back by it.
	EventUnhealthy = "unhealthy"
	EventRecovered = "recovered"
	// EventFlag announces a runtime flag change (set, rollout, kill, unkill, or the approval
	// that applied one), wherever it was made.
	EventFlag = "flag"
	// EventSwitch announces a group switch or failover that ended: which member is live now,
	// or why it is not.
	EventSwitch = "switch"
)

// Actions are the audit actions that may announce something.
var Actions = []string{"promote", "promote.auto", "promotion.succeeded", "promotion.failed", "health.unhealthy", "health.recovered",
	"flag.set", "flag.rollout", "flag.kill", "flag.unkill",
	"switch.succeeded", "switch.failed", "failover.succeeded", "failover.failed"}

// Headers of a webhook request. SignatureHeader carries "sha256=HEX": the HMAC-SHA256 of
// the body keyed with the webhook secret (STRATA_WEBHOOK_SECRET), as GitHub signs its
// webhooks. DeliveryHeader names the delivery, the same on every try of it, so that a
// receiver that got a try whose answer was lost can tell the next one is not news.
const (
	SignatureHeader = "Strata-Signature"
	DeliveryHeader  = "Strata-Delivery"
)

// Webhook is the JSON body a webhook receives. Text makes it a Slack incoming-webhook
// message as it is.
type Webhook struct {
	Event     string `json:"event"`
	Promotion string `json:"promotion"`
	Service   string `json:"service"`
	Version   string `json:"version"`
	Stage     string `json:"stage"`
	State     string `json:"state"`
	Text      string `json:"text"`
	// Environment, Deployment, Health and Detail are set for the health events (unhealthy,
	// recovered): the deployment checked, its health now, and what a failing check saw.
	Environment string `json:"environment,omitempty"`
	Deployment  string `json:"deployment,omitempty"`
	Health      string `json:"health,omitempty"`
	Detail      string `json:"detail,omitempty"`
	// Flag, Actor and Value are set for flag events: the flag, who changed it, and the
	// value it was set to (set only).
	Flag string `json:"flag,omitempty"`
	// Group and Switch are set for switch events: the group and the switch's id (Environment
	// is the member it moved to, State succeeded or failed, Actor who asked).
	Group  string `json:"group,omitempty"`
	Switch string `json:"switch,omitempty"`
	Actor  string `json:"actor,omitempty"`
	Value  any    `json:"value,omitempty"`
}

// Sign returns the value of SignatureHeader for body.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// HookID names a webhook in the store by a hash of its URL: the URL, which for Slack and
// others is a credential, never leaves strata.yaml.
func HookID(u string) string {
	h := sha256.Sum256([]byte(u))
	return hex.EncodeToString(h[:8])
}

// Defaults of a Deliverer.
const (
	// DefaultTries is how many times a delivery is tried before it is given up.
	DefaultTries = 8
	// maxWait bounds the backoff between tries.
	maxWait = 10 * time.Minute
	// postTimeout bounds one try; claimFor is how long a claim holds, longer than a try, so
	// that a process that died mid-try leaves the delivery to another soon after.
	postTimeout = 5 * time.Second
	claimFor    = 3 * postTimeout
	// batch is how many deliveries one pass claims; parallel how many it posts at once.
	batch    = 50
	parallel = 8
	// window is how old an event may be and still be announced: the first deliverer on a
	// store that had webhooks added does not announce its history.
	window = 24 * time.Hour
)

// Deliverer queues, claims and posts webhook deliveries on a store.
type Deliverer struct {
	Store strata.WebhookStore
	// Hooks are the webhooks of strata.yaml.
	Hooks []strata.Notify
	// Secret signs bodies (HMAC-SHA256); empty sends them unsigned.
	Secret []byte
	// Owner names this process in its claims (a host/pid/start-time id).
	Owner string
	// Retry is the wait after a first failed try, doubling after each; 0 means 1 second.
	Retry time.Duration
	// Tries is how many tries a delivery gets; 0 means DefaultTries.
	Tries int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Client posts; nil means one with a 5-second timeout.
	Client *http.Client
	// Log gets a line for each delivery given up; nil discards.
	Log *slog.Logger
	// Done, when set, is told of each delivery's outcome (for metrics).
	Done func(d *strata.WebhookDelivery)
}

func (d *Deliverer) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Deliverer) hook(id string) (strata.Notify, bool) {
	for _, h := range d.Hooks {
		if HookID(h.URL) == id {
			return h, true
		}
	}
	return strata.Notify{}, false
}

// Route names the webhook event an audit event announces, and the webhooks that want it.
func (d *Deliverer) Route(e *strata.Event) (string, []string) {
	event := EventOf(e)
	if event == "" {
		return "", nil
	}
	var ids []string
	for _, h := range d.Hooks {
		if len(h.Events) == 0 || slices.Contains(h.Events, event) {
			ids = append(ids, HookID(h.URL))
		}
	}
	return event, ids
}

// detail is the part of an announcing event's detail a webhook reads.
type detail struct {
	Version    string `json:"version"`
	Stage      string `json:"stage"`
	State      string `json:"state"`
	Error      string `json:"error"`
	RolledBack bool   `json:"rolled_back"`
	Detail     string `json:"detail"`
}

func detailOf(e *strata.Event) detail {
	var x detail
	_ = json.Unmarshal(e.Detail, &x) // an event without detail announces what it can
	return x
}

// EventOf is the webhook event audit event e announces, or "".
func EventOf(e *strata.Event) string {
	switch e.Action {
	case "promote", "promote.auto":
		if detailOf(e).State == strata.Waiting {
			return EventWaiting
		}
	case "promotion.succeeded":
		return EventSucceeded
	case "promotion.failed":
		if detailOf(e).RolledBack {
			return EventRolledBack
		}
		return EventFailed
	case "health.unhealthy":
		return EventUnhealthy
	case "health.recovered":
		return EventRecovered
	case "flag.set", "flag.rollout", "flag.kill", "flag.unkill":
		return EventFlag
	case "switch.succeeded", "switch.failed", "failover.succeeded", "failover.failed":
		return EventSwitch
	}
	return ""
}

// flagMessage is the webhook of a runtime flag change: the event's detail is the change's
// ({value, percent, reason}), or, for a change applied by the approval it waited for,
// {request, requested_by, change: {...}}.
func flagMessage(e *strata.Event) Webhook {
	var x struct {
		Value       any             `json:"value"`
		Percent     *int            `json:"percent"`
		Reason      string          `json:"reason"`
		Request     string          `json:"request"`
		RequestedBy string          `json:"requested_by"`
		Change      json.RawMessage `json:"change"`
	}
	_ = json.Unmarshal(e.Detail, &x) // an event without detail announces what it can
	if len(x.Change) > 0 {
		_ = json.Unmarshal(x.Change, &x)
	}
	what := strings.TrimPrefix(e.Action, "flag.")
	m := Webhook{Event: EventFlag, Environment: e.Environment, Flag: e.Subject, Actor: e.Actor, State: what, Value: x.Value, Detail: x.Reason}
	switch what {
	case "set":
		m.Text = fmt.Sprintf("%s set flag %s in %s to %s", e.Actor, e.Subject, e.Environment, short(x.Value))
	case "rollout":
		if x.Percent != nil {
			m.Text = fmt.Sprintf("%s rolled flag %s in %s out to %d%%", e.Actor, e.Subject, e.Environment, *x.Percent)
		}
	case "kill":
		m.Text = fmt.Sprintf("%s killed flag %s in %s (it gives its default)", e.Actor, e.Subject, e.Environment)
	case "unkill":
		m.Text = fmt.Sprintf("%s unkilled flag %s in %s", e.Actor, e.Subject, e.Environment)
	}
	if m.Text == "" {
		m.Text = fmt.Sprintf("%s changed flag %s in %s (%s)", e.Actor, e.Subject, e.Environment, what)
	}
	if x.Reason != "" {
		m.Text += ": " + x.Reason
	}
	if x.Request != "" {
		m.Text += fmt.Sprintf(" (asked by %s as %s)", x.RequestedBy, x.Request)
	}
	return m
}

// switchMessage is the webhook of a group switch or failover that ended: the event's
// detail is {group, from, to, kind, reason, error}.
func switchMessage(e *strata.Event) Webhook {
	var x struct {
		Group, From, To, Kind, Reason, Error string
	}
	_ = json.Unmarshal(e.Detail, &x) // an event without detail announces what it can
	kind, state, _ := strings.Cut(e.Action, ".")
	m := Webhook{Event: EventSwitch, Group: x.Group, Switch: e.Subject, Environment: x.To, Actor: e.Actor, State: state, Detail: x.Reason}
	if state == strata.SwitchSucceeded {
		m.Text = fmt.Sprintf("%s %s: %s is live (was %s), by %s (%s)", kind, x.Group, x.To, x.From, e.Actor, e.Subject)
	} else {
		m.Text = fmt.Sprintf("%s %s to %s failed: %s; %s is still live (%s)", kind, x.Group, x.To, x.Error, x.From, e.Subject)
		m.Detail = x.Error
	}
	if x.Reason != "" {
		m.Text += ": " + x.Reason
	}
	return m
}

// short writes a flag value for a message, cut when long.
func short(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

// Message is the webhook body that announces event of audit event e.
func Message(e *strata.Event, event string) Webhook {
	x := detailOf(e)
	switch event {
	case EventFlag:
		return flagMessage(e)
	case EventSwitch:
		return switchMessage(e)
	case EventUnhealthy, EventRecovered:
		m := Webhook{Event: event, Service: e.Service, Version: x.Version, Environment: e.Environment, Deployment: e.Subject,
			Health: strata.Healthy, Detail: x.Detail, State: strata.Succeeded}
		m.Text = fmt.Sprintf("%s@%s in %s passes its health check again (deployment %s)", e.Service, x.Version, e.Environment, e.Subject)
		if event == EventUnhealthy {
			m.Health = strata.Unhealthy
			m.Text = fmt.Sprintf("%s@%s in %s is unhealthy: %s (deployment %s; not rolled back)", e.Service, x.Version, e.Environment, x.Detail, e.Subject)
		}
		return m
	}
	m := Webhook{Event: event, Promotion: e.Subject, Service: e.Service, Version: x.Version, Stage: x.Stage}
	switch event {
	case EventWaiting:
		m.State = strata.Waiting
		m.Text = fmt.Sprintf("%s@%s → %s is waiting on a gate (promotion %s)", e.Service, x.Version, x.Stage, e.Subject)
	case EventSucceeded:
		m.State = strata.Succeeded
		m.Text = fmt.Sprintf("%s@%s → %s: succeeded (promotion %s)", e.Service, x.Version, x.Stage, e.Subject)
	default:
		m.State = strata.Failed
		m.Text = fmt.Sprintf("%s@%s → %s: %s (promotion %s)", e.Service, x.Version, x.Stage, event, e.Subject)
		if x.Error != "" {
			m.Text += ": " + x.Error
		}
	}
	return m
}

// Pass queues the deliveries of the events appended since the last pass, by any process,
// then claims the due ones and posts them, and records each outcome. It returns how many it
// delivered. A store error ends it; a receiver's failure is recorded for a later try.
func (d *Deliverer) Pass(ctx context.Context) (int, error) {
	if len(d.Hooks) == 0 {
		return 0, nil
	}
	now := d.now()
	for {
		n, err := d.Store.QueueWebhooks(ctx, Actions, now.Add(-window), d.Route)
		if err != nil {
			return 0, err
		}
		if n == 0 {
			break
		}
	}
	delivered := 0
	for {
		now := d.now()
		claimed, err := d.Store.ClaimWebhooks(ctx, d.Owner, now, now.Add(claimFor), batch)
		if err != nil {
			return delivered, err
		}
		if len(claimed) == 0 {
			return delivered, nil
		}
		var mu sync.Mutex
		var errs []error
		sem := make(chan struct{}, parallel)
		var wg sync.WaitGroup
		for _, w := range claimed {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				d.deliver(ctx, w)
				err := d.Store.FinishWebhook(context.WithoutCancel(ctx), d.Owner, w)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				if w.State == strata.WebhookDelivered {
					delivered++
				}
				if d.Done != nil {
					d.Done(w)
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return delivered, err
		}
		if len(claimed) < batch || ctx.Err() != nil {
			return delivered, ctx.Err()
		}
	}
}

// deliver makes one try of w and sets its outcome: delivered, pending with its next try,
// failed after the last try, or dropped when its webhook is no longer declared.
func (d *Deliverer) deliver(ctx context.Context, w *strata.WebhookDelivery) {
	h, ok := d.hook(w.Hook)
	if !ok {
		w.State, w.Error = strata.WebhookDropped, "the webhook is no longer in strata.yaml"
		return
	}
	w.Tries++
	err := d.post(ctx, h.URL, w)
	if err == nil {
		w.State, w.Error = strata.WebhookDelivered, ""
		return
	}
	w.Error = err.Error()
	tries := d.Tries
	if tries <= 0 {
		tries = DefaultTries
	}
	if w.Tries >= tries {
		w.State = strata.WebhookFailed
		if d.Log != nil {
			d.Log.Warn("webhook not delivered", "url", RedactURL(h.URL), "event", w.Event, "seq", w.Seq, "tries", w.Tries, "err", err)
		}
		return
	}
	wait := d.Retry
	if wait <= 0 {
		wait = time.Second
	}
	for range w.Tries - 1 {
		wait = min(2*wait, maxWait)
	}
	w.State, w.NextAt = strata.WebhookPending, d.now().Add(wait)
}

// post sends w's body to target. A Slack incoming webhook gets {"text"} alone.
func (d *Deliverer) post(ctx context.Context, target string, w *strata.WebhookDelivery) error {
	msg := Message(w.Source, w.Event)
	var body []byte
	var err error
	if IsSlack(target) {
		body, err = json.Marshal(map[string]string{"text": msg.Text})
	} else {
		body, err = json.Marshal(msg)
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, postTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return errors.New("the webhook's URL is not valid")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "strata-webhook")
	req.Header.Set(DeliveryHeader, strconv.FormatInt(w.Seq, 10)+"-"+w.Hook)
	if len(d.Secret) > 0 {
		req.Header.Set(SignatureHeader, Sign(d.Secret, body))
	}
	client := d.Client
	if client == nil {
		client = &http.Client{Timeout: postTimeout}
	}
	resp, err := client.Do(req)
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err // without the URL, which may hold a credential
	}
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}

// IsSlack reports whether u is a Slack incoming webhook, which takes {"text"} and refuses
// what it does not know.
func IsSlack(u string) bool {
	p, err := url.Parse(u)
	return err == nil && p.Hostname() == "hooks.slack.com"
}

// RedactURL drops a URL's path and query, which for Slack and others is the credential.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return "…"
	}
	if p.Path == "" && p.RawQuery == "" {
		return p.Scheme + "://" + p.Host
	}
	return p.Scheme + "://" + p.Host + "/…"
}
