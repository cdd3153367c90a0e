package http_test

import (
	"strings"
	"testing"
)

// TestShortLivedEnvironments: env create and destroy through the server change the
// project every later request sees; a scoped token cannot make one outside its scope.
func TestShortLivedEnvironments(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	if r := x.do("alice", "POST", "/api/v1/releases", map[string]any{"service": "api", "version": "1.0.0"}); r.status != 200 {
		t.Fatalf("release: %d %s", r.status, r.body)
	}
	t.Run("a dev-scoped deployer cannot relabel a copy of dev out of its scope", func(t *testing.T) {
		r := x.do("dave", "POST", "/api/v1/environments", map[string]any{"name": "pr-9", "like": "dev", "labels": map[string]string{"tier": "prod"}})
		if r.status != 403 {
			t.Fatalf("status %d, want 403: %s", r.status, r.body)
		}
	})
	t.Run("a dev-scoped deployer makes a copy of dev, deploys to it and destroys it", func(t *testing.T) {
		if r := x.do("dave", "POST", "/api/v1/environments", map[string]any{"name": "pr-1", "like": "dev", "ttl": "1h"}); r.status != 200 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		if r := x.do("dave", "GET", "/api/v1/environments", nil); !strings.Contains(r.body, `"pr-1"`) {
			t.Fatalf("env list lacks pr-1: %s", r.body)
		}
		if r := x.do("dave", "POST", "/api/v1/deployments", map[string]any{"service": "api", "version": "1.0.0", "env": "pr-1"}); r.status != 200 {
			t.Fatalf("deploy to pr-1: %d %s", r.status, r.body)
		}
		if r := x.do("dave", "DELETE", "/api/v1/environments/pr-1", nil); r.status != 200 || !strings.Contains(r.body, `"forgotten": true`) {
			t.Fatalf("destroy: %d %s", r.status, r.body)
		}
		if r := x.do("dave", "GET", "/api/v1/status", nil); strings.Contains(r.body, `"pr-1"`) {
			t.Errorf("status still shows pr-1: %s", r.body)
		}
	})
	t.Run("validate summarises the server's project", func(t *testing.T) {
		r := x.do("victor", "GET", "/api/v1/validate", nil)
		if r.status != 200 || r.json(t)["project"] != "shop" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
}
