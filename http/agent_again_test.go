package http_test

import (
	"net/http"
	"testing"

	"github.com/strata-dev/strata"
)

// TestAnAgentWhoseAnswerWasLostIsGivenItsClaimAgain runs two deployments of pool edge through
// the agents' routes as an agent whose answers are lost would: it claims again saying what it
// heard, and sends a report again; each is answered as the first was, and nothing is claimed
// twice.
func TestAnAgentWhoseAnswerWasLostIsGivenItsClaimAgain(t *testing.T) {
	x, done := deployToEdge(t)
	post := func(path string, body map[string]any) map[string]any {
		t.Helper()
		r := x.do("agnes", "POST", "/api/v1/agent/"+path, body)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		return r.json(t)
	}
	welcome := post("register", map[string]any{"name": "edge-1", "pool": "edge", "version": "test", "protocol": strata.AgentProtocol})
	registered := welcome["agent"].(map[string]any)["connected_since"]
	var first map[string]any
	for first == nil || first["job"] == nil {
		first = post("claim", map[string]any{"name": "edge-1", "pool": "edge", "wait_seconds": 5})
	}
	claims := func(t *testing.T, want int) {
		t.Helper()
		evs, err := x.store.Events(t.Context(), strata.EventFilter{Action: "agent.claim"})
		if err != nil || len(evs) != want {
			t.Errorf("%d agent.claim events (%v), want %d", len(evs), err, want)
		}
	}

	t.Run("a claim that heard only of the registration is given the job claimed since", func(t *testing.T) {
		again := post("claim", map[string]any{"name": "edge-1", "pool": "edge", "wait_seconds": 0, "heard": registered})
		if again["deployment"] != first["deployment"] || again["fence"] != 1.0 || again["attempt"] != 1.0 || again["job"] == nil {
			t.Errorf("claimed again %v; want %s with fence 1 and attempt 1, ahead of the other pending deployment", again, first["deployment"])
		}
		if again["claimed_at"] != first["claimed_at"] || first["claimed_at"] == nil {
			t.Errorf("claimed_at %v, want the first claim's %v", again["claimed_at"], first["claimed_at"])
		}
		claims(t, 1)
	})
	report := map[string]any{"name": "edge-1", "pool": "edge", "deployment": first["deployment"], "fence": first["fence"],
		"state": "succeeded", "next": true, "wait_seconds": 5}
	answer := post("report", report)
	next, _ := answer["next"].(map[string]any)
	if next == nil || next["job"] == nil || next["deployment"] == first["deployment"] {
		t.Fatalf("the report's next claim %v, want the other deployment", answer["next"])
	}
	t.Run("a report sent again is answered as the first, with the same next job", func(t *testing.T) {
		again := post("report", report)
		d, _ := again["deployment"].(map[string]any)
		n, _ := again["next"].(map[string]any)
		if d["id"] != first["deployment"] || d["state"] != strata.Succeeded {
			t.Errorf("deployment %v, want %s succeeded", d, first["deployment"])
		}
		if n == nil || n["deployment"] != next["deployment"] || n["fence"] != next["fence"] || n["attempt"] != 1.0 {
			t.Errorf("next %v, want %s again with fence %v", n, next["deployment"], next["fence"])
		}
		claims(t, 2)
		evs, err := x.store.Events(t.Context(), strata.EventFilter{Action: "deployment.succeeded"})
		if err != nil || len(evs) != 1 {
			t.Errorf("%d deployment.succeeded events (%v), want 1: the report is recorded once", len(evs), err)
		}
	})
	post("report", map[string]any{"name": "edge-1", "pool": "edge", "deployment": next["deployment"], "fence": next["fence"], "state": "succeeded"})
	for range 2 {
		if err := <-done; err != nil {
			t.Errorf("deploy: %v", err)
		}
	}
}
