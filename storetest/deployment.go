package storetest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

func testDeployments(t *testing.T, open func(t *testing.T) strata.Store) {
	t.Run("a new deployment gets an id and reads back as written", func(t *testing.T) {
		s := open(t)
		d := deployment("api", "prod-eu", 1)
		d.ReleaseID, d.PromotionID, d.RollbackOf = "r-1", "p-1", "d-0"
		d.Config = map[string]any{"PORT": "9090", "LOG_LEVEL": "info", "DEBUG": true}
		d.ConfigHash = "sha256:cc"
		d.Outputs = map[string]string{"URL": "http://127.0.0.1:9090"}
		must(t, s.CreateDeployment(ctx(t), d, nil))
		if !strings.HasPrefix(d.ID, "d-") || d.CreatedAt.IsZero() {
			t.Fatalf("created deployment has id %q and time %v, want a d- id and a time", d.ID, d.CreatedAt)
		}
		got, err := s.Deployment(ctx(t), d.ID)
		must(t, err)
		checkDeployment(t, got, d)
	})

	t.Run("an unknown deployment is not found", func(t *testing.T) {
		s := open(t)
		_, err := s.Deployment(ctx(t), "d-0000000000")
		wantCode(t, err, strata.ENOTFOUND)
		u := deployment("api", "dev", 1)
		u.ID = "d-0000000000"
		wantCode(t, s.UpdateDeployment(ctx(t), u, nil), strata.ENOTFOUND)
	})

	t.Run("a second claim of the same pair is blocked and names the holder", func(t *testing.T) {
		for _, state := range []string{strata.Pending, strata.Running} {
			t.Run(state, func(t *testing.T) {
				s := open(t)
				first := deployment("api", "prod", 1)
				first.State = state
				create(t, s, first)
				err := s.CreateDeployment(ctx(t), deployment("api", "prod", 2), &strata.Event{Actor: "bob", Action: "deploy"})
				wantCode(t, err, strata.EBLOCKED)
				if !strings.Contains(err.Error(), first.ID) {
					t.Fatalf("error %q does not name the holder %s", err, first.ID)
				}
				all, err := s.Deployments(ctx(t), strata.DeploymentFilter{})
				must(t, err)
				if len(all) != 1 {
					t.Fatalf("after a blocked claim there are %d deployments, want 1", len(all))
				}
			})
		}
	})

	t.Run("another environment or another service is not blocked", func(t *testing.T) {
		s := open(t)
		create(t, s, deployment("api", "prod", 1))
		create(t, s, deployment("api", "staging", 2))
		create(t, s, deployment("web", "prod", 3))
	})

	t.Run("a final state frees the pair and clears owner, process group and lease", func(t *testing.T) {
		for _, state := range []string{strata.Succeeded, strata.Failed, strata.RolledBack} {
			t.Run(state, func(t *testing.T) {
				s := open(t)
				d := create(t, s, deployment("api", "prod", 1))
				d.State, d.Health = state, strata.Healthy
				d.Outputs = map[string]string{"URL": "http://x"}
				d.FinishedAt = time.Date(2030, 1, 1, 1, 0, 0, 0, time.UTC)
				must(t, s.UpdateDeployment(ctx(t), d, nil))
				if d.Owner != (strata.Owner{}) || d.PGID != 0 || !d.LeaseUntil.IsZero() {
					t.Errorf("caller's deployment keeps owner %+v, pgid %d, lease %v; want them cleared", d.Owner, d.PGID, d.LeaseUntil)
				}
				got, err := s.Deployment(ctx(t), d.ID)
				must(t, err)
				if got.State != state || got.Owner != (strata.Owner{}) || got.PGID != 0 || !got.LeaseUntil.IsZero() {
					t.Fatalf("stored %s with owner %+v, pgid %d, lease %v; want %s with them cleared",
						got.State, got.Owner, got.PGID, got.LeaseUntil, state)
				}
				if got.Outputs["URL"] != "http://x" || got.Health != strata.Healthy || !sameTime(got.FinishedAt, d.FinishedAt) {
					t.Fatalf("stored outputs %v, health %q, finished %v; want what was written", got.Outputs, got.Health, got.FinishedAt)
				}
				create(t, s, deployment("api", "prod", 2))
			})
		}
	})

	t.Run("an update with the wrong owner is a conflict and changes nothing", func(t *testing.T) {
		s := open(t)
		d := create(t, s, deployment("api", "prod", 1))
		stale := *d
		stale.Owner = owner(2)
		stale.State = strata.Succeeded
		wantCode(t, s.UpdateDeployment(ctx(t), &stale, &strata.Event{Actor: "x", Action: "deploy.succeeded"}), strata.ECONFLICT)
		got, err := s.Deployment(ctx(t), d.ID)
		must(t, err)
		if got.State != strata.Running || got.Owner != owner(1) {
			t.Fatalf("after a refused update: %s owned by %+v, want running owned by %+v", got.State, got.Owner, owner(1))
		}
	})

	t.Run("an update by the owner writes every mutable field", func(t *testing.T) {
		s := open(t)
		d := create(t, s, deployment("api", "prod", 1))
		d.Attempt = 2
		d.Config = map[string]any{"PORT": "8080"}
		d.ConfigHash = "sha256:dd"
		d.Health = strata.Unhealthy
		d.Error = "health check failed"
		d.PGID = 5555
		d.LeaseUntil = time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
		d.StartedAt = time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)
		must(t, s.UpdateDeployment(ctx(t), d, nil))
		got, err := s.Deployment(ctx(t), d.ID)
		must(t, err)
		checkDeployment(t, got, d)
	})
}

