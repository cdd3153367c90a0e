package http

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
	"sync"
	"time"

	"github.com/strata-dev/strata"
)

// Promotion events a webhook receives (the names `notify: [{events: [...]}]` takes).
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
	// EventFlag announces a runtime flag change made through this server (set, rollout,
	// kill, unkill, or the approval that applied one): Environment, Flag, Actor, Value and
	// Detail say what.
	EventFlag = "flag"
)

// SignatureHeader carries "sha256=HEX": the HMAC-SHA256 of the body keyed with the
// webhook secret (STRATA_WEBHOOK_SECRET), as GitHub signs its webhooks.
const SignatureHeader = "Strata-Signature"

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
	// Flag, Actor and Value are set for flag events.
	Flag  string `json:"flag,omitempty"`
	Actor string `json:"actor,omitempty"`
	Value any    `json:"value,omitempty"`
}

// webhookTries is how many times a webhook is sent before it is given up (and logged).
const webhookTries = 3

// notifier sends webhooks in the background: a slow or dead receiver never holds up a
// deployment.
type notifier struct {
	hooks  []strata.Notify
	secret []byte
	retry  time.Duration
	log    *slog.Logger
	client *http.Client
	wg     sync.WaitGroup
}

func newNotifier(hooks []strata.Notify, secret string, retry time.Duration, log *slog.Logger) *notifier {
	if retry <= 0 {
		retry = time.Second
	}
	return &notifier{hooks: hooks, secret: []byte(secret), retry: retry, log: log, client: &http.Client{Timeout: 10 * time.Second}}
}

// Sign returns the value of SignatureHeader for body.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// promotion announces a promotion event to every hook that wants it.
func (n *notifier) promotion(p *strata.Promotion, event string) {
	if n == nil || len(n.hooks) == 0 {
		return
	}
	msg := Webhook{Event: event, Promotion: p.ID, Service: p.Service, Version: p.Version, Stage: p.Stage, State: p.State}
	msg.Text = webhookText(p, event)
	n.announce(msg)
}

// health announces that the deployment c checked, of version, became unhealthy or
// recovered.
func (n *notifier) health(c *strata.HealthCheck, version, event string) {
	if n == nil || len(n.hooks) == 0 {
		return
	}
	msg := Webhook{Event: event, Service: c.Service, Version: version, Environment: c.Environment, Deployment: c.Deployment,
		Health: c.Health, Detail: c.Detail, State: strata.Succeeded}
	msg.Text = fmt.Sprintf("%s@%s in %s passes its health check again (deployment %s)", c.Service, version, c.Environment, c.Deployment)
	if event == EventUnhealthy {
		msg.Text = fmt.Sprintf("%s@%s in %s is unhealthy: %s (deployment %s; not rolled back)", c.Service, version, c.Environment, c.Detail, c.Deployment)
	}
	n.announce(msg)
}

// announce sends msg to every hook that wants its event, in the background.
func (n *notifier) announce(msg Webhook) {
	event := msg.Event
	body, err := json.Marshal(msg)
	if err != nil {
		return
	}
	for _, h := range n.hooks {
		if len(h.Events) > 0 && !slices.Contains(h.Events, event) {
			continue
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.send(h.URL, body)
		}()
	}
}

// webhookText is the one-line, human-readable form of a promotion event.
func webhookText(p *strata.Promotion, event string) string {
	text := fmt.Sprintf("%s@%s → %s: %s (promotion %s)", p.Service, p.Version, p.Stage, event, p.ID)
	switch event {
	case EventWaiting:
		text = fmt.Sprintf("%s@%s → %s is waiting on a gate (promotion %s)", p.Service, p.Version, p.Stage, p.ID)
	case EventFailed, EventRolledBack:
		if p.Error != "" {
			text += ": " + p.Error
		}
	}
	return text
}

// send posts body to url, retrying with doubling backoff; it gives up after webhookTries.
func (n *notifier) send(target string, body []byte) {
	wait := n.retry
	for try := 1; ; try++ {
		err := n.post(target, body)
		if err == nil {
			return
		}
		if try == webhookTries {
			n.log.Warn("webhook not delivered", "url", redactURL(target), "tries", try, "err", err)
			return
		}
		time.Sleep(wait)
		wait *= 2
	}
}

func (n *notifier) post(target string, body []byte) error {
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "strata-webhook")
	if len(n.secret) > 0 {
		req.Header.Set(SignatureHeader, Sign(n.secret, body))
	}
	resp, err := n.client.Do(req)
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

// wait waits for webhooks in flight, until ctx ends.
func (n *notifier) wait(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		n.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// redactURL drops a URL's path and query, which for Slack and others is the credential.
func redactURL(u string) string {
	for i := 0; i+2 < len(u); i++ {
		if u[i] == ':' && u[i+1] == '/' && u[i+2] == '/' {
			rest := u[i+3:]
			for j := 0; j < len(rest); j++ {
				if rest[j] == '/' || rest[j] == '?' {
					return u[:i+3+j] + "/…"
				}
			}
			return u
		}
	}
	return "…"
}
