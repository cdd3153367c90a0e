package http

import (
	"slices"
	"testing"

	"github.com/strata-dev/strata"
)

func TestHeldClaimsWokenTogetherLookOnceForNothing(t *testing.T) {
	none := func() (*Claimed, error) { return nil, strata.Errorf(strata.ENOTFOUND, "nothing pending") }
	one := func() (*Claimed, error) { return &Claimed{Deployment: "d-1"}, nil }
	tests := []struct {
		name  string
		empty uint64 // the generation a look found nothing for before
		woken bool
		gen   uint64
		claim func() (*Claimed, error)
		looks bool
		after uint64
	}{
		{"a claim woken by a generation someone found empty skips its look", 3, true, 3, none, false, 3},
		{"a claim woken by a newer generation looks, and records it empty", 3, true, 4, none, true, 4},
		{"a claim its poll woke always looks, for deployments made elsewhere", 3, false, 3, one, true, 3},
		{"a look that takes a deployment records nothing empty", 3, true, 4, one, true, 3},
		{"a look that finds nothing for an older generation keeps the newer", 5, false, 4, none, true, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &claimGate{empty: tt.empty}
			looked := false
			_, skipped, _ := g.try(tt.woken, tt.gen, func() (*Claimed, error) { looked = true; return tt.claim() })
			if looked != tt.looks || skipped == tt.looks || g.empty != tt.after {
				t.Errorf("looked %v, skipped %v, empty %d; want looked %v, empty %d", looked, skipped, g.empty, tt.looks, tt.after)
			}
		})
	}
}

func TestATokensShareOfAPoolIsWorkedOutAgainForANewProject(t *testing.T) {
	var cs coverages
	p1, p2 := &strata.Project{}, &strata.Project{}
	cs.put(coverageKey{p: p1, hash: "h", pool: "eu"}, poolShare{envs: []string{"prod-eu"}, all: true})
	if got, ok := cs.get(coverageKey{p: p1, hash: "h", pool: "eu"}); !ok || len(got.envs) != 1 {
		t.Fatalf("the share is not cached: %+v %v", got, ok)
	}
	if _, ok := cs.get(coverageKey{p: p1, hash: "other", pool: "eu"}); ok {
		t.Errorf("another token's share came from the cache")
	}
	cs.put(coverageKey{p: p2, hash: "h", pool: "us"}, poolShare{envs: []string{"prod-us"}})
	if _, ok := cs.get(coverageKey{p: p1, hash: "h", pool: "eu"}); ok {
		t.Errorf("a share of the old project outlived the new one")
	}
}

func TestAClaimTakesTheJobKindsItNames(t *testing.T) {
	cases := []struct {
		name        string
		kinds       []string
		deploy      bool
		tasks       []string
		wantRefused bool
	}{
		{"a claim naming no kinds (an older agent) takes deployments only", nil, true, nil, false},
		{"a claim naming deploy, run, destroy, observe and health takes them all", []string{"deploy", "run", "destroy", "observe", "health"}, true, []string{"destroy", "health", "observe", "run"}, false},
		{"a claim of an agent from before health checks takes none", []string{"deploy", "run", "destroy", "observe"}, true, []string{"destroy", "observe", "run"}, false},
		{"a claim naming run takes runbook runs only", []string{"run"}, false, []string{"run"}, false},
		{"a claim naming an unknown kind is refused", []string{"deploy", "teleport"}, false, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			deploy, tasks, err := claimKinds(tc.kinds)
			if (err != nil) != tc.wantRefused || (err != nil && strata.ErrorCode(err) != strata.EINVALID) {
				t.Fatalf("claimKinds(%v) error %v, want refused %v", tc.kinds, err, tc.wantRefused)
			}
			if err == nil && (deploy != tc.deploy || !slices.Equal(tasks, tc.tasks)) {
				t.Errorf("claimKinds(%v) = deploy %v, tasks %v; want %v, %v", tc.kinds, deploy, tasks, tc.deploy, tc.tasks)
			}
		})
	}
}
