package main_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// hookEstate sends every webhook to @HOOK@; web lands in dev by itself, prod waits for an
// approval.
const hookEstate = `project: hooks
environments:
  dev: {labels: {tier: dev}}
  prod: {labels: {tier: prod}, policy: {approvals: 1}}
services:
  web:
    deploy: "true"
pipeline:
  - stage: dev
    environments: [dev]
    auto: true
  - stage: prod
    environments: [prod]
notify:
  - @HOOK@
`

// hookReceiver is a real HTTP server standing for a team's webhook receiver. While held,
// it reads each request and never answers it (a receiver that hangs); otherwise it answers
// 200 and records the delivery.
type hookReceiver struct {
	mu        sync.Mutex
	held      bool
	heldSeen  int
	delivered []string // "DELIVERY-ID event stage"
	srv       *httptest.Server
	release   chan struct{}
}

func newHookReceiver(t *testing.T, held bool) *hookReceiver {
	rc := &hookReceiver{held: held, release: make(chan struct{})}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		if rc.held {
			rc.heldSeen++
			rc.mu.Unlock()
			select {
			case <-r.Context().Done():
			case <-rc.release:
			}
			return
		}
		defer rc.mu.Unlock()
		var m struct{ Event, Stage string }
		json.Unmarshal(body, &m)
		rc.delivered = append(rc.delivered, r.Header.Get("Strata-Delivery")+" "+m.Event+" "+m.Stage)
	}))
	t.Cleanup(func() {
		close(rc.release)
		rc.srv.Close()
	})
	return rc
}

func (rc *hookReceiver) seen() (held int, delivered []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.heldSeen, append([]string(nil), rc.delivered...)
}

func (rc *hookReceiver) answer() {
	rc.mu.Lock()
	rc.held = false
	rc.mu.Unlock()
}

func TestAWebhookLeftUndeliveredByAKilledProcessIsSentByTheNextOne(t *testing.T) {
	t.Parallel()
	rc := newHookReceiver(t, true)
	e := newEstate(t, strings.ReplaceAll(hookEstate, "@HOOK@", rc.srv.URL+"/hook"))

	// The release lands in dev (its promotion's success is committed with the audit event
	// that announces it); the command then posts the webhook, which hangs, and is killed.
	b := e.start("release", "web", "--version", "1.0.0")
	waitFor(t, 30*time.Second, "the release's webhook to reach the receiver", func() bool {
		held, _ := rc.seen()
		return held > 0
	})
	b.cmd.Process.Kill()
	b.wait(t, 10*time.Second)
	rc.answer()
	if _, got := rc.seen(); len(got) != 0 {
		t.Fatalf("delivered %q before the next process ran", got)
	}

	serveWith(t, e)
	var got []string
	waitFor(t, 60*time.Second, "the next process to deliver the webhook", func() bool {
		_, got = rc.seen()
		return len(got) > 0
	})
	fields := strings.Fields(got[0])
	if len(got) != 1 || len(fields) != 3 || fields[1] != "succeeded" || fields[2] != "dev" || fields[0] == "" {
		t.Fatalf("delivered %q, want dev's success once, with its delivery id", got)
	}
}

func TestAPromotionRunFromTheCLINotifies(t *testing.T) {
	t.Parallel()
	rc := newHookReceiver(t, false)
	e := newEstate(t, strings.ReplaceAll(hookEstate, "@HOOK@", rc.srv.URL+"/hook"))
	e.release("web", "--version", "1.0.0")
	e.must(3, "promote", "web@1.0.0", "--to", "prod")
	// No server runs: the commands sent their own webhooks before they ended.
	_, got := rc.seen()
	var events []string
	for _, d := range got {
		events = append(events, strings.Join(strings.Fields(d)[1:], " "))
	}
	if strings.Join(events, ", ") != "succeeded dev, waiting prod" {
		t.Fatalf("webhooks %q, want dev's success then prod waiting", events)
	}
}
