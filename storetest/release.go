package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

func testReleases(t *testing.T, open func(t *testing.T) strata.Store) {
	t.Run("a new release gets an id and a time and reads back as written", func(t *testing.T) {
		s := open(t)
		r := &strata.Release{Service: "api", Version: "1.0.0", Digest: "sha256:aa", Commit: "abc123", CreatedBy: "alice"}
		must(t, s.CreateRelease(ctx(t), r, nil))
		if !strings.HasPrefix(r.ID, "r-") || r.CreatedAt.IsZero() {
			t.Fatalf("created release has id %q and time %v, want an r- id and a time", r.ID, r.CreatedAt)
		}
		got, err := s.Release(ctx(t), "api", "1.0.0")
		must(t, err)
		if got.ID != r.ID || got.Service != "api" || got.Version != "1.0.0" || got.Digest != "sha256:aa" ||
			got.Commit != "abc123" || got.CreatedBy != "alice" || !sameTime(got.CreatedAt, r.CreatedAt) {
			t.Fatalf("read back %+v, want %+v", got, r)
		}
		if got.CreatedAt.Location() != time.UTC {
			t.Errorf("time is in %v, want UTC", got.CreatedAt.Location())
		}
	})

	t.Run("a release's recipe and bundle digests read back, alone and in the list", func(t *testing.T) {
		s := open(t)
		r := &strata.Release{Service: "api", Version: "1", Digest: "sha256:aa", Recipe: "sha256:bb", Bundle: "sha256:cc"}
		must(t, s.CreateRelease(ctx(t), r, nil))
		one, err := s.Release(ctx(t), "api", "1")
		must(t, err)
		all, err := s.Releases(ctx(t), "api")
		must(t, err)
		if len(all) != 1 {
			t.Fatalf("listed %d releases, want 1", len(all))
		}
		for _, got := range []*strata.Release{one, all[0]} {
			if got.Recipe != "sha256:bb" || got.Bundle != "sha256:cc" {
				t.Errorf("read back recipe %q bundle %q, want sha256:bb and sha256:cc", got.Recipe, got.Bundle)
			}
		}
	})

	t.Run("an id the caller chose is kept", func(t *testing.T) {
		s := open(t)
		r := &strata.Release{ID: "r-chosen", Service: "api", Version: "1", Digest: "sha256:aa"}
		must(t, s.CreateRelease(ctx(t), r, nil))
		got, err := s.Release(ctx(t), "api", "1")
		must(t, err)
		if got.ID != "r-chosen" {
			t.Fatalf("id = %q, want r-chosen", got.ID)
		}
	})

	t.Run("a second release of the same service and version is a conflict and changes nothing", func(t *testing.T) {
		s := open(t)
		first := &strata.Release{Service: "api", Version: "1.0.0", Digest: "sha256:aa"}
		must(t, s.CreateRelease(ctx(t), first, nil))
		second := &strata.Release{Service: "api", Version: "1.0.0", Digest: "sha256:bb"}
		wantCode(t, s.CreateRelease(ctx(t), second, &strata.Event{Actor: "bob", Action: "release"}), strata.ECONFLICT)
		got, err := s.Release(ctx(t), "api", "1.0.0")
		must(t, err)
		if got.ID != first.ID || got.Digest != "sha256:aa" {
			t.Fatalf("after the conflict the release is %+v, want the first one", got)
		}
		evs, err := s.Events(ctx(t), strata.EventFilter{})
		must(t, err)
		if len(evs) != 0 {
			t.Fatalf("a refused change appended %d events, want 0", len(evs))
		}
	})

	t.Run("the same version of another service is a different release", func(t *testing.T) {
		s := open(t)
		must(t, s.CreateRelease(ctx(t), &strata.Release{Service: "api", Version: "1", Digest: "sha256:aa"}, nil))
		must(t, s.CreateRelease(ctx(t), &strata.Release{Service: "web", Version: "1", Digest: "sha256:bb"}, nil))
	})

	t.Run("an unknown release is not found", func(t *testing.T) {
		s := open(t)
		_, err := s.Release(ctx(t), "api", "9.9.9")
		wantCode(t, err, strata.ENOTFOUND)
	})

	t.Run("releases list newest first, by service or all", func(t *testing.T) {
		s := open(t)
		for _, r := range []struct{ service, version string }{{"api", "1"}, {"web", "1"}, {"api", "2"}, {"api", "3"}} {
			must(t, s.CreateRelease(ctx(t), &strata.Release{Service: r.service, Version: r.version, Digest: "sha256:x"}, nil))
		}
		tests := []struct {
			name, service, want string
		}{
			{"one service", "api", "api@3 api@2 api@1"},
			{"every service", "", "api@3 api@2 web@1 api@1"},
			{"a service with none", "db", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rs, err := s.Releases(ctx(t), tt.service)
				must(t, err)
				var got []string
				for _, r := range rs {
					got = append(got, r.Service+"@"+r.Version)
				}
				if g := strings.Join(got, " "); g != tt.want {
					t.Fatalf("releases = %q, want %q", g, tt.want)
				}
			})
		}
	})
}
