package http_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// agentsUIYAML has two pools: edge (eu) and edge-us (us), and dev, which runs here.
const agentsUIYAML = `project: shop
environments:
  dev:
    labels: {tier: dev, region: us}
  edge-eu:
    labels: {tier: prod, region: eu}
    runs_on: edge
  edge-us:
    labels: {tier: prod, region: us}
    runs_on: edge-us
services:
  api:
    deploy: "echo deploying $STRATA_ENV"
`

// agentCall sends one request of the agents' protocol with token and decodes the answer.
func agentCall(t *testing.T, base, token, path string, body any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", base+"/api/v1/agent/"+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	body2 := readAll(t, res)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s", path, res.StatusCode, body2)
	}
	json.Unmarshal([]byte(body2), &out)
	return out
}

// TestTheAgentsPageInChromium: a viewer opens the agents page from the nav and sees each
// pool's figures and each agent's name, pool, version (markup in it shown as text), when it
// connected, when it was last seen, and a link to the deployment it runs; a token scoped to
// some environments sees only their pools' agents.
func TestTheAgentsPageInChromium(t *testing.T) {
	x := newUIEstate(t, agentsUIYAML)
	tokens := makeTokens(t, x.store, []testToken{
		{"eu-agent", strata.RoleAgent, []map[string]string{{"region": "eu"}}},
		{"us-agent", strata.RoleAgent, []map[string]string{{"region": "us"}}},
	})
	alice := x.as("alice")
	if _, err := alice.Release(t.Context(), "api", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := alice.Deploy(t.Context(), engine.DeployRequest{Service: "api", Version: "1.0.0", Env: "edge-eu"})
		done <- err
	}()
	const hostile = `<img src=x onerror="document.title='pwned'">`
	agentCall(t, x.srv.URL, tokens["eu-agent"], "register", map[string]any{"name": "eu-1", "pool": "edge", "version": hostile, "protocol": strata.AgentProtocol})
	agentCall(t, x.srv.URL, tokens["us-agent"], "register", map[string]any{"name": "us-1", "pool": "edge-us", "version": "1.2.3", "protocol": strata.AgentProtocol})
	var claimed map[string]any
	deadline := time.Now().Add(30 * time.Second)
	for claimed["deployment"] == nil {
		if time.Now().After(deadline) {
			t.Fatal("the agent claimed nothing in 30s")
		}
		claimed = agentCall(t, x.srv.URL, tokens["eu-agent"], "claim", map[string]any{"name": "eu-1", "pool": "edge", "wait_seconds": 5})
	}
	id := claimed["deployment"].(string)

	b := chromium(t)
	do(t, b, "log in and open the agents page from the nav",
		chromedp.Navigate(x.srv.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), x.tokens["victor"]),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("principal")),
		chromedp.Click(chromedp.CSS(`nav a[href="/agents"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-agent="eu-1"]`)),
	)
	rows := []struct {
		sel, what string
		want      []string
	}{
		{`tr[data-agent="eu-1"]`, "eu-1 with its pool, version as text and what it runs", []string{"eu-1", "edge", hostile, id, "ago"}},
		{`tr[data-agent="us-1"]`, "us-1 with its pool and version, running nothing", []string{"us-1", "edge-us", "1.2.3"}},
		{`tr[data-pool="edge"]`, "pool edge: edge-eu, one agent connected, none waiting", []string{"edge-eu", "1", "0"}},
		{`tr[data-pool="edge-us"]`, "pool edge-us: edge-us, one agent connected", []string{"edge-us", "1"}},
	}
	for _, r := range rows {
		t.Run(r.what, func(t *testing.T) {
			got := text(t, b, r.sel)
			for _, w := range r.want {
				if !strings.Contains(got, w) {
					t.Errorf("%s reads %q; want %q in it", r.sel, got, w)
				}
			}
		})
	}
	if title, err := chromedp.Run(b, chromedp.Title()); err != nil || title == "pwned" {
		t.Errorf("the agent's version ran as markup (title %q, %v)", title, err)
	}
	do(t, b, "follow the running deployment's link",
		chromedp.Click(chromedp.CSS(`tr[data-agent="eu-1"] a[href="/deployments/`+id+`"]`)),
		chromedp.WaitVisible(chromedp.ID("state")),
	)

	t.Run("a token scoped to us sees only the us pool and its agent", func(t *testing.T) {
		_, page := x.login(t, "eve").get("/agents")
		if !strings.Contains(page, `data-agent="us-1"`) || strings.Contains(page, `data-agent="eu-1"`) || strings.Contains(page, `data-pool="edge"`) || strings.Contains(page, id) {
			t.Errorf("eve's agents page:\n%s", page)
		}
	})

	agentCall(t, x.srv.URL, tokens["eu-agent"], "report", map[string]any{"name": "eu-1", "pool": "edge", "deployment": id, "fence": claimed["fence"], "state": "succeeded"})
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the deployment through the agent: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the deployment did not end after the report")
	}
}
