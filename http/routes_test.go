package http_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	strhttp "github.com/strata-dev/strata/http"
)

// routeCase is one API route with a request that names an environment outside dev where
// the route names one at all, so that a token scoped to dev is refused it.
type routeCase struct {
	method, path string
	body         any
	// need is the action a token's role must permit.
	need string
	// outside is set when the request names an environment (or a stage) beyond dev: the
	// dev-scoped tokens are refused with 403.
	outside bool
	// claimOnly is set for a route an agent's token may take only for a deployment it has
	// claimed: the matrix's agent holds none, and is refused.
	claimOnly bool
}

// routeCases covers every route of the API; promo, dep and run are a waiting promotion to
// prod, a deployment in staging and a runbook run in staging.
func routeCases(promo, dep, run string) []routeCase {
	read, deploy, approve, admin := strata.ActRead, strata.ActDeploy, strata.ActApprove, strata.ActAdmin
	agent, fetch := strata.ActAgent, strata.ActFetch
	hello := map[string]any{"name": "edge-1", "pool": "edge", "protocol": strata.AgentProtocol}
	fenced := map[string]any{"name": "edge-1", "pool": "edge", "deployment": "d-none", "fence": 1}
	return []routeCase{
		{"GET", "/metrics", nil, read, true, false}, // estate-wide counts: scoped tokens are refused
		{"GET", "/api/v1/openapi.json", nil, read, false, false},
		{"POST", "/api/v1/bundles?digest=sha256:" + strings.Repeat("0", 64), nil, deploy, false, false},
		{"GET", "/api/v1/bundles/sha256:" + strings.Repeat("0", 64), nil, fetch, false, true},
		{"POST", "/api/v1/agent/register", hello, agent, true, false},
		{"POST", "/api/v1/agent/heartbeat", hello, agent, true, false},
		{"POST", "/api/v1/agent/claim", map[string]any{"name": "edge-1", "pool": "edge"}, agent, true, false},
		{"POST", "/api/v1/agent/renew", fenced, agent, true, false},
		{"POST", "/api/v1/agent/logs", map[string]any{"name": "edge-1", "pool": "edge", "deployment": "d-none", "fence": 1, "chunks": []any{}}, agent, true, false},
		{"POST", "/api/v1/agent/report", map[string]any{"name": "edge-1", "pool": "edge", "deployment": "d-none", "fence": 1, "state": "failed"}, agent, true, false},
		{"GET", "/api/v1/agents", nil, read, false, false},
		{"GET", "/api/v1/validate", nil, read, false, false},
		{"GET", "/api/v1/environments", nil, read, false, false},
		{"POST", "/api/v1/environments", map[string]any{"name": "pr-1", "like": "staging", "ttl": "1h"}, deploy, true, false},
		{"DELETE", "/api/v1/environments/staging", nil, deploy, true, false},
		{"GET", "/api/v1/config/api?env=staging", nil, read, true, false},
		{"GET", "/api/v1/diff?a=dev&b=staging", nil, read, true, false},
		{"GET", "/api/v1/status", nil, read, false, false},
		{"GET", "/api/v1/deployments", nil, read, false, false},
		{"GET", "/api/v1/deployments?env=staging", nil, read, true, false},
		{"GET", "/api/v1/deployments/" + dep, nil, read, true, false},
		{"GET", "/api/v1/deployments/" + dep + "/logs", nil, read, true, false},
		{"POST", "/api/v1/releases", map[string]any{"service": "api", "version": "9.0.0"}, deploy, false, false},
		{"POST", "/api/v1/deployments", map[string]any{"service": "api", "version": "1.0.0", "env": "staging"}, deploy, true, false},
		{"POST", "/api/v1/rollbacks", map[string]any{"service": "api", "env": "staging"}, deploy, true, false},
		// Breaking a freeze needs deploy and approve there: of the roles, admin's alone.
		{"POST", "/api/v1/rollbacks", map[string]any{"service": "api", "env": "staging", "override_freeze": true, "reason": "INC-1"}, admin, true, false},
		{"POST", "/api/v1/rollbacks", map[string]any{"service": "api", "env": "staging", "override_window": true, "reason": "INC-1"}, admin, true, false},
		{"POST", "/api/v1/promotions", map[string]any{"service": "api", "version": "1.0.0", "to": "prod"}, deploy, true, false},
		{"POST", "/api/v1/promotions", map[string]any{"service": "api", "version": "1.0.0", "to": "prod", "override_window": true, "reason": "hotfix"}, admin, true, false},
		{"GET", "/api/v1/promotions", nil, read, false, false},
		{"GET", "/api/v1/promotions/" + promo, nil, read, true, false},
		{"POST", "/api/v1/plan", map[string]any{"service": "api", "version": "1.0.0", "to": "prod"}, read, true, false},
		{"POST", "/api/v1/promotions/" + promo + "/approve", nil, approve, true, false},
		{"POST", "/api/v1/promotions/" + promo + "/reject", map[string]any{"reason": "not today"}, approve, true, false},
		{"POST", "/api/v1/freezes", map[string]any{"env": "staging", "reason": "incident"}, admin, true, false},
		{"DELETE", "/api/v1/freezes/staging", nil, admin, true, false},
		{"GET", "/api/v1/audit", nil, read, false, false},
		{"GET", "/api/v1/audit?env=staging", nil, read, true, false},
		{"GET", "/api/v1/audit?verify=1", nil, admin, false, false},
		{"POST", "/api/v1/resume", nil, admin, false, false},
		{"GET", "/api/v1/drift?env=staging", nil, read, true, false},
		{"POST", "/api/v1/runs", map[string]any{"service": "api", "task": "reindex", "env": "staging"}, deploy, true, false},
		{"GET", "/api/v1/runs", nil, read, false, false},
		{"GET", "/api/v1/runs?env=staging", nil, read, true, false},
		{"GET", "/api/v1/runs/" + run, nil, read, true, false},
		{"POST", "/api/v1/runs/" + run + "/approve", nil, approve, true, false},
		{"POST", "/api/v1/runs/" + run + "/reject", map[string]any{"reason": "no"}, approve, true, false},
		{"POST", "/api/v1/gc", map[string]any{"dry_run": true}, admin, false, false},
		{"GET", "/api/v1/flags?env=staging", nil, read, true, false},
		{"GET", "/api/v1/flags/f?env=staging", nil, read, true, false},
		{"POST", "/api/v1/flags/f/set", map[string]any{"env": "staging", "value": "true", "reason": "r"}, deploy, true, false},
		{"POST", "/api/v1/flags/f/rollout", map[string]any{"env": "staging", "percent": 5}, deploy, true, false},
		{"POST", "/api/v1/flags/f/kill", map[string]any{"env": "staging", "reason": "r"}, deploy, true, false},
		{"POST", "/api/v1/flags/f/unkill", map[string]any{"env": "staging"}, deploy, true, false},
		{"GET", "/api/v1/flag-requests", nil, read, false, false},
		{"GET", "/api/v1/flag-requests?env=staging", nil, read, true, false},
		{"POST", "/api/v1/flag-requests/fr-none/approve", nil, approve, false, false}, // no such request: 404 once past the role
		{"GET", "/api/v1/stats?since=7d", nil, read, false, false},
		{"GET", "/api/v1/graph?format=mermaid", nil, read, false, false},
	}
}

