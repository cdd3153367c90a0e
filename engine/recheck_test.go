package engine_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// answers is a health endpoint whose answer per path a test sets: status and body.
type answers struct {
	mu   sync.Mutex
	body map[string]string
	code map[string]int
}

func (a *answers) set(path string, code int, body string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.code[path], a.body[path] = code, body
}

func (a *answers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	code, body := a.code[r.URL.Path], a.body[r.URL.Path]
	a.mu.Unlock()
	if code == 0 {
		code = http.StatusNotFound
	}
	w.WriteHeader(code)
	w.Write([]byte(body))
}

// recheckEstate's api is checked at @URL@/${config.PATH} for its version; it has a secret
// TOKEN.
const recheckEstate = `project: shop
environments:
  dev: {}
services:
  api:
    deploy: "true"
    health: {http: "@URL@/${config.PATH}", contains: "v${release.version}", timeout: 1s, interval: 10ms}
    config:
      PATH: {type: string, default: one}
      TOKEN: {type: string, secret: true}
`

func TestRecheckingWhatRuns(t *testing.T) {
	const token = `s3cr3t"t0ken\value`
	a := &answers{body: map[string]string{}, code: map[string]int{}}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	yaml := strings.ReplaceAll(recheckEstate, "@URL@", srv.URL)
	secrets := func(string) (map[string]string, error) { return map[string]string{"TOKEN": token}, nil }
	setup := func(t *testing.T) (*world, *engine.Engine, *strata.Deployment) {
		a.set("/one", 200, "ok v1")
		w := newWorld(t, yaml)
		e := w.engine()
		e.Secrets = secrets
		return w, e, w.ship(e, "api", "1", "dev")
	}
	recheck := func(t *testing.T, e *engine.Engine, d *strata.Deployment) *strata.HealthCheck {
		t.Helper()
		cur, err := e.Current(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		c, err := e.Recheck(t.Context(), d, cur)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	t.Run("a deployment whose check stops passing is unhealthy, recorded once, and drifts", func(t *testing.T) {
		_, e, d := setup(t)
		steps := []struct {
			code          int
			body          string
			health, saw   string
			changed       bool
			drift, events string
		}{
			{200, "ok v1", strata.Healthy, "", false, "", ""},
			{503, "down", strata.Unhealthy, "/one: 503 Service Unavailable (want 200 OK)", true, "api/dev/health", "health.unhealthy"},
			{200, "ok v0", strata.Unhealthy, `body does not contain "v1" (it begins "ok v0")`, false, "api/dev/health", "health.unhealthy"},
			{200, "ok v1", strata.Healthy, "", true, "", "health.unhealthy health.recovered"},
		}
		for _, st := range steps {
			a.set("/one", st.code, st.body)
			c := recheck(t, e, d)
			if c.Health != st.health || !strings.Contains(c.Detail, st.saw) || (st.saw == "" && c.Detail != "") {
				t.Errorf("answer %d %q: got %s %q, want %s saying %q", st.code, st.body, c.Health, c.Detail, st.health, st.saw)
			}
			changed, err := e.RecordHealth(t.Context(), c, d.Version)
			if err != nil {
				t.Fatal(err)
			}
			if changed != st.changed {
				t.Errorf("answer %d %q: changed = %v, want %v", st.code, st.body, changed, st.changed)
			}
			items, err := e.Drift(t.Context(), "")
			if err != nil {
				t.Fatal(err)
			}
			if got := kinds(items); got != st.drift {
				t.Errorf("answer %d %q: drift %q, want %q", st.code, st.body, got, st.drift)
			}
			if st.drift != "" && !strings.Contains(items[0].Detail, st.saw) {
				t.Errorf("drift detail %q does not say what the check saw (%q)", items[0].Detail, st.saw)
			}
			evs, err := e.Store.Events(t.Context(), strata.EventFilter{Service: "api"})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ev := range evs {
				if strings.HasPrefix(ev.Action, "health.") {
					got = append(got, ev.Action)
					if ev.Subject != d.ID || ev.Environment != "dev" {
						t.Errorf("event %+v is not about %s in dev", ev, d.ID)
					}
				}
			}
			if strings.Join(got, " ") != st.events {
				t.Errorf("answer %d %q: events %v, want %s", st.code, st.body, got, st.events)
			}
		}
	})

	t.Run("the check is of the config the deployment used, not of the files now", func(t *testing.T) {
		w, _, d := setup(t)
		w.writeYAML(strings.Replace(yaml, "default: one", "default: two", 1))
		a.set("/two", 503, "nobody")
		e := w.engine()
		e.Secrets = secrets
		if c := recheck(t, e, d); c.Health != strata.Healthy {
			t.Errorf("got %s %q, want healthy: the deployment runs with PATH one", c.Health, c.Detail)
		}
	})

	t.Run("a secret in what the check saw is redacted", func(t *testing.T) {
		_, e, d := setup(t)
		a.set("/one", 200, "token="+token)
		c := recheck(t, e, d)
		if c.Health != strata.Unhealthy || strings.Contains(c.Detail, "t0ken") || !strings.Contains(c.Detail, "***") {
			t.Errorf("got %s %q, want unhealthy with the token redacted", c.Health, c.Detail)
		}
	})

	t.Run("contains is text to find, never a command", func(t *testing.T) {
		// In strata.yaml: $${ is a literal ${; @SCRATCH@ is the scratch directory.
		hostile := strings.Replace(strings.Replace(yaml, `contains: "v${release.version}"`, `contains: "${config.MARK}"`, 1),
			"      PATH: {type: string, default: one}\n",
			"      PATH: {type: string, default: one}\n      MARK: {type: string, default: '$(touch @SCRATCH@/a) `touch @SCRATCH@/b`; $${x}'}\n", 1)
		w := newWorld(t, hostile)
		mark := "$(touch " + w.scratch + "/a) `touch " + w.scratch + "/b`; ${x}"
		e := w.engine()
		e.Secrets = secrets
		a.set("/one", 200, "ok "+mark+" ok")
		d := w.ship(e, "api", "1", "dev")
		if c := recheck(t, e, d); c.Health != strata.Healthy {
			t.Errorf("got %s %q, want healthy: the body holds the text as it is", c.Health, c.Detail)
		}
		for _, f := range []string{"a", "b"} {
			if _, err := os.Stat(filepath.Join(w.scratch, f)); err == nil {
				t.Errorf("%s exists: contains ran as a command", f)
			}
		}
	})

	t.Run("a service without a check cannot be rechecked", func(t *testing.T) {
		_, e, d := setup(t)
		e.Project.Service("api").Health = nil
		if _, err := e.Recheck(t.Context(), d, nil); strata.ErrorCode(err) != strata.EINVALID {
			t.Errorf("got %v, want an invalid error", err)
		}
	})
}
