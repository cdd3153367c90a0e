package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

// check returns a health check of api in prod's deployment dep, made at minute m.
func check(dep, health string, m int) *strata.HealthCheck {
	c := &strata.HealthCheck{Service: "api", Environment: "prod", Deployment: dep, Health: health,
		CheckedAt: time.Date(2030, 1, 1, 12, m, 0, 0, time.UTC)}
	if health == strata.Unhealthy {
		c.Detail = fmt.Sprintf("GET http://127.0.0.1:8080/healthz: 503 Service Unavailable (minute %d)", m)
	}
	return c
}

// healthEvent is the event a server gives RecordHealth.
func healthEvent(c *strata.HealthCheck) *strata.Event {
	return &strata.Event{Actor: "scheduler", Action: "health." + c.Health}
}

// record records c and returns whether the store said it changed.
func record(t *testing.T, s strata.Store, c *strata.HealthCheck) bool {
	t.Helper()
	changed, err := s.RecordHealth(ctx(t), c, healthEvent(c))
	must(t, err)
	return changed
}

// healthEvents returns the actions of the health events, oldest first.
func healthEvents(t *testing.T, s strata.Store) []string {
	t.Helper()
	evs, err := s.Events(ctx(t), strata.EventFilter{})
	must(t, err)
	var out []string
	for _, e := range evs {
		out = append(out, e.Action+" "+e.Subject)
	}
	return out
}

// onlyCheck returns the one health check the store lists.
func onlyCheck(t *testing.T, s strata.Store) *strata.HealthCheck {
	t.Helper()
	cs, err := s.HealthChecks(ctx(t))
	must(t, err)
	if len(cs) != 1 {
		t.Fatalf("%d health checks listed, want 1: %+v", len(cs), cs)
	}
	return cs[0]
}

