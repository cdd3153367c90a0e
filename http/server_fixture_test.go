package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	strhttp "github.com/strata-dev/strata/http"
	"github.com/strata-dev/strata/internal/syncbuf"
)

// apiYAML is a small estate: dev and staging land by themselves, prod waits for one
// approval. The deploy step prints the secret it is given, so tests can prove it never
// leaves the server.
const apiYAML = `project: shop
environments:
  dev:
    labels: {tier: dev, region: us}
  staging:
    labels: {tier: staging, region: us}
  prod-us:
    labels: {tier: prod, region: us}
    policy: {approvals: 1}
  prod-eu:
    extends: prod-us
    labels: {region: eu}
services:
  api:
    deploy: "echo deploying $STRATA_SERVICE $STRATA_VERSION to $STRATA_ENV; echo password=$DB_PASSWORD; sleep ${config.SLEEP}; test ! -f fail-$STRATA_ENV"
    rollback: previous
    config:
      LOG_LEVEL: {type: string, default: info}
      SLEEP: {type: string, default: "0"}
      DB_PASSWORD: {type: string, secret: true}
    runbooks:
      reindex: "echo reindexing $STRATA_SERVICE in $STRATA_ENV"
pipeline:
  - stage: dev
    environments: [dev]
    auto: true
  - stage: staging
    environments: [staging]
    auto: true
  - stage: prod
    environments: {tier: prod}
`

// apiEstate is a project on disk with a real SQLite store, the tokens of the tests, and a
// real server on 127.0.0.1.
type apiEstate struct {
	t      *testing.T
	dir    string
	store  strata.Store
	engine *engine.Engine
	server *strhttp.Server
	url    string
	// secret is DB_PASSWORD's random value: no response or log line may hold it.
	secret string
	tokens map[string]string // principal -> token
	log    *syncbuf.Buffer
}

// apiTokens are the principals of the tests: one of each role, and tokens scoped to dev.
var apiTokens = []testToken{
	{"victor", strata.RoleViewer, nil},
	{"alice", strata.RoleDeployer, nil},
	{"bob", strata.RoleApprover, nil},
	{"carol", strata.RoleAdmin, nil},
	{"dora", strata.RoleAdmin, []map[string]string{{"name": "dev"}}},
	{"dave", strata.RoleDeployer, []map[string]string{{"tier": "dev"}}},
}

// newAPIEstate writes yaml into a new project, opens its store, makes the tokens and serves.
func newAPIEstate(t *testing.T, yaml string) *apiEstate {
	t.Helper()
	dir := writeProject(t, yaml)
	st := openStore(t, dir)
	random, _ := strata.NewTokenSecret() // random letters and digits
	x := &apiEstate{t: t, dir: dir, store: st, secret: "pw" + random[len("strata_"):len("strata_")+24], log: &syncbuf.Buffer{}}
	x.engine = x.newEngine(st)
	x.tokens = makeTokens(t, st, apiTokens)
	x.server, x.url = x.serve(x.engine, 0)
	return x
}

// newEngine loads the project and returns an engine on st whose steps get the secret.
func (x *apiEstate) newEngine(st strata.Store) *engine.Engine {
	x.t.Helper()
	e := engine.New(loadProject(x.t, x.dir), st, "setup")
	e.StateDir = filepath.Join(x.dir, ".strata")
	e.Secrets = func(string) (map[string]string, error) { return map[string]string{"DB_PASSWORD": x.secret}, nil }
	return e
}

// serve starts a server for e on a fresh port of 127.0.0.1 until the test ends; tick 0
// means a scheduler that does not tick during the test.
func (x *apiEstate) serve(e *engine.Engine, tick time.Duration) (*strhttp.Server, string) {
	x.t.Helper()
	return x.serveWith(e, tick, nil)
}

// serveWith is serve with the configuration changed by edit first (nil changes nothing).
func (x *apiEstate) serveWith(e *engine.Engine, tick time.Duration, edit func(*strhttp.Config)) (*strhttp.Server, string) {
	x.t.Helper()
	if tick == 0 {
		tick = time.Hour
	}
	cfg := strhttp.Config{Engine: e, Tick: tick, Logger: slog.New(slog.NewTextHandler(x.log, nil)), WebhookRetry: 10 * time.Millisecond, WebhookSecret: "hook-secret"}
	if edit != nil {
		edit(&cfg)
	}
	s, err := strhttp.New(cfg)
	if err != nil {
		x.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		x.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	x.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			x.t.Errorf("serve: %v", err)
		}
	})
	return s, "http://" + ln.Addr().String()
}

// as returns an engine acting as principal, on the estate's store.
func (x *apiEstate) as(principal string) *engine.Engine {
	e := *x.engine
	e.Actor = principal
	return &e
}

// reply is one HTTP response, read whole.
type reply struct {
	status int
	header http.Header
	body   string
}

// json decodes the body into a generic value.
func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return v
}

// do sends a request as principal ("" for none; "bad" for a token nobody issued). A string
// body is sent as it is; anything else is encoded as JSON.
func (x *apiEstate) do(principal, method, path string, body any) reply {
	x.t.Helper()
	return x.doAt(x.url, principal, method, path, body)
}

func (x *apiEstate) doAt(base, principal, method, path string, body any) reply {
	x.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			x.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		x.t.Fatal(err)
	}
	switch principal {
	case "":
	case "bad":
		req.Header.Set("Authorization", "Bearer strata_notatokenanyoneissued")
	default:
		req.Header.Set("Authorization", "Bearer "+x.tokens[principal])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		x.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		x.t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// shipToProd releases api at version (it lands in dev and staging by itself) and, as
// requester, asks to promote it to prod, where it waits for an approval. It returns the
// promotion's id.
func (x *apiEstate) shipToProd(version, requester string) string {
	x.t.Helper()
	ctx := context.Background()
	if _, err := x.as(requester).Release(ctx, "api", version); err != nil {
		x.t.Fatalf("release: %v", err)
	}
	res, err := x.as(requester).Promote(ctx, engine.PromoteRequest{Service: "api", Version: version, To: "prod"})
	if strata.ErrorCode(err) != strata.EBLOCKED {
		x.t.Fatalf("promote to prod: %v, want it blocked on the approvals gate", err)
	}
	return res.Promotion.ID
}

// deploymentIn returns the newest deployment of api in env.
func (x *apiEstate) deploymentIn(env string) *strata.Deployment {
	x.t.Helper()
	ds, err := x.store.Deployments(context.Background(), strata.DeploymentFilter{Service: "api", Environment: env, Limit: 1})
	if err != nil || len(ds) == 0 {
		x.t.Fatalf("no deployment of api in %s (%v)", env, err)
	}
	return ds[0]
}