// checkDeployment compares every field a store keeps.
func checkDeployment(t *testing.T, got, want *strata.Deployment) {
	t.Helper()
	g, w := *got, *want
	for _, p := range []*strata.Deployment{&g, &w} {
		for _, tm := range []*time.Time{&p.CreatedAt, &p.StartedAt, &p.FinishedAt, &p.LeaseUntil} {
			*tm = tm.UTC().Truncate(time.Microsecond)
		}
		p.Config = normalize(p.Config)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("read back\n%+v\nwant\n%+v", g, w)
	}
}

// normalize prints config values, so a store may keep numbers as int64 or float64.
func normalize(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = fmt.Sprint(v)
	}
	return out
}

func testLeases(t *testing.T, open func(t *testing.T) strata.Store) {
	until := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)

	t.Run("the owner renews its lease", func(t *testing.T) {
		s := open(t)
		d := create(t, s, deployment("api", "prod", 1))
		must(t, s.RenewLease(ctx(t), d.ID, owner(1), until))
		got, err := s.Deployment(ctx(t), d.ID)
		must(t, err)
		if !sameTime(got.LeaseUntil, until) {
			t.Fatalf("lease = %v, want %v", got.LeaseUntil, until)
		}
	})

	t.Run("renewal by another owner or after the end is a conflict", func(t *testing.T) {
		s := open(t)
		d := create(t, s, deployment("api", "prod", 1))
		wantCode(t, s.RenewLease(ctx(t), d.ID, owner(2), until), strata.ECONFLICT)
		d.State = strata.Succeeded
		must(t, s.UpdateDeployment(ctx(t), d, nil))
		wantCode(t, s.RenewLease(ctx(t), d.ID, owner(1), until), strata.ECONFLICT)
	})

	t.Run("a take-over marks the deployment interrupted, keeps the attempt and fences the old owner", func(t *testing.T) {
		s := open(t)
		d := create(t, s, deployment("api", "prod", 1))
		e := &strata.Event{Actor: "host-c", Action: "deployment.takeover"}
		must(t, s.TakeOver(ctx(t), d.ID, owner(1), owner(2), until, e))
		got, err := s.Deployment(ctx(t), d.ID)
		must(t, err)
		if got.State != strata.Interrupted || got.Owner != owner(2) || got.Attempt != 1 || !sameTime(got.LeaseUntil, until) {
			t.Fatalf("after take-over: %s owned by %+v, attempt %d, lease %v; want interrupted owned by %+v, attempt 1, lease %v",
				got.State, got.Owner, got.Attempt, got.LeaseUntil, owner(2), until)
		}
		if e.Subject != d.ID {
			t.Errorf("event subject = %q, want %s", e.Subject, d.ID)
		}
		d.State = strata.Succeeded
		wantCode(t, s.UpdateDeployment(ctx(t), d, nil), strata.ECONFLICT)
		wantCode(t, s.RenewLease(ctx(t), d.ID, owner(1), until), strata.ECONFLICT)
		// An interrupted deployment still holds its pair until it is resumed and ends.
		wantCode(t, s.CreateDeployment(ctx(t), deployment("api", "prod", 3), nil), strata.EBLOCKED)

		got.State, got.Attempt = strata.Running, 2
		must(t, s.UpdateDeployment(ctx(t), got, nil))
		got.State = strata.Succeeded
		must(t, s.UpdateDeployment(ctx(t), got, nil))
		create(t, s, deployment("api", "prod", 3))
	})

	t.Run("of two takers from the same owner exactly one wins", func(t *testing.T) {
		s := open(t)
		d := create(t, s, deployment("api", "prod", 1))
		errs := make(chan error, 2)
		for n := 2; n <= 3; n++ {
			go func() { errs <- s.TakeOver(ctx(t), d.ID, owner(1), owner(n), until, nil) }()
		}
		var won, lost int
		for range 2 {
			switch err := <-errs; strata.ErrorCode(err) {
			case "":
				won++
			case strata.ECONFLICT:
				lost++
			default:
				t.Fatalf("take-over: %v", err)
			}
		}
		if won != 1 || lost != 1 {
			t.Fatalf("%d won and %d lost, want 1 and 1", won, lost)
		}
	})

	t.Run("a take-over of an ended or unknown deployment fails", func(t *testing.T) {
		s := open(t)
		d := create(t, s, deployment("api", "prod", 1))
		d.State = strata.Failed
		must(t, s.UpdateDeployment(ctx(t), d, nil))
		wantCode(t, s.TakeOver(ctx(t), d.ID, strata.Owner{}, owner(2), until, nil), strata.ECONFLICT)
		wantCode(t, s.TakeOver(ctx(t), "d-0000000000", owner(1), owner(2), until, nil), strata.ENOTFOUND)
	})
}