// TestEveryRouteAgainstEveryRole sends every route as every role, as tokens scoped to dev,
// with no token and with a bad one: a role that does not permit the route's action, or a
// scope that does not cover its environment, is 403 (exit 4); no or a bad token is 401;
// everything else gets past authorization (whatever the request then makes of the state).
func TestEveryRouteAgainstEveryRole(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	promo := x.shipToProd("1.0.0", "requester")
	dep := x.deploymentIn("staging").ID
	run, err := x.as("alice").RunTask(context.Background(), engine.RunRequest{Service: "api", Task: "reindex", Env: "staging"})
	if err != nil {
		t.Fatal(err)
	}
	// The bad token goes to a second server on the same store whose limit on failed
	// authentication lets every route's failure through (TestFailedAuthIsThrottled tests
	// the limit).
	_, lenient := x.serveWith(x.engine, 0, func(c *strhttp.Config) {
		c.AuthFailures = strhttp.RateLimit{Burst: 1000, Every: time.Millisecond}
	})
	for _, rc := range routeCases(promo, dep, run.ID) {
		for _, tk := range apiTokens {
			permitted := strata.Permits(tk.role, rc.need)
			scoped := tk.envs != nil
			name := fmt.Sprintf("%s %s as a %s", rc.method, rc.path, tk.role)
			if scoped {
				name += " scoped to dev"
			}
			t.Run(name, func(t *testing.T) {
				r := x.do(tk.name, rc.method, rc.path, rc.body)
				denied := !permitted || (scoped && rc.outside) || (rc.claimOnly && tk.role == strata.RoleAgent)
				switch {
				case denied && r.status != http.StatusForbidden:
					t.Fatalf("status %d, want 403 (body %s)", r.status, r.body)
				case denied:
					if got := r.header.Get("Strata-Exit"); got != "4" {
						t.Errorf("Strata-Exit %q, want 4", got)
					}
					if code := r.json(t)["error"].(map[string]any)["code"]; code != strata.EUNAUTHORIZED {
						t.Errorf("error code %v, want unauthorized", code)
					}
				case r.status == http.StatusForbidden || r.status == http.StatusUnauthorized:
					t.Fatalf("status %d, want it let through (body %s)", r.status, r.body)
				}
			})
		}
		for _, who := range []string{"", "bad"} {
			t.Run(fmt.Sprintf("%s %s with token %q is unauthorized", rc.method, rc.path, who), func(t *testing.T) {
				r := x.doAt(lenient, who, rc.method, rc.path, rc.body)
				if r.status != http.StatusUnauthorized || r.header.Get("Strata-Exit") != "4" {
					t.Fatalf("status %d exit %q, want 401 and 4 (body %s)", r.status, r.header.Get("Strata-Exit"), r.body)
				}
				if !strings.Contains(r.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("WWW-Authenticate %q, want a Bearer challenge", r.header.Get("WWW-Authenticate"))
				}
			})
		}
	}
	t.Run("healthz needs no token", func(t *testing.T) {
		if r := x.do("", "GET", "/healthz", nil); r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
	t.Run("a refused request is in the audit log, without the token", func(t *testing.T) {
		evs, err := x.store.Events(t.Context(), strata.EventFilter{Action: "request.denied"})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			t.Fatal("no request.denied events")
		}
		for _, e := range evs {
			for _, tok := range x.tokens {
				if strings.Contains(string(e.Detail), tok) {
					t.Fatalf("event %d holds a token", e.Seq)
				}
			}
		}
	})
}

// TestEveryRouteIsInTheMatrix keeps the matrix above honest: each route of the OpenAPI
// document is sent by it.
func TestEveryRouteIsInTheMatrix(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	doc := x.do("victor", "GET", "/api/v1/openapi.json", nil).json(t)
	covered := map[string]bool{"GET /healthz": true, "GET /readyz": true}
	for _, rc := range routeCases("{id}", "{id}", "{id}") {
		path, _, _ := strings.Cut(rc.path, "?")
		path = strings.ReplaceAll(path, "/freezes/staging", "/freezes/{env}")
		path = strings.ReplaceAll(path, "/config/api", "/config/{service}")
		path = strings.ReplaceAll(path, "/environments/staging", "/environments/{name}")
		path = strings.ReplaceAll(path, "/bundles/sha256:"+strings.Repeat("0", 64), "/bundles/{digest}")
		path = strings.ReplaceAll(path, "/flags/f", "/flags/{key}")
		path = strings.ReplaceAll(path, "/flag-requests/fr-none", "/flag-requests/{id}")
		covered[rc.method+" "+path] = true
	}
	for path, ops := range doc["paths"].(map[string]any) {
		for method := range ops.(map[string]any) {
			if key := strings.ToUpper(method) + " " + path; !covered[key] {
				t.Errorf("route %s is not in the authorization matrix", key)
			}
		}
	}
}

// TestEveryRouteIsInTheAPIDocs keeps docs/api.md honest: it names each route of the OpenAPI
// document.
func TestEveryRouteIsInTheAPIDocs(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	doc := x.do("victor", "GET", "/api/v1/openapi.json", nil).json(t)
	md, err := os.ReadFile(filepath.Join("..", "docs", "api.md"))
	if err != nil {
		t.Fatal(err)
	}
	for path, ops := range doc["paths"].(map[string]any) {
		for method := range ops.(map[string]any) {
			if !strings.Contains(string(md), path) {
				t.Errorf("docs/api.md does not name %s %s", strings.ToUpper(method), path)
			}
		}
	}
}
