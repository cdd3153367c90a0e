package main_test

// End-to-end tests of bundles kept in the PostgreSQL store: a team shares one store from
// several checkouts, and any of them deploys, rolls back, resumes, observes and destroys a
// release another one built, fetching its bundle and checking its digest first.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// sharedEstate's build writes the version into the artifacts; its steps read it from there,
// so a step that ran without the release's bundle would say so. Attempt 1 of a deploy to dev
// waits while the scratch file hold exists.
const sharedEstate = `project: shared
environments:
  dev: {}
  prod: {}
services:
  app:
    build: printf '%s\n' "$STRATA_VERSION" > "$STRATA_ARTIFACTS/version.txt"
    deploy: ./deploy/app.sh
    observe: cat "$STRATA_ARTIFACTS/version.txt"
    destroy: ./deploy/app.sh destroy
`

const sharedScript = `#!/bin/sh
v=$(cat "$STRATA_ARTIFACTS/version.txt") || exit 9
if [ "$1" = destroy ]; then echo "$v $STRATA_ENV" >> @SCRATCH@/destroyed; exit 0; fi
if [ -e @SCRATCH@/hold ] && [ "$STRATA_ENV" = dev ] && [ "$STRATA_ATTEMPT" = 1 ]; then
  touch @SCRATCH@/started
  while [ -e @SCRATCH@/hold ]; do sleep 0.05; done
fi
echo "$v $STRATA_ENV $STRATA_ATTEMPT" >> @SCRATCH@/deploys
`

