package http_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	strhttp "github.com/strata-dev/strata/http"
)

// A short-lived environment made again under an old name does not run what ran in the
// earlier one: the release page lists where the release runs now, and not there.
func TestTheReleasePageDoesNotListAnEarlierEnvironmentOfTheSameName(t *testing.T) {
	dir := writeProject(t, matrixYAML(0))
	p := loadProject(t, dir)
	st := openStore(t, dir)
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	made := now.Add(-time.Hour)
	if err := st.CreateRelease(ctx, &strata.Release{Service: "api", Version: "1", Digest: "sha256:aa", CreatedBy: "tester"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateEnvironment(ctx, &strata.EphemeralEnv{Name: "pr-1", Like: "stg", CreatedBy: "tester", CreatedAt: made}, nil); err != nil {
		t.Fatal(err)
	}
	for env, at := range map[string]time.Time{"pr-1": made.Add(-time.Minute), "stg": made.Add(time.Minute)} {
		d := &strata.Deployment{Service: "api", Environment: env, Version: "1", State: strata.Succeeded, Kind: "deploy",
			Actor: "tester", Attempt: 1, CreatedAt: at, StartedAt: at, FinishedAt: at.Add(time.Minute)}
		if err := st.CreateDeployment(ctx, d, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := engine.LoadEnvironments(ctx, p, st); err != nil {
		t.Fatal(err)
	}
	e := engine.New(p, st, "tester")
	e.Now = func() time.Time { return now }
	srv, err := strhttp.New(strhttp.Config{Engine: e, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	x := &uiEstate{srv: httptest.NewServer(srv), tokens: makeTokens(t, st, []testToken{{"victor", strata.RoleViewer, nil}})}
	t.Cleanup(x.srv.Close)
	_, page := x.login(t, "victor").get("/releases/api/1")
	if !strings.Contains(page, "<tr><td>stg</td>") {
		t.Fatalf("the release page does not list stg, where api@1 runs:\n%s", page)
	}
	if strings.Contains(page, "<tr><td>pr-1</td>") {
		t.Errorf("the release page lists pr-1, whose deployment of api@1 was in the earlier pr-1")
	}
}
