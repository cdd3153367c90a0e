package http_test

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/secret"
)

// TestTheAgentsProtocol runs a deployment of edge (runs_on: edge) through the agents' routes
// as agnes (role agent), with the requests an agent sends and the bad ones it must not get
// away with.
func TestTheAgentsProtocol(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	v := &secret.Vault{ProjectDir: x.dir, Project: "shop", KeyDir: filepath.Join(t.TempDir(), "keys")}
	if _, err := v.Keygen("edge", false); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Set("edge", "DB_PASSWORD", x.secret, "alice"); err != nil {
		t.Fatal(err)
	}
	e := x.as("alice")
	rel, err := e.Release(t.Context(), "api", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		d   *strata.Deployment
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		d, err := e.Deploy(t.Context(), engine.DeployRequest{Service: "api", Version: "1.0.0", Env: "edge"})
		done <- outcome{d, err}
	}()

	hello := map[string]any{"name": "edge-1", "pool": "edge", "version": "test", "protocol": strata.AgentProtocol}
	if r := x.do("agnes", "POST", "/api/v1/agent/register", hello); r.status != http.StatusOK {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	var claimed map[string]any
	for claimed == nil || claimed["job"] == nil {
		r := x.do("agnes", "POST", "/api/v1/agent/claim", map[string]any{"name": "edge-1", "pool": "edge", "wait_seconds": 5})
		if r.status != http.StatusOK {
			t.Fatalf("claim: %d %s", r.status, r.body)
		}
		claimed = r.json(t)
	}
	id := claimed["deployment"].(string)
	job := claimed["job"].(map[string]any)
	t.Run("the claim carries the job, the fence and no secret's plaintext", func(t *testing.T) {
		body := x.do("agnes", "POST", "/api/v1/agent/renew", map[string]any{"name": "edge-1", "pool": "edge", "deployment": id, "fence": 1})
		if claimed["fence"] != 1.0 || job["deployment"] != id || job["environment"] != "edge" || job["bundle"] != rel.Release.Bundle || body.status != http.StatusOK {
			t.Errorf("claimed %v; renewal %d %s", claimed, body.status, body.body)
		}
		if strings.Contains(x.do("agnes", "POST", "/api/v1/agent/claim", map[string]any{"name": "edge-1", "pool": "edge", "wait_seconds": 0}).body, x.secret) {
			t.Errorf("a claim answer holds the secret")
		}
		sealed := job["secrets"].(map[string]any)["values"].(map[string]any)
		if sealed["DB_PASSWORD"] == nil || strings.Contains(sealed["DB_PASSWORD"].(string), x.secret) {
			t.Errorf("the job's secrets %v: want DB_PASSWORD's ciphertext", sealed)
		}
	})

	fenced := func(fence int, extra map[string]any) map[string]any {
		m := map[string]any{"name": "edge-1", "pool": "edge", "deployment": id, "fence": fence}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	bad := []struct {
		name, who, path string
		body            any
		status          int
		says            string
	}{
		{"a renewal with another fence is a conflict", "agnes", "renew", fenced(2, nil), 409, "held by"},
		{"output with another fence is a conflict", "agnes", "logs", fenced(7, map[string]any{"chunks": []any{map[string]any{"step": "deploy", "data": "late"}}}), 409, "fence 7"},
		{"a fence of 0 is bad input", "agnes", "renew", fenced(0, nil), 400, "fence"},
		{"another pool's name is refused", "agnes", "renew", map[string]any{"name": "edge-1", "pool": "other", "deployment": id, "fence": 1}, 403, "not a deployment of pool other"},
		{"a pool no environment runs on is refused", "agnes", "claim", map[string]any{"name": "edge-1", "pool": "nowhere"}, 403, "no environment runs_on pool nowhere"},
		{"an admin's token is not an agent's", "carol", "claim", map[string]any{"name": "edge-1", "pool": "edge"}, 403, "role agent"},
		{"an unknown field is bad input", "agnes", "report", fenced(1, map[string]any{"state": "succeeded", "colour": "red"}), 400, "unknown field"},
		{"a state other than succeeded or failed is bad input", "agnes", "report", fenced(1, map[string]any{"state": "running"}), 400, "succeeded or failed"},
		{"a hostile agent name is bad input", "agnes", "register", map[string]any{"name": "$(id)", "pool": "edge", "protocol": 1}, 400, "agent name"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			r := x.do(c.who, "POST", "/api/v1/agent/"+c.path, c.body)
			if r.status != c.status || !strings.Contains(r.body, c.says) {
				t.Errorf("status %d, body %s; want %d saying %q", r.status, r.body, c.status, c.says)
			}
		})
	}

	t.Run("metrics count the pool's agents, its queue and its claims", func(t *testing.T) {
		m := x.do("carol", "GET", "/metrics", nil).body
		for _, want := range []string{`strata_agents_connected{pool="edge"} 1`, `strata_pool_queue{pool="edge"} 0`, `strata_agent_claim_wait_seconds_count{pool="edge"} 1`} {
			if !strings.Contains(m, want+"\n") {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
	t.Run("an agent downloads the bundle of its claim, and no other", func(t *testing.T) {
		r := x.do("agnes", "GET", "/api/v1/bundles/"+rel.Release.Bundle, nil)
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		// What came is the bundle: a fresh state directory takes it under its digest.
		fresh := *x.engine
		fresh.StateDir = t.TempDir()
		if err := fresh.FetchBundle(t.Context(), rel.Release.Bundle, 0, func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader(r.body)), nil
		}); err != nil {
			t.Errorf("the download is not the bundle: %v", err)
		}
		other := "sha256:" + strings.Repeat("1", 64)
		if r := x.do("agnes", "GET", "/api/v1/bundles/"+other, nil); r.status != http.StatusForbidden {
			t.Errorf("another bundle: status %d, want 403", r.status)
		}
	})

	report := fenced(1, map[string]any{"state": "succeeded", "health": "healthy", "outputs": map[string]any{"URL": "http://edge"}})
	if r := x.do("agnes", "POST", "/api/v1/agent/report", report); r.status != http.StatusOK {
		t.Fatalf("report: %d %s", r.status, r.body)
	}
	got := <-done
	t.Run("the waiting deployment ends as the agent reported", func(t *testing.T) {
		if got.err != nil || got.d.State != strata.Succeeded || got.d.Outputs["URL"] != "http://edge" || got.d.Agent != "edge-1" {
			t.Errorf("Deploy = %+v, %v", got.d, got.err)
		}
	})
	t.Run("the same report sent again is answered as recorded: its first answer was lost", func(t *testing.T) {
		r := x.do("agnes", "POST", "/api/v1/agent/report", report)
		if r.status != http.StatusOK || r.json(t)["state"] != strata.Succeeded {
			t.Errorf("status %d: %s", r.status, r.body)
		}
	})
	t.Run("a report of another outcome of an ended deployment is a conflict", func(t *testing.T) {
		if r := x.do("agnes", "POST", "/api/v1/agent/report", fenced(1, map[string]any{"state": "failed", "error": "boom"})); r.status != http.StatusConflict {
			t.Errorf("status %d: %s", r.status, r.body)
		}
	})
	t.Run("every refusal of the agent's token was audited", func(t *testing.T) {
		evs, err := x.store.Events(t.Context(), strata.EventFilter{Action: "request.denied", Actor: "agnes"})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) < 3 {
			t.Errorf("%d request.denied events by agnes, want one for each refusal (3)", len(evs))
		}
	})
}
