package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/strata-dev/strata"
)

func testConcurrency(t *testing.T, open func(t *testing.T) strata.Store) {
	t.Run("of 8 goroutines claiming the same pair exactly one wins and the rest name it", func(t *testing.T) {
		s := open(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won []string
		var blocked []error
		for i := range 8 {
			wg.Go(func() {
				d := deployment("api", "prod", i)
				err := s.CreateDeployment(ctx(t), d, &strata.Event{Actor: "w", Action: "deploy"})
				mu.Lock()
				defer mu.Unlock()
				switch strata.ErrorCode(err) {
				case "":
					won = append(won, d.ID)
				case strata.EBLOCKED:
					blocked = append(blocked, err)
				default:
					t.Errorf("claim: %v", err)
				}
			})
		}
		wg.Wait()
		if len(won) != 1 || len(blocked) != 7 {
			t.Fatalf("%d claims won and %d were blocked, want 1 and 7", len(won), len(blocked))
		}
		for _, err := range blocked {
			if !strings.Contains(err.Error(), won[0]) {
				t.Errorf("blocked claim %q does not name the winner %s", err, won[0])
			}
		}
		evs, err := s.Events(ctx(t), strata.EventFilter{})
		must(t, err)
		if len(evs) != 1 {
			t.Fatalf("%d events, want 1 (only the winning claim)", len(evs))
		}
	})

	t.Run("of 32 goroutines claiming 16 pairs two apiece one of each pair wins and only the winners' events stand, in one chain", func(t *testing.T) {
		// The writers share transactions (the group commit), which a server may send with
		// their COMMIT at once: a refused claim must stop its batch before the commit, and
		// leave nothing of its own behind while the others' work stands.
		s := open(t)
		const n = 32
		var wg sync.WaitGroup
		codes := make([]string, n)
		for i := range n {
			wg.Go(func() {
				d := deployment("api", fmt.Sprint("env-", i/2), i)
				codes[i] = strata.ErrorCode(s.CreateDeployment(ctx(t), d, &strata.Event{Actor: "w", Action: "deploy"}))
			})
		}
		wg.Wait()
		for pair := range n / 2 {
			if got := []string{codes[2*pair], codes[2*pair+1]}; !slices.Contains(got, "") || !slices.Contains(got, strata.EBLOCKED) {
				t.Errorf("the claims of env-%d ended %q; want one won and one blocked", pair, got)
			}
		}
		ds, err := s.Deployments(ctx(t), strata.DeploymentFilter{Service: "api"})
		must(t, err)
		evs, err := s.Events(ctx(t), strata.EventFilter{})
		must(t, err)
		if len(ds) != n/2 || len(evs) != n/2 {
			t.Fatalf("%d deployments and %d events, want one of each per pair, %d", len(ds), len(evs), n/2)
		}
		verify(t, evs)
	})

	t.Run("of 8 goroutines opening the same promotion exactly one creates it", func(t *testing.T) {
		s := open(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		seen := map[string]int{}
		created := 0
		for range 8 {
			wg.Go(func() {
				p := promotion("1", "prod")
				err := s.CreatePromotion(ctx(t), p, nil)
				mu.Lock()
				defer mu.Unlock()
				switch strata.ErrorCode(err) {
				case "":
					created++
				case strata.ECONFLICT:
				default:
					t.Errorf("create promotion: %v", err)
				}
				seen[p.ID]++
			})
		}
		wg.Wait()
		if created != 1 || len(seen) != 1 {
			t.Fatalf("%d created, ids %v; want 1 created and every caller given its id", created, seen)
		}
	})

	t.Run("claims of different pairs all proceed at once", func(t *testing.T) {
		s := open(t)
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				d := deployment("api", "env-"+string(rune('a'+i)), i)
				if err := s.CreateDeployment(ctx(t), d, nil); err != nil {
					t.Error(err)
					return
				}
				if err := s.AppendLog(ctx(t), d.ID, strata.LogChunk{Step: "deploy", Data: "x"}); err != nil {
					t.Error(err)
				}
				d.State = strata.Succeeded
				if err := s.UpdateDeployment(ctx(t), d, nil); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		ds, err := s.Deployments(ctx(t), strata.DeploymentFilter{States: []string{strata.Succeeded}})
		must(t, err)
		if len(ds) != 16 {
			t.Fatalf("%d deployments succeeded, want 16", len(ds))
		}
	})
}
