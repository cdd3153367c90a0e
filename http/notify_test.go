package http_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	strhttp "github.com/strata-dev/strata/http"
)

// receiver is a real HTTP server that records the webhooks it gets; its first fail
// requests answer 500. Each request waits delay first, or until the test ends.
type receiver struct {
	mu    sync.Mutex
	got   []strhttp.Webhook
	sigs  []string
	tries int
	fail  int
	delay time.Duration
	done  chan struct{} // closed by let, at the latest when the test ends
	let   func()        // lets held requests end
	srv   *httptest.Server
}

func newReceiver(t *testing.T, fail int, delay time.Duration) *receiver {
	rc := &receiver{fail: fail, delay: delay, done: make(chan struct{})}
	rc.let = sync.OnceFunc(func() { close(rc.done) })
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		select {
		case <-time.After(rc.delay):
		case <-rc.done:
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.tries++
		if rc.tries <= rc.fail {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var m strhttp.Webhook
		if err := json.Unmarshal(body, &m); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if r.Header.Get(strhttp.SignatureHeader) != strhttp.Sign([]byte("hook-secret"), body) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		rc.got = append(rc.got, m)
		rc.sigs = append(rc.sigs, r.Header.Get(strhttp.SignatureHeader))
	}))
	t.Cleanup(rc.srv.Close)
	t.Cleanup(rc.let)
	return rc
}

func (rc *receiver) events() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, m := range rc.got {
		out = append(out, m.Event+" "+m.Stage)
	}
	return out
}

// withNotify returns apiYAML sending webhooks to url (for events, when given).
func withNotify(url string, events ...string) string {
	y := apiYAML + "notify:\n  - url: " + url + "\n"
	if len(events) > 0 {
		y += "    events: [" + strings.Join(events, ", ") + "]\n"
	}
	return y
}

// shipViaAPI releases api at version and asks, as the token named who, to promote it to
// prod, where it waits for an approval: all through the server, whose engine sends the
// webhooks. It returns the promotion's id.
func (x *apiEstate) shipViaAPI(version, who string) string {
	x.t.Helper()
	if r := x.do(who, "POST", "/api/v1/releases", map[string]any{"service": "api", "version": version}); r.status != 200 {
		x.t.Fatalf("release: %d %s", r.status, r.body)
	}
	r := x.do(who, "POST", "/api/v1/promotions", map[string]any{"service": "api", "version": version, "to": "prod"})
	if r.status != 409 {
		x.t.Fatalf("promote: %d %s, want it waiting", r.status, r.body)
	}
	return r.json(x.t)["id"].(string)
}

// TestWebhooks: promotion events reach the notify URLs, signed, retried, in the background.
func TestWebhooks(t *testing.T) {
	t.Run("waiting and succeeded reach the receiver, signed with the secret and Slack-readable", func(t *testing.T) {
		rc := newReceiver(t, 0, 0)
		x := newAPIEstate(t, withNotify(rc.srv.URL+"/hook"))
		id := x.shipViaAPI("1.0.0", "alice")
		if r := x.do("bob", "POST", "/api/v1/promotions/"+id+"/approve", nil); r.status != 200 {
			t.Fatalf("approve: %d %s", r.status, r.body)
		}
		waitFor(t, "the prod promotion's success arrived", func() bool {
			return strings.Contains(strings.Join(rc.events(), ","), "succeeded prod")
		})
		got := strings.Join(rc.events(), ",")
		for _, want := range []string{"waiting prod", "succeeded prod"} {
			if !strings.Contains(got, want) {
				t.Errorf("events %s lack %q", got, want)
			}
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for _, m := range rc.got {
			if m.Text == "" || m.Service != "api" || m.Version != "1.0.0" || m.Promotion == "" {
				t.Errorf("webhook %+v lacks a field", m)
			}
			if strings.Contains(m.Text, x.secret) {
				t.Error("a webhook holds the secret")
			}
		}
	})
	t.Run("a receiver that fails twice gets the event on the third try", func(t *testing.T) {
		rc := newReceiver(t, 2, 0)
		x := newAPIEstate(t, withNotify(rc.srv.URL, strhttp.EventWaiting))
		x.shipViaAPI("1.0.0", "alice")
		waitFor(t, "the waiting event arrived", func() bool { return len(rc.events()) == 1 })
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if rc.tries != 3 {
			t.Errorf("%d tries, want 3", rc.tries)
		}
	})
	t.Run("a failed promotion is announced as rolled back when its deployment was rolled back", func(t *testing.T) {
		rc := newReceiver(t, 0, 0)
		x := newAPIEstate(t, withNotify(rc.srv.URL, strhttp.EventFailed, strhttp.EventRolledBack))
		x.shipViaAPI("1.0.0", "alice")
		if err := os.WriteFile(filepath.Join(x.dir, "fail-staging"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		r := x.do("alice", "POST", "/api/v1/releases", map[string]any{"service": "api", "version": "2.0.0"})
		if r.status != 422 {
			t.Fatalf("release of a failing version: %d %s", r.status, r.body)
		}
		waitFor(t, "the rolled_back event arrived", func() bool { return strings.Contains(strings.Join(rc.events(), ","), "rolled_back staging") })
	})
	t.Run("a promotion whose first deployment fails, with nothing to roll back to, is announced as failed", func(t *testing.T) {
		rc := newReceiver(t, 0, 0)
		x := newAPIEstate(t, withNotify(rc.srv.URL, strhttp.EventFailed, strhttp.EventRolledBack))
		if err := os.WriteFile(filepath.Join(x.dir, "fail-dev"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if r := x.do("alice", "POST", "/api/v1/releases", map[string]any{"service": "api", "version": "1.0.0"}); r.status != 422 {
			t.Fatalf("release of a failing version: %d %s", r.status, r.body)
		}
		waitFor(t, "the failed event arrived", func() bool { return strings.Contains(strings.Join(rc.events(), ","), "failed dev") })
	})
	t.Run("a slow receiver never holds up a promotion", func(t *testing.T) {
		// The receiver holds every request for a minute: a promotion that waited for its
		// webhooks would return after the receiver recorded them.
		rc := newReceiver(t, 0, time.Minute)
		x := newAPIEstate(t, withNotify(rc.srv.URL))
		x.shipViaAPI("1.0.0", "alice")
		if n := len(rc.events()); n != 0 {
			t.Errorf("%d events were delivered before the promotion returned: it waited for the slow receiver", n)
		}
		rc.let() // before the server stops, which waits for its webhooks
	})
}