func testDeploymentFilters(t *testing.T, open func(t *testing.T) strata.Store) {
	s := open(t)
	var made []*strata.Deployment
	for i, c := range []struct{ service, env, state, promotion string }{
		{"api", "dev", strata.Succeeded, ""},
		{"api", "prod", strata.Failed, "p-1"},
		{"web", "dev", strata.Running, ""},
		{"api", "prod", strata.Running, "p-1"},
		{"api", "dev", strata.Pending, ""},
	} {
		d := deployment(c.service, c.env, i)
		d.State, d.PromotionID = c.state, c.promotion
		made = append(made, create(t, s, d))
	}
	id := func(is ...int) string { return ids(at(made, is...)) }
	tests := []struct {
		name string
		f    strata.DeploymentFilter
		want string
	}{
		{"no filter lists all, newest first", strata.DeploymentFilter{}, id(4, 3, 2, 1, 0)},
		{"by service", strata.DeploymentFilter{Service: "api"}, id(4, 3, 1, 0)},
		{"by environment", strata.DeploymentFilter{Environment: "dev"}, id(4, 2, 0)},
		{"by service and environment", strata.DeploymentFilter{Service: "api", Environment: "prod"}, id(3, 1)},
		{"by states", strata.DeploymentFilter{States: []string{strata.Running, strata.Pending}}, id(4, 3, 2)},
		{"by promotion", strata.DeploymentFilter{PromotionID: "p-1"}, id(3, 1)},
		{"the newest few", strata.DeploymentFilter{Service: "api", Limit: 2}, id(4, 3)},
		{"nothing matches", strata.DeploymentFilter{Service: "db"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, err := s.Deployments(ctx(t), tt.f)
			must(t, err)
			if got := ids(ds); got != tt.want {
				t.Fatalf("deployments = %q, want %q", got, tt.want)
			}
		})
	}
}

func testLogs(t *testing.T, open func(t *testing.T) strata.Store) {
	s := open(t)
	a := create(t, s, deployment("api", "prod", 1))
	b := create(t, s, deployment("web", "prod", 2))
	for i, c := range []struct {
		id, data string
	}{{a.ID, "one\n"}, {b.ID, "other\n"}, {a.ID, "two\n"}, {a.ID, "three\n"}} {
		must(t, s.AppendLog(ctx(t), c.id, strata.LogChunk{Attempt: 1 + i/3, Step: "deploy", Data: c.data}))
	}
	all, err := s.Logs(ctx(t), a.ID, 0)
	must(t, err)
	var got []string
	for i, c := range all {
		got = append(got, c.Data)
		if c.Step != "deploy" || c.At.IsZero() || (i > 0 && c.Seq <= all[i-1].Seq) {
			t.Errorf("chunk %d = %+v, want step deploy, a time, and a growing seq", i, c)
		}
	}
	if g := strings.Join(got, ""); g != "one\ntwo\nthree\n" {
		t.Fatalf("logs = %q, want one, two, three", g)
	}
	if all[2].Attempt != 2 {
		t.Errorf("attempt of the third chunk = %d, want 2", all[2].Attempt)
	}
	rest, err := s.Logs(ctx(t), a.ID, all[0].Seq)
	must(t, err)
	if len(rest) != 2 || rest[0].Data != "two\n" || rest[1].Data != "three\n" {
		t.Fatalf("logs after the first = %+v, want two and three", rest)
	}
	none, err := s.Logs(ctx(t), a.ID, all[2].Seq)
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("logs after the last = %+v, want none", none)
	}
	wantCode(t, s.AppendLog(ctx(t), "d-0000000000", strata.LogChunk{Step: "deploy", Data: "x"}), strata.ENOTFOUND)
}
