package http_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// nextYAML puts two environments on pool edge.
const nextYAML = `project: shop
environments:
  edge-a:
    labels: {tier: edge}
    runs_on: edge
  edge-b:
    labels: {tier: edge}
    runs_on: edge
services:
  api:
    deploy: "true"
pipeline:
  - stage: edge
    environments: {tier: edge}
`

// TestAReportClaimsTheNextDeploymentInTheSameRequest deploys api to the two environments of
// pool edge at once and runs them through the agents' routes as one agent would: claim the
// first, then report each asking for the next.
func TestAReportClaimsTheNextDeploymentInTheSameRequest(t *testing.T) {
	x, done := deployToEdge(t)
	hello := map[string]any{"name": "edge-1", "pool": "edge", "version": "test", "protocol": strata.AgentProtocol}
	r := x.do("agnes", "POST", "/api/v1/agent/register", hello)
	if r.status != http.StatusOK || r.json(t)["report_next"] != true {
		t.Fatalf("register: %d %s; want report_next true", r.status, r.body)
	}
	var claimed map[string]any
	for claimed == nil || claimed["job"] == nil {
		r := x.do("agnes", "POST", "/api/v1/agent/claim", map[string]any{"name": "edge-1", "pool": "edge", "wait_seconds": 5})
		if r.status != http.StatusOK {
			t.Fatalf("claim: %d %s", r.status, r.body)
		}
		claimed = r.json(t)
	}
	report := func(c map[string]any, wait float64) map[string]any {
		t.Helper()
		r := x.do("agnes", "POST", "/api/v1/agent/report", map[string]any{"name": "edge-1", "pool": "edge",
			"deployment": c["deployment"], "fence": c["fence"], "state": "succeeded", "next": true, "wait_seconds": wait})
		if r.status != http.StatusOK {
			t.Fatalf("report %s: %d %s", c["deployment"], r.status, r.body)
		}
		return r.json(t)
	}

	first := report(claimed, 5)
	next, _ := first["next"].(map[string]any)
	t.Run("the answer is the recorded deployment and the next claim", func(t *testing.T) {
		d, _ := first["deployment"].(map[string]any)
		if d["id"] != claimed["deployment"] || d["state"] != strata.Succeeded {
			t.Errorf("deployment %v, want %s succeeded", d, claimed["deployment"])
		}
		if next == nil || next["job"] == nil || next["deployment"] == claimed["deployment"] || next["fence"] != 1.0 {
			t.Fatalf("next %v, want the other environment's deployment claimed with fence 1", next)
		}
		other := map[string]string{"edge-a": "edge-b", "edge-b": "edge-a"}[claimed["job"].(map[string]any)["environment"].(string)]
		if env := next["job"].(map[string]any)["environment"]; env != other {
			t.Errorf("next claim is of %v, want %s", env, other)
		}
	})
	last := report(next, 0)
	t.Run("with nothing pending the next claim is empty and the report stands", func(t *testing.T) {
		if n, _ := last["next"].(map[string]any); n == nil || n["job"] != nil {
			t.Errorf("next %v, want {\"job\": null}", last["next"])
		}
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("deploy: %v", err)
			}
		}
		evs, err := x.store.Events(t.Context(), strata.EventFilter{Action: "agent.claim"})
		if err != nil || len(evs) != 2 {
			t.Errorf("%d agent.claim events (%v), want 2: one claim each", len(evs), err)
		}
	})
	cases := []struct {
		name   string
		state  string
		status int
	}{
		{"the same report sent again is answered as recorded", strata.Succeeded, http.StatusOK},
		{"a report of another outcome of a recorded deployment is a conflict", strata.Failed, http.StatusConflict},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := x.do("agnes", "POST", "/api/v1/agent/report", map[string]any{"name": "edge-1", "pool": "edge",
				"deployment": next["deployment"], "fence": 1, "state": c.state})
			if r.status != c.status || strings.Contains(r.body, `"next"`) {
				t.Fatalf("a second report: %d %s, want %d", r.status, r.body, c.status)
			}
			if d, _ := x.store.Deployment(t.Context(), next["deployment"].(string)); d == nil || d.State != strata.Succeeded {
				t.Errorf("the deployment after a second report: %+v, want it succeeded as first reported", d)
			}
		})
	}
}

// deployToEdge releases api 1.0.0 in an estate of nextYAML and asks, as alice, for its
// deployment to both environments of pool edge at once; done says how each ended.
func deployToEdge(t *testing.T) (*apiEstate, chan error) {
	t.Helper()
	x := newAPIEstate(t, nextYAML)
	e := x.as("alice")
	if _, err := e.Release(t.Context(), "api", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	for _, env := range []string{"edge-a", "edge-b"} {
		go func() {
			_, err := e.Deploy(t.Context(), engine.DeployRequest{Service: "api", Version: "1.0.0", Env: env})
			done <- err
		}()
	}
	return x, done
}