func testHealth(t *testing.T, open func(t *testing.T) strata.Store) {
	t.Run("a store with no checks lists none", func(t *testing.T) {
		s := open(t)
		cs, err := s.HealthChecks(ctx(t))
		must(t, err)
		if len(cs) != 0 {
			t.Errorf("listed %+v, want nothing", cs)
		}
	})

	t.Run("a first check that passes is kept and changes nothing", func(t *testing.T) {
		s := open(t)
		if record(t, s, check("d1", strata.Healthy, 1)) {
			t.Error("a first healthy check was reported as a change")
		}
		got, want := onlyCheck(t, s), check("d1", strata.Healthy, 1)
		if got.Service != want.Service || got.Environment != want.Environment || got.Deployment != "d1" ||
			got.Health != strata.Healthy || got.Detail != "" || !sameTime(got.CheckedAt, want.CheckedAt) || !sameTime(got.Since, want.CheckedAt) {
			t.Errorf("listed %+v, want %+v since its check", got, want)
		}
		if evs := healthEvents(t, s); len(evs) != 0 {
			t.Errorf("events %v, want none", evs)
		}
	})

	t.Run("a deployment that stops passing and recovers changes twice, with one event each", func(t *testing.T) {
		s := open(t)
		steps := []struct {
			c       *strata.HealthCheck
			changed bool
			since   int // minute
		}{
			{check("d1", strata.Healthy, 1), false, 1},
			{check("d1", strata.Unhealthy, 2), true, 2},
			{check("d1", strata.Unhealthy, 3), false, 2},
			{check("d1", strata.Healthy, 4), true, 4},
			{check("d1", strata.Healthy, 5), false, 4},
		}
		for _, st := range steps {
			if got := record(t, s, st.c); got != st.changed {
				t.Errorf("%s at minute %d: changed = %v, want %v", st.c.Health, st.c.CheckedAt.Minute(), got, st.changed)
			}
			if want := check("", "", st.since).CheckedAt; !sameTime(st.c.Since, want) {
				t.Errorf("%s at minute %d: since %s, want %s", st.c.Health, st.c.CheckedAt.Minute(), st.c.Since, want)
			}
		}
		got := onlyCheck(t, s)
		if got.Health != strata.Healthy || !sameTime(got.Since, check("", "", 4).CheckedAt) {
			t.Errorf("listed %+v, want healthy since minute 4", got)
		}
		if got, want := fmt.Sprint(healthEvents(t, s)), "[health.unhealthy d1 health.healthy d1]"; got != want {
			t.Errorf("events %s, want %s", got, want)
		}
	})

	t.Run("an unhealthy check keeps what it observed", func(t *testing.T) {
		s := open(t)
		c := check("d1", strata.Unhealthy, 2)
		c.Detail = `GET http://127.0.0.1:8080/healthz: body does not contain "v1.1.0" (it begins "ok ' ; DROP TABLE health; --")`
		record(t, s, c)
		if got := onlyCheck(t, s); got.Detail != c.Detail {
			t.Errorf("detail %q, want %q", got.Detail, c.Detail)
		}
	})

	t.Run("an older check that arrives late does not overwrite a newer one", func(t *testing.T) {
		s := open(t)
		record(t, s, check("d1", strata.Unhealthy, 5))
		for _, m := range []int{4, 5} {
			if record(t, s, check("d1", strata.Healthy, m)) {
				t.Errorf("a healthy check from minute %d, after one from minute 5, was reported as a change", m)
			}
		}
		if got := onlyCheck(t, s); got.Health != strata.Unhealthy || !sameTime(got.CheckedAt, check("", "", 5).CheckedAt) {
			t.Errorf("listed %+v, want the unhealthy check of minute 5", got)
		}
		if got := healthEvents(t, s); len(got) != 1 {
			t.Errorf("events %v, want the one transition", got)
		}
	})

	t.Run("a new deployment's health starts from healthy", func(t *testing.T) {
		s := open(t)
		record(t, s, check("d1", strata.Unhealthy, 1))
		if record(t, s, check("d2", strata.Healthy, 2)) {
			t.Error("the first healthy check of a new deployment was reported as a change (recovered)")
		}
		if !record(t, s, check("d2", strata.Unhealthy, 3)) {
			t.Error("the new deployment going unhealthy was not reported as a change")
		}
		if got := onlyCheck(t, s); got.Deployment != "d2" || !sameTime(got.Since, check("", "", 3).CheckedAt) {
			t.Errorf("listed %+v, want d2 unhealthy since minute 3", got)
		}
	})

	t.Run("pairs are kept apart and listed by environment, then service", func(t *testing.T) {
		s := open(t)
		for _, p := range [][2]string{{"web", "prod"}, {"api", "prod"}, {"web", "dev"}} {
			c := check("d-"+p[0]+"-"+p[1], strata.Unhealthy, 1)
			c.Service, c.Environment = p[0], p[1]
			if !record(t, s, c) {
				t.Errorf("%s in %s: not reported as a change", p[0], p[1])
			}
		}
		cs, err := s.HealthChecks(ctx(t))
		must(t, err)
		var got []string
		for _, c := range cs {
			got = append(got, c.Environment+"/"+c.Service)
		}
		if want := "[dev/web prod/api prod/web]"; fmt.Sprint(got) != want {
			t.Errorf("listed %v, want %s", got, want)
		}
	})

	t.Run("a check without a time gets the store's", func(t *testing.T) {
		s := open(t)
		c := check("d1", strata.Healthy, 1)
		c.CheckedAt = time.Time{}
		record(t, s, c)
		if c.CheckedAt.IsZero() || onlyCheck(t, s).CheckedAt.IsZero() {
			t.Errorf("CheckedAt was not set: %+v", c)
		}
	})

	t.Run("a check that is not whole is refused and writes nothing", func(t *testing.T) {
		cases := []struct {
			name string
			edit func(c *strata.HealthCheck)
		}{
			{"without a service", func(c *strata.HealthCheck) { c.Service = "" }},
			{"without an environment", func(c *strata.HealthCheck) { c.Environment = "" }},
			{"without a deployment", func(c *strata.HealthCheck) { c.Deployment = "" }},
			{"with health unknown", func(c *strata.HealthCheck) { c.Health = strata.HealthUnknown }},
			{"with no health", func(c *strata.HealthCheck) { c.Health = "" }},
		}
		s := open(t)
		for _, tc := range cases {
			c := check("d1", strata.Unhealthy, 1)
			tc.edit(c)
			changed, err := s.RecordHealth(ctx(t), c, healthEvent(c))
			if changed {
				t.Errorf("%s: reported a change", tc.name)
			}
			if got := strata.ErrorCode(err); got != strata.EINVALID {
				t.Errorf("%s: error code %q, want %q (%v)", tc.name, got, strata.EINVALID, err)
			}
		}
		cs, err := s.HealthChecks(ctx(t))
		must(t, err)
		if len(cs) != 0 || len(healthEvents(t, s)) != 0 {
			t.Errorf("listed %+v and events %v, want nothing", cs, healthEvents(t, s))
		}
	})

	t.Run("of 8 servers that record one transition at once exactly one is told it changed", func(t *testing.T) {
		s := open(t)
		record(t, s, check("d1", strata.Healthy, 0))
		var wg sync.WaitGroup
		var mu sync.Mutex
		changes := 0
		for i := range 8 {
			wg.Go(func() {
				c := check("d1", strata.Unhealthy, 1+i)
				changed, err := s.RecordHealth(ctx(t), c, healthEvent(c))
				if err != nil {
					t.Errorf("record: %v", err)
				}
				if changed {
					mu.Lock()
					changes++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if changes != 1 {
			t.Errorf("%d servers were told the health changed, want 1", changes)
		}
		if got := healthEvents(t, s); len(got) != 1 {
			t.Errorf("events %v, want one", got)
		}
		if got := onlyCheck(t, s); got.Health != strata.Unhealthy {
			t.Errorf("listed %+v, want unhealthy", got)
		}
	})
}
