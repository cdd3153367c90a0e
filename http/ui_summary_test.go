package http_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// getPage serves path with the session and returns the page.
func getPage(t *testing.T, x *big, path string) string {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	req.AddCookie(x.session)
	rec := httptest.NewRecorder()
	x.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %.300s", path, rec.Code, rec.Body.String())
	}
	return rec.Body.String()
}

func TestTheMatrixOpensWithASummaryAndPagesItsRowsAtTenThousandEnvironments(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("fills a store with 50,000 deployments")
	}
	x := bigEstate(t, 10000, 5)
	failedIn := []string{"env-0007", "env-0420", "env-5000", "env-9999"}
	now := time.Now()
	for i, env := range failedIn {
		d := &strata.Deployment{Service: fmt.Sprintf("svc-%02d", i%5), Environment: env, Version: "1.2.4", State: strata.Failed,
			Attempt: 1, Kind: "deploy", StartedAt: now, FinishedAt: now}
		if err := x.store.CreateDeployment(context.Background(), d, nil); err != nil {
			t.Fatal(err)
		}
	}
	page := getPage(t, x, "/")
	if len(page) > 200_000 {
		t.Errorf("the matrix page is %d bytes at 10,000 environments; want under 200 KB", len(page))
	}
	count := func(page, id string) string {
		m := regexp.MustCompile(`id="` + id + `"[^>]*><b>(\d+)</b>`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("the summary has no %s count", id)
		}
		return m[1]
	}
	for id, want := range map[string]string{"n-environments": "10000", "n-failed": "4", "n-unhealthy": "0", "n-running": "0", "n-waiting": "0"} {
		if got := count(page, id); got != want {
			t.Errorf("summary %s = %s, want %s", id, got, want)
		}
	}
	if !strings.Contains(page, `<tr data-service="svc-00"><th><a href="/services/svc-00">svc-00</a></th><td><b>1.2.3</b> 10000</td>`) {
		t.Errorf("the summary does not say svc-00 runs 1.2.3 in all 10,000 environments")
	}
	rows := regexp.MustCompile(`<tr data-env="([^"]+)"`)
	if n := len(rows.FindAllString(page, -1)); n != 200 {
		t.Errorf("the first page has %d rows, want 200", n)
	}

	failed := getPage(t, x, "/?state=failed")
	var got []string
	for _, m := range rows.FindAllStringSubmatch(failed, -1) {
		got = append(got, m[1])
	}
	if strings.Join(got, " ") != strings.Join(failedIn, " ") {
		t.Errorf("?state=failed shows %v, want the environments with a failed cell %v", got, failedIn)
	}

	second := getPage(t, x, "/?page=2")
	if m := rows.FindStringSubmatch(second); m == nil || m[1] != "env-0200" {
		t.Errorf("page 2 starts at %v, want env-0200", m)
	}
	if !strings.Contains(second, `id="prev"`) || !strings.Contains(second, `id="next"`) {
		t.Error("page 2 lacks links to pages 1 and 3")
	}
	if p := getPage(t, x, "/?state=sideways"); !strings.Contains(p, "state filter") {
		t.Error("an unknown ?state= is not reported")
	}
}

func TestAReleasePageListsItsFailuresFirst(t *testing.T) {
	x := newUIEstate(t, browserYAML)
	if _, err := x.as("alice").Release(context.Background(), "worker", "1"); err == nil {
		t.Fatal("worker 1 should fail in staging")
	}
	// Deployed again in dev, dev's row is the newest: only the order of failures puts
	// staging above it.
	if _, err := x.as("alice").Deploy(context.Background(), engine.DeployRequest{Service: "worker", Version: "1", Env: "dev"}); err != nil {
		t.Fatal(err)
	}
	b := x.login(t, "bob")
	_, page := b.get("/releases/worker/1")
	runs := page[strings.Index(page, `id="runs"`):]
	staging, dev := strings.Index(runs, "staging"), strings.Index(runs, ">dev<")
	if staging < 0 || dev < 0 || staging > dev {
		t.Errorf("the failed staging row is not above dev's (at %d and %d):\n%.800s", staging, dev, runs)
	}
}

func TestGroupsCollapseToOneRowEachAndExpandOnClick(t *testing.T) {
	x := newUIEstate(t, browserYAML)
	x.as("alice").Release(context.Background(), "worker", "1") // fails in staging (us-east)
	b := x.login(t, "bob")
	_, page := b.get("/?group=region&collapse=1")
	if strings.Contains(page, `<tr data-env=`) {
		t.Error("collapsed groups still list their environments")
	}
	groups := regexp.MustCompile(`data-group="([^"]+)"><th colspan="999"><a href="([^"]+)">[^<]*</a> <span class="muted">(\d+) environments([^<]*<span class="st-failed">(\d+) failed)?`).FindAllStringSubmatch(page, -1)
	got := map[string]string{}
	expand := map[string]string{}
	for _, g := range groups {
		got[g[1]] = g[3] + "/" + g[5]
		expand[g[1]] = strings.ReplaceAll(g[2], "&amp;", "&")
	}
	want := map[string]string{"region=us-east": "3/1", "region=eu-west": "1/", "region=ap-south": "1/"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("group %s: %q environments/failed, want %q (all: %v)", k, got[k], v, got)
		}
	}
	_, eu := b.get(expand["region=eu-west"])
	if !strings.Contains(eu, `<tr data-env="prod-eu"`) || strings.Contains(eu, `<tr data-env="dev"`) {
		t.Errorf("expanding region=eu-west (%s) does not show just prod-eu", expand["region=eu-west"])
	}
}
