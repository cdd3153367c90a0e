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

// TestADestroyedEnvironmentStaysInTheRecord: once a short-lived environment is destroyed,
// a token that covers every environment still reads its deployments and audit events; a
// scoped token, which can no longer be shown to cover it, does not.
func TestADestroyedEnvironmentStaysInTheRecord(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	for _, step := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/v1/releases", map[string]any{"service": "api", "version": "1.0.0"}},
		{"POST", "/api/v1/environments", map[string]any{"name": "pr-5", "like": "dev"}},
		{"POST", "/api/v1/deployments", map[string]any{"service": "api", "version": "1.0.0", "env": "pr-5"}},
		{"DELETE", "/api/v1/environments/pr-5", nil},
	} {
		if r := x.do("carol", step.method, step.path, step.body); r.status != 200 {
			t.Fatalf("%s %s: %d %s", step.method, step.path, r.status, r.body)
		}
	}
	tests := []struct {
		name, who, path string
		shows           bool
	}{
		{"an unscoped admin reads the audit events of the destroyed environment", "carol", "/api/v1/audit", true},
		{"an unscoped viewer reads them too", "victor", "/api/v1/audit?action=env.destroy", true},
		{"an unscoped admin reads the deployments of the destroyed environment", "carol", "/api/v1/deployments", true},
		{"a token scoped to dev does not see its audit events", "dave", "/api/v1/audit", false},
		{"a token scoped to dev does not see its deployments", "dave", "/api/v1/deployments", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := x.do(tt.who, "GET", tt.path, nil)
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if got := strings.Contains(r.body, `"pr-5"`); got != tt.shows {
				t.Errorf("shows pr-5: %v, want %v\n%s", got, tt.shows, r.body)
			}
		})
	}
}
