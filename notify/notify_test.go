package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/notify"
	"github.com/strata-dev/strata/sqlite"
)

// receiver is a real HTTP server that records what it is sent; it answers status (200 when
// zero) to each request.
type receiver struct {
	mu     sync.Mutex
	status int
	bodies []string
	heads  []http.Header
	srv    *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.bodies = append(rc.bodies, string(b))
		rc.heads = append(rc.heads, r.Header.Clone())
		if rc.status != 0 {
			w.WriteHeader(rc.status)
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) got() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.bodies...)
}

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// estate is a real SQLite store with a deliverer on a test clock.
func estate(t *testing.T, hooks ...strata.Notify) (strata.Store, *notify.Deliverer, *clock) {
	t.Helper()
	c := &clock{t: time.Now()}
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"), c.now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d := &notify.Deliverer{Store: st, Hooks: hooks, Secret: []byte("s3"), Owner: "test/1/1", Retry: time.Second, Tries: 3, Now: c.now}
	return st, d, c
}

func appendEvent(t *testing.T, st strata.Store, action, subject string, detail map[string]any) {
	t.Helper()
	b, _ := json.Marshal(detail)
	if err := st.AppendEvent(context.Background(), &strata.Event{Actor: "alice", Action: action, Service: "api", Environment: "prod", Subject: subject, Detail: b}); err != nil {
		t.Fatal(err)
	}
}

