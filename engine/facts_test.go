package engine_test

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/plan"
)

// factsEstate has two environments; db writes its URL (or nothing, for version 2) to its
// outputs, and api reads it through ${outputs.db.URL}, writes what it got and where its
// config file was, and declares a secret.
const factsEstate = `project: facts
environments:
  a: {}
  b: {}
services:
  db:
    deploy: |
      if [ "$STRATA_VERSION" = 1 ]; then echo "URL=db-$STRATA_ENV" >> "$STRATA_OUTPUTS"; fi
  api:
    depends_on: [db]
    deploy: |
      echo "$DB_URL" > "@SCRATCH@/url-$STRATA_ENV"
      echo "$STRATA_CONFIG" > "@SCRATCH@/config-path-$STRATA_ENV"
      cp "$STRATA_CONFIG" "@SCRATCH@/config-$STRATA_ENV"
    config:
      DB_URL: {type: string, default: "${outputs.db.URL}"}
      TOKEN: {type: string, secret: true}
pipeline:
  - stage: all
    environments: [a, b]
`

func TestDeployFacts(t *testing.T) {
	w := newWorld(t, factsEstate)
	e := w.engine()
	e.Secrets = func(env string) (map[string]string, error) { return map[string]string{"TOKEN": "s3cret-" + env}, nil }
	ctx := t.Context()
	for _, v := range []string{"1", "2"} {
		if _, err := e.Release(ctx, "db", v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Release(ctx, "api", "1"); err != nil {
		t.Fatal(err)
	}
	deploy := func(svc, version, env string) (*strata.Deployment, error) {
		return e.Deploy(ctx, engine.DeployRequest{Service: svc, Version: version, Env: env})
	}

	t.Run("a dependency's outputs reach its dependent in the same environment only", func(t *testing.T) {
		for _, env := range []string{"a", "b"} {
			if _, err := deploy("db", "1", env); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := deploy("api", "1", "a"); err != nil {
			t.Fatal(err)
		}
		if got, want := strings.TrimSpace(w.read("url-a")), "db-a"; got != want {
			t.Errorf("api in a got DB_URL %q, want %q", got, want)
		}
	})

	t.Run("the config file holds the config while the step runs and is emptied after it when it holds secrets", func(t *testing.T) {
		if got := w.read("config-a"); !strings.Contains(got, "s3cret-a") || !strings.Contains(got, "db-a") {
			t.Errorf("config the step saw = %q, want the secret and DB_URL in it", got)
		}
		path := strings.TrimSpace(w.read("config-path-a"))
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("the config file is gone (%v); it is emptied, not removed", err)
		}
		if len(b) != 0 {
			t.Errorf("the config file holds %q after the step, want it empty", b)
		}
	})

	t.Run("a deployment does not see the outputs an earlier one wrote to the same environment", func(t *testing.T) {
		d, err := deploy("db", "2", "b")
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Outputs) != 0 {
			t.Errorf("db@2 in b has outputs %v, want none (its step wrote none)", d.Outputs)
		}
	})

	t.Run("a direct deploy into a frozen environment is blocked before anything runs", func(t *testing.T) {
		if err := w.store.SetFreeze(ctx, "a", &strata.Freeze{Environment: "a", Reason: "audit", Actor: "tester"}, nil); err != nil {
			t.Fatal(err)
		}
		_, err := deploy("db", "2", "a")
		if strata.ErrorCode(err) != strata.EBLOCKED || !strings.Contains(err.Error(), "frozen") {
			t.Errorf("deploy into frozen a = %v, want EBLOCKED naming the freeze", err)
		}
	})

	t.Run("a dependent is blocked where its dependency is not deployed", func(t *testing.T) {
		w2 := newWorld(t, factsEstate)
		e2 := w2.engine()
		e2.Secrets = e.Secrets
		if _, err := e2.Release(ctx, "api", "1"); err != nil {
			t.Fatal(err)
		}
		_, err := e2.Deploy(ctx, engine.DeployRequest{Service: "api", Version: "1", Env: "b"})
		if strata.ErrorCode(err) != strata.EBLOCKED || !strings.Contains(err.Error(), "db") {
			t.Errorf("deploy api without db = %v, want EBLOCKED naming db", err)
		}
	})
}

// historyEstate has three stages, a dependency, soak times and an approval, so that every
// gate has something to judge.
const historyEstate = `project: history
environments:
  dev-a: {}
  dev-b: {}
  stg: {policy: {soak: 30m}}
  prod-a: {policy: {soak: 1h, approvals: 1}}
  prod-b: {policy: {soak: 1h}}
services:
  db:
    deploy: "true"
  api:
    depends_on: [db]
    deploy: "true"
pipeline:
  - {stage: dev, environments: [dev-a, dev-b]}
  - {stage: staging, environments: [stg]}
  - {stage: prod, environments: [prod-a, prod-b]}
`

// readsStore is a Store that keeps what each call of Deployments returned.
type readsStore struct {
	strata.Store
	mu    sync.Mutex
	reads [][]*strata.Deployment
}

func (s *readsStore) Deployments(ctx context.Context, f strata.DeploymentFilter) ([]*strata.Deployment, error) {
	ds, err := s.Store.Deployments(ctx, f)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads = append(s.reads, ds)
	return ds, err
}

// take returns the reads since the last take and forgets them.
func (s *readsStore) take() [][]*strata.Deployment {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reads
	s.reads = nil
	return r
}

// history records, straight into the store, a long history of api and db in the
// environments of historyEstate: four versions each, some failed, some unhealthy, some
// recorded at the same instant, in an order that is not the order of their times, and api@5
// ten minutes before t0+2400m.
func history(t *testing.T, s strata.Store, t0 time.Time) {
	t.Helper()
	ctx := t.Context()
	versions := []string{"1", "2", "3", "4"}
	for _, svc := range []string{"db", "api"} {
		for _, v := range append(versions, "5") {
			must(t, s.CreateRelease(ctx, &strata.Release{Service: svc, Version: v, Digest: "sha256:" + svc + v}, nil))
		}
	}
	envs := []string{"dev-a", "dev-b", "stg", "prod-a", "prod-b"}
	n := 0
	for round := range 3 {
		for i, v := range versions {
			for j, env := range envs {
				for _, svc := range []string{"db", "api"} {
					n++
					if svc == "db" && (env == "dev-b" || env == "prod-b" && v != "1") {
						continue // db never reaches dev-b, and runs 1 in prod-b, unhealthy
					}
					if svc == "api" && j > i+1 {
						continue // a version reaches no further than its stage
					}
					d := &strata.Deployment{Service: svc, Environment: env, Version: v, Kind: "deploy", Actor: "tester",
						State: strata.Succeeded, Health: strata.Healthy}
					switch {
					case n%7 == 0:
						d.State = strata.Failed
					case n%5 == 0:
						d.Health = strata.Unhealthy
					case svc == "db" && env == "prod-b":
						d.Health = strata.Unhealthy
					}
					// Every third one at the same instant as the one before; later rounds
					// now and then recorded before earlier ones.
					at := time.Duration(round*1000+i*100+j*10+n/3) * time.Minute
					if round == 2 && n%4 == 0 {
						at = time.Duration(n/3) * time.Minute
					}
					d.CreatedAt = t0.Add(at)
					d.StartedAt, d.FinishedAt = d.CreatedAt, d.CreatedAt.Add(time.Duration(n%9)*time.Minute)
					must(t, s.CreateDeployment(ctx, d, nil))
				}
			}
		}
	}
	// api@5 has just landed in dev: its soak before staging is still running.
	for _, env := range []string{"dev-a", "dev-b"} {
		at := t0.Add(2390 * time.Minute)
		must(t, s.CreateDeployment(ctx, &strata.Deployment{Service: "api", Environment: env, Version: "5", Kind: "deploy",
			State: strata.Succeeded, Health: strata.Healthy, CreatedAt: at, StartedAt: at, FinishedAt: at}, nil))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestAPromotionJudgesItsGatesOnItsOwnReleaseAlone(t *testing.T) {
	w := newWorld(t, historyEstate)
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	history(t, w.store, t0)
	reads := &readsStore{Store: w.store}
	c := &clock{t: t0.Add(2400 * time.Minute)} // some soaks have passed, some not yet
	e := w.promoter(c, "alice")
	e.Store = reads
	ctx := t.Context()

	for _, v := range []string{"1", "2", "3", "4", "5"} {
		for _, to := range []string{"", "dev", "staging", "prod"} {
			t.Run(fmt.Sprintf("api@%s to %q is judged as on the whole history", v, to), func(t *testing.T) {
				all, err := e.Facts(ctx) // every succeeded deployment ever made
				must(t, err)
				reads.take()
				res, err := e.Plan(ctx, engine.PromoteRequest{Service: "api", Version: v, To: to})
				got := reads.take()

				want := plan.NextStage(e.Project, "api", v, all)
				if to != "" {
					want = e.Project.Stage(to)
				}
				if want == nil {
					if strata.ErrorCode(err) != strata.EINVALID {
						t.Fatalf("plan = %v, %v; want EINVALID: healthy in every stage", res, err)
					}
					return
				}
				must(t, err)
				if res.Promotion.Stage != want.Name {
					t.Fatalf("stage = %s, want %s", res.Promotion.Stage, want.Name)
				}
				wantGates := plan.Gates(e.Project, plan.Request{Service: "api", Version: v, Stage: want, Requester: "alice"}, all)
				if !reflect.DeepEqual(res.Gates, wantGates) {
					t.Errorf("gates on the release's own facts:\n%+v\nwant, as on the whole history:\n%+v", res.Gates, wantGates)
				}

				for _, ds := range got {
					pairs := map[plan.Pair]bool{}
					for _, d := range ds {
						if d.Service == "api" && d.Version != v {
							t.Errorf("planning api@%s read %s, a deployment of api@%s", v, d.ID, d.Version)
						}
						if d.Service == "db" {
							k := plan.Pair{Service: d.Service, Environment: d.Environment}
							if pairs[k] {
								t.Errorf("planning api@%s read more than what runs of db in %s", v, d.Environment)
							}
							pairs[k] = true
						}
					}
				}
			})
		}
	}

	t.Run("what runs in each pair is the newest succeeded deployment of the whole history", func(t *testing.T) {
		all, err := e.Facts(ctx)
		must(t, err)
		cur, err := e.Current(ctx)
		must(t, err)
		if !reflect.DeepEqual(cur, all.Current) {
			t.Errorf("Current = %v\nwant %v", cur, all.Current)
		}
	})
}

func TestAShortLivedEnvironmentMadeAgainUnderAnOldNameStartsEmpty(t *testing.T) {
	w := newWorld(t, envEstate)
	c := &clock{t: monday(9, 0)}
	ctx := t.Context()
	must(t, w.promoter(c, "alice").CreateEnvironment(ctx, &strata.EphemeralEnv{Name: "pr-1", Like: "staging"}))
	c.move(time.Minute)
	e := w.promoter(c, "alice")
	w.ship(e, "db", "1", "pr-1")
	w.ship(e, "api", "1", "pr-1")
	c.move(time.Minute)
	if _, err := e.DestroyEnvironment(ctx, "pr-1"); err != nil {
		t.Fatal(err)
	}
	c.move(time.Minute)
	must(t, e.CreateEnvironment(ctx, &strata.EphemeralEnv{Name: "pr-1", Like: "staging"}))
	e = w.promoter(c, "alice") // as the next command sees it

	t.Run("nothing runs in it", func(t *testing.T) {
		cur, err := e.Current(ctx)
		must(t, err)
		for k, d := range cur {
			if k.Environment == "pr-1" {
				t.Errorf("%s runs %s (%s) in the new pr-1, made before it", k.Service, d.Version, d.ID)
			}
		}
	})

	t.Run("there is nothing to roll back to", func(t *testing.T) {
		_, err := e.Rollback(ctx, "api", "pr-1", "", "")
		if strata.ErrorCode(err) != strata.EINVALID || !strings.Contains(err.Error(), "never run") {
			t.Errorf("rollback = %v, want EINVALID: never run there", err)
		}
	})

	t.Run("a dependent waits for its dependency to be deployed again", func(t *testing.T) {
		_, err := e.Deploy(ctx, engine.DeployRequest{Service: "api", Version: "1", Env: "pr-1"})
		if strata.ErrorCode(err) != strata.EBLOCKED || !strings.Contains(err.Error(), "db") {
			t.Errorf("deploy api = %v, want EBLOCKED naming db", err)
		}
	})

	t.Run("it has no drift and nothing to destroy", func(t *testing.T) {
		items, err := e.Drift(ctx, "pr-1")
		must(t, err)
		if len(items) != 0 {
			t.Errorf("drift = %+v, want none", items)
		}
		done, err := e.Destroy(ctx, "pr-1")
		must(t, err)
		if len(done) != 0 {
			t.Errorf("destroyed %v, want nothing", done)
		}
	})

	t.Run("what is deployed to it now runs there", func(t *testing.T) {
		d := w.ship(e, "db", "1", "pr-1")
		cur, err := e.Current(ctx)
		must(t, err)
		if got := cur[plan.Pair{Service: "db", Environment: "pr-1"}]; got == nil || got.ID != d.ID {
			t.Errorf("db in pr-1 runs %+v, want %s", got, d.ID)
		}
	})
}