// checkout returns another checkout of e's project: a directory of its own with the same
// files and no .strata (so no bundle of its own), sharing e's store and scratch directory.
func (e *estate) checkout(t *testing.T) *estate {
	t.Helper()
	c := *e
	c.t = t
	c.dir = filepath.Join(t.TempDir(), "checkout")
	for _, name := range []string{"strata.yaml", "deploy/app.sh"} {
		b, err := os.ReadFile(filepath.Join(e.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		c.write(name, string(b))
	}
	os.Chmod(filepath.Join(c.dir, "deploy", "app.sh"), 0o755)
	return &c
}

// newSharedEstate writes sharedEstate on a fresh PostgreSQL schema.
func newSharedEstate(t *testing.T) (*estate, *pgx.Conn) {
	c, storeURL := pgSchema(t)
	e := newEstate(t, sharedEstate)
	e.write("deploy/app.sh", strings.ReplaceAll(sharedScript, "@SCRATCH@", e.scratch))
	os.Chmod(filepath.Join(e.dir, "deploy", "app.sh"), 0o755)
	e.env = append(e.env, "STRATA_STORE="+storeURL)
	return e, c
}

func TestEveryCheckoutOnAPostgresStoreDeploysWhatAnotherReleased(t *testing.T) {
	t.Parallel()
	a, _ := newSharedEstate(t)
	one := a.release("app", "--version", "1")
	a.release("app", "--version", "2")
	if one.Bundle == "" {
		t.Fatalf("the release names no bundle: %+v", one)
	}
	cached := func(e *estate, digest string) bool {
		_, err := os.Stat(filepath.Join(e.dir, ".strata", "artifacts", strings.TrimPrefix(digest, "sha256:")))
		return err == nil
	}

	t.Run("deploy from another checkout fetches the bundle and runs its bytes", func(t *testing.T) {
		b := a.checkout(t)
		r := b.must(0, "deploy", "app@1", "--env", "prod")
		if !strings.Contains(r.stderr, "fetched bundle") {
			t.Errorf("the deploy should say it fetched the bundle:\n%s", r)
		}
		if !cached(b, one.Digest) {
			t.Errorf("the bundle is not in the second checkout's cache")
		}
		if got := a.read("deploys"); got != "1 prod 1\n" {
			t.Errorf("deploys = %q, want version 1 deployed to prod from the fetched artifacts", got)
		}
	})

	t.Run("rollback from a third checkout returns to the release before", func(t *testing.T) {
		a.checkout(t).must(0, "deploy", "app@2", "--env", "prod")
		c := a.checkout(t)
		var d deployment
		jsonDoc(t, c.must(0, "rollback", "app", "--env", "prod", "-o", "json"), &d)
		if d.Version != "1" || d.State != "succeeded" {
			t.Errorf("rollback: %+v, want version 1 succeeded", d)
		}
		if lines := strings.Fields(a.read("deploys")); len(lines) < 3 || strings.Join(lines[len(lines)-3:], " ") != "1 prod 1" {
			t.Errorf("deploys = %q, want the rollback to run version 1's bytes last", a.read("deploys"))
		}
	})

	t.Run("resume from another checkout runs an interrupted deployment again", func(t *testing.T) {
		os.WriteFile(a.path("hold"), nil, 0o644)
		defer os.Remove(a.path("hold"))
		d := a.checkout(t)
		dead := d.start("deploy", "app@2", "--env", "dev")
		waitFor(t, 30*time.Second, "the deploy step to start", func() bool {
			_, err := os.Stat(a.path("started"))
			return err == nil
		})
		dead.cmd.Process.Kill()
		dead.wait(t, 10*time.Second)
		r := a.checkout(t).must(0, "resume")
		if !strings.Contains(a.read("deploys"), "2 dev 2\n") || strings.Contains(a.read("deploys"), "2 dev 1\n") {
			t.Errorf("deploys = %q, want attempt 2 of version 2 in dev and no attempt 1\n%s", a.read("deploys"), r)
		}
	})

	t.Run("observe from another checkout reads the release's artifacts", func(t *testing.T) {
		var doc struct {
			Drift []struct{ Service, Environment, Kind, Detail string } `json:"drift"`
		}
		r := a.checkout(t).must(0, "drift", "-o", "json")
		jsonDoc(t, r, &doc)
		for _, d := range doc.Drift {
			if d.Kind == "version" {
				t.Errorf("observe from a fresh checkout reported %+v; it should read the fetched artifacts\n%s", d, r)
			}
		}
	})

	t.Run("destroy from another checkout runs the release's destroy step", func(t *testing.T) {
		a.must(0, "env", "create", "tmp", "--like", "dev")
		a.checkout(t).must(0, "deploy", "app@1", "--env", "tmp")
		a.checkout(t).must(0, "env", "destroy", "tmp")
		if got := a.read("destroyed"); got != "1 tmp\n" {
			t.Errorf("destroyed = %q, want version 1's destroy step run in tmp", got)
		}
	})
}

func TestABundleTheStoreLacksOrHoldsDamagedIsRefusedBeforeTheClaim(t *testing.T) {
	t.Parallel()
	a, c := newSharedEstate(t)
	rel := a.release("app", "--version", "3")

	t.Run("a damaged chunk is refused naming both digests, and nothing runs", func(t *testing.T) {
		tag, err := c.Exec(t.Context(), `UPDATE bundle_chunks SET data = overlay(data placing '9'::bytea from position('3'::bytea || '\x0a'::bytea in data) for 1) WHERE upload = (SELECT upload FROM bundles WHERE digest = $1) AND seq = 0`, rel.Bundle)
		if err != nil || tag.RowsAffected() != 1 {
			t.Fatalf("corrupt the chunk: %v (%v rows)", err, tag)
		}
		b := a.checkout(t)
		r := b.must(1, "deploy", "app@3", "--env", "prod")
		if !strings.Contains(r.stderr, rel.Bundle) || !strings.Contains(r.stderr, "damaged") || !strings.Contains(r.stderr, "it has digest sha256:") {
			t.Errorf("the refusal should name the release's digest and the one fetched:\n%s", r)
		}
		if got := a.read("deploys"); got != "" {
			t.Errorf("a step ran from a damaged bundle: deploys = %q", got)
		}
		if ds := b.history("app"); len(ds) != 0 {
			t.Errorf("the refusal was recorded as deployments: %+v", ds)
		}
		if entries(t, filepath.Join(b.dir, ".strata", "artifacts")) != "" {
			t.Errorf("the damaged bundle was kept in the checkout's cache")
		}
	})

	t.Run("a bundle the store lacks is blocked, saying which and how to restore it", func(t *testing.T) {
		if _, err := c.Exec(t.Context(), `DELETE FROM bundles WHERE digest = $1`, rel.Bundle); err != nil {
			t.Fatal(err)
		}
		b := a.checkout(t)
		r := b.must(3, "deploy", "app@3", "--env", "prod")
		if !strings.Contains(r.stderr, rel.Bundle) || !strings.Contains(r.stderr, "release app again") {
			t.Errorf("the refusal should name the bundle and say to release again:\n%s", r)
		}
		if ds := b.history("app"); len(ds) != 0 {
			t.Errorf("the refusal was recorded as deployments: %+v", ds)
		}
		// The checkout that built it releases the same bytes again, which restores it.
		a.release("app", "--version", "3")
		if d := b.deploy(0, "app@3", "--env", "prod"); d.State != "succeeded" {
			t.Errorf("after the release again: %+v, want succeeded", d)
		}
	})
}

func TestABundleCIUploadsToAServerOnPostgresDeploysFromAnyCheckout(t *testing.T) {
	t.Parallel()
	a, c := newSharedEstate(t)
	ci := createToken(t, a, "ci-bot", "--role", "deployer")
	url := serve(t, a)
	build := a.checkout(t)
	dist := filepath.Join(t.TempDir(), "dist")
	os.MkdirAll(dist, 0o755)
	os.WriteFile(filepath.Join(dist, "version.txt"), []byte("built-by-ci\n"), 0o644)
	var rel releaseDoc
	jsonDoc(t, build.as(url, ci.Token).must(0, "release", "app", "--version", "9", "--artifact", dist, "-o", "json"), &rel)
	var chunks int
	if err := c.QueryRow(t.Context(), `SELECT count(*) FROM bundle_chunks c JOIN bundles b ON b.upload = c.upload WHERE b.digest = $1`, rel.Bundle).Scan(&chunks); err != nil || chunks == 0 {
		t.Fatalf("the upload is not in PostgreSQL: %d chunks (%v)", chunks, err)
	}
	if d := a.checkout(t).deploy(0, "app@9", "--env", "prod"); d.State != "succeeded" {
		t.Fatalf("deploy from another checkout: %+v", d)
	}
	if got := a.read("deploys"); got != "built-by-ci prod 1\n" {
		t.Errorf("deploys = %q, want CI's bytes deployed from the store", got)
	}
}