func pass(t *testing.T, d *notify.Deliverer) int {
	t.Helper()
	n, err := d.Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEventOfNamesWhatAnAuditEventAnnounces(t *testing.T) {
	cases := []struct {
		name, action, detail, want string
	}{
		{"a promotion recorded waiting announces waiting", "promote", `{"state":"waiting"}`, notify.EventWaiting},
		{"an automatic promotion recorded waiting announces waiting", "promote.auto", `{"state":"waiting"}`, notify.EventWaiting},
		{"a promotion recorded running announces nothing yet", "promote", `{"state":"running"}`, ""},
		{"a promotion that succeeded announces succeeded", "promotion.succeeded", `{}`, notify.EventSucceeded},
		{"a promotion that failed announces failed", "promotion.failed", `{"error":"x"}`, notify.EventFailed},
		{"a promotion that failed and rolled back announces rolled_back", "promotion.failed", `{"rolled_back":true}`, notify.EventRolledBack},
		{"a deployment gone unhealthy announces unhealthy", "health.unhealthy", `{}`, notify.EventUnhealthy},
		{"a deployment recovered announces recovered", "health.recovered", `{}`, notify.EventRecovered},
		{"a deployment announces nothing", "deploy", `{}`, ""},
		{"a switch that succeeded announces switch", "switch.succeeded", `{}`, notify.EventSwitch},
		{"a failover that failed announces switch", "failover.failed", `{}`, notify.EventSwitch},
		{"a switch waiting for approval announces nothing yet", "switch.request", `{}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := notify.EventOf(&strata.Event{Action: c.action, Detail: json.RawMessage(c.detail)}); got != c.want {
				t.Errorf("EventOf = %q, want %q", got, c.want)
			}
		})
	}
}

func TestADeliveryIsSignedNamedAndSentOnce(t *testing.T) {
	rc := newReceiver(t)
	st, d, _ := estate(t, strata.Notify{URL: rc.srv.URL + "/hook?token=hush"})
	appendEvent(t, st, "promotion.failed", "p-1", map[string]any{"version": "1.2.0", "stage": "prod", "error": "deploy step exited with status 1"})
	if n := pass(t, d); n != 1 {
		t.Fatalf("delivered %d, want 1", n)
	}
	if n := pass(t, d); n != 0 {
		t.Fatalf("a second pass delivered %d, want 0", n)
	}
	got := rc.got()
	if len(got) != 1 {
		t.Fatalf("the receiver got %d requests, want 1", len(got))
	}
	var m notify.Webhook
	if err := json.Unmarshal([]byte(got[0]), &m); err != nil {
		t.Fatal(err)
	}
	if m.Event != "failed" || m.Promotion != "p-1" || m.Version != "1.2.0" || m.Stage != "prod" || m.State != "failed" ||
		!strings.Contains(m.Text, "deploy step exited with status 1") {
		t.Errorf("webhook %+v, want p-1's failure", m)
	}
	h := rc.heads[0]
	if h.Get(notify.SignatureHeader) != notify.Sign([]byte("s3"), []byte(got[0])) {
		t.Errorf("signature %q does not match the body", h.Get(notify.SignatureHeader))
	}
	if h.Get(notify.DeliveryHeader) == "" {
		t.Error("no delivery id")
	}
}

func TestAFailingReceiverIsTriedAgainWithBackoffThenGivenUp(t *testing.T) {
	rc := newReceiver(t)
	rc.status = http.StatusServiceUnavailable
	st, d, c := estate(t, strata.Notify{URL: rc.srv.URL})
	appendEvent(t, st, "promotion.succeeded", "p-1", map[string]any{"version": "1", "stage": "dev"})
	pass(t, d) // try 1
	c.add(500 * time.Millisecond)
	pass(t, d) // not due: the first wait is 1s
	if n := len(rc.got()); n != 1 {
		t.Fatalf("%d tries before the first wait ended, want 1", n)
	}
	c.add(time.Second)
	pass(t, d) // try 2; the next wait is 2s
	c.add(time.Second)
	pass(t, d)
	if n := len(rc.got()); n != 2 {
		t.Fatalf("%d tries before the doubled wait ended, want 2", n)
	}
	c.add(time.Second)
	pass(t, d) // try 3, the last
	c.add(time.Hour)
	pass(t, d)
	if n := len(rc.got()); n != 3 {
		t.Fatalf("%d tries in all, want 3", n)
	}
	ds, err := st.WebhookDeliveries(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].State != strata.WebhookFailed || ds[0].Tries != 3 || !strings.Contains(ds[0].Error, "503") {
		t.Errorf("delivery %+v, want failed after 3 tries with the receiver's answer", ds[0])
	}
}

func TestAWebhookOnlyGetsTheEventsItAsksFor(t *testing.T) {
	all, some := newReceiver(t), newReceiver(t)
	st, d, _ := estate(t, strata.Notify{URL: all.srv.URL}, strata.Notify{URL: some.srv.URL, Events: []string{"rolled_back"}})
	appendEvent(t, st, "promotion.succeeded", "p-1", nil)
	appendEvent(t, st, "promotion.failed", "p-2", map[string]any{"rolled_back": true})
	pass(t, d)
	if len(all.got()) != 2 || len(some.got()) != 1 || !strings.Contains(some.got()[0], `"rolled_back"`) {
		t.Errorf("every event: %q; rolled_back only: %q", all.got(), some.got())
	}
}

func TestAWebhookRemovedFromTheConfigurationIsDropped(t *testing.T) {
	rc := newReceiver(t)
	st, d, _ := estate(t, strata.Notify{URL: rc.srv.URL})
	appendEvent(t, st, "promotion.succeeded", "p-1", nil)
	if _, err := st.QueueWebhooks(context.Background(), notify.Actions, time.Time{}, d.Route); err != nil {
		t.Fatal(err)
	}
	d.Hooks = []strata.Notify{{URL: rc.srv.URL + "/other"}}
	pass(t, d)
	ds, _ := st.WebhookDeliveries(context.Background(), 10)
	if len(rc.got()) != 0 || len(ds) != 1 || ds[0].State != strata.WebhookDropped {
		t.Errorf("sent %q, deliveries %+v; want nothing sent and the delivery dropped", rc.got(), ds)
	}
}

func TestASlackWebhookGetsATextMessage(t *testing.T) {
	rc := newReceiver(t)
	st, d, _ := estate(t, strata.Notify{URL: "https://hooks.slack.com/services/T0/B0/XXXX"})
	// Slack is outside this machine: a real local server stands in for it, reached by
	// dialling it whatever the address (the fake is the network route, not Slack's answer).
	addr := rc.srv.Listener.Addr().String()
	d.Client = &http.Client{Transport: &http.Transport{
		DialTLSContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	// The stand-in speaks plain HTTP: the request is read as Slack would read its body.
	appendEvent(t, st, "promote", "p-1", map[string]any{"version": "1.2.0", "stage": "prod", "state": "waiting"})
	pass(t, d)
	got := rc.got()
	if len(got) != 1 {
		t.Fatalf("the stand-in got %d requests, want 1", len(got))
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(got[0]), &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != 1 || !strings.Contains(m["text"].(string), "api@1.2.0 → prod is waiting on a gate") {
		t.Errorf("Slack got %s, want {\"text\"} alone", got[0])
	}
}

func TestRedactURLKeepsOnlySchemeAndHost(t *testing.T) {
	cases := map[string]string{
		"https://hooks.slack.com/services/T0/B0/XXXX": "https://hooks.slack.com/…",
		"https://user:pw@ops.example.com/x?token=1":   "https://ops.example.com/…",
		"https://ops.example.com":                     "https://ops.example.com",
		"not a url":                                   "…",
	}
	for in, want := range cases {
		if got := notify.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestASwitchsWebhookSaysWhoIsLiveOrWhyNot(t *testing.T) {
	ok := &strata.Event{Action: "switch.succeeded", Actor: "ann", Subject: "sw-1",
		Detail: json.RawMessage(`{"group":"shop","from":"blue","to":"green","reason":"release 2"}`)}
	m := notify.Message(ok, notify.EventOf(ok))
	if m.Event != notify.EventSwitch || m.Group != "shop" || m.Switch != "sw-1" || m.Environment != "green" || m.State != "succeeded" ||
		m.Text != "switch shop: green is live (was blue), by ann (sw-1): release 2" {
		t.Errorf("the webhook of a switch that succeeded: %+v", m)
	}
	bad := &strata.Event{Action: "failover.failed", Actor: "bob", Subject: "sw-2",
		Detail: json.RawMessage(`{"group":"shop","from":"green","to":"blue","error":"switch step exited with status 1"}`)}
	m = notify.Message(bad, notify.EventOf(bad))
	if m.State != "failed" || m.Detail != "switch step exited with status 1" || m.Text != "failover shop to blue failed: switch step exited with status 1; green is still live (sw-2)" {
		t.Errorf("the webhook of a failover that failed: %+v", m)
	}
}
