package main_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// gcEstate has an environment behind an approval, so that a promotion can wait.
const gcEstate = `project: gc
environments:
  dev: {}
  prod: {}
  gated:
    policy: {approvals: 1}
services:
  app:
    build: printf '%s\n' "$STRATA_VERSION" > "$STRATA_ARTIFACTS/version.txt"
    deploy: ./deploy/app.sh
pipeline:
  - stage: gated
    environments: [gated]
`

// gcDoc is the document of `gc -o json`.
type gcDoc struct {
	Removed []struct {
		Digest   string   `json:"digest"`
		Bytes    int64    `json:"bytes"`
		Releases []string `json:"releases"`
	} `json:"removed"`
	Kept   int   `json:"kept"`
	Bytes  int64 `json:"bytes"`
	DryRun bool  `json:"dry_run"`
}

func (g gcDoc) releases() string {
	var out []string
	for _, r := range g.Removed {
		out = append(out, strings.Join(r.Releases, "+"))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func (e *estate) gc(args ...string) gcDoc {
	e.t.Helper()
	var doc gcDoc
	jsonDoc(e.t, e.must(0, append([]string{"gc", "-o", "json"}, args...)...), &doc)
	return doc
}

func TestGCRemovesOnlyBundlesNothingDeployableNeeds(t *testing.T) {
	t.Parallel()
	stores := []struct {
		name string
		open func(t *testing.T, e *estate) *pgx.Conn
	}{
		{"on SQLite", func(t *testing.T, e *estate) *pgx.Conn { return nil }},
		{"on PostgreSQL", func(t *testing.T, e *estate) *pgx.Conn {
			c, storeURL := pgSchema(t)
			e.env = append(e.env, "STRATA_STORE="+storeURL)
			return c
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e := newEstate(t, gcEstate)
			e.write("deploy/app.sh", strings.ReplaceAll(sharedScript, "@SCRATCH@", e.scratch))
			os.Chmod(filepath.Join(e.dir, "deploy", "app.sh"), 0o755)
			pg := st.open(t, e)
			rels := map[string]releaseDoc{}
			for _, v := range []string{"1", "2", "3", "4", "5", "6"} {
				rels[v] = e.release("app", "--version", v)
			}
			for _, v := range []string{"1", "2", "3"} {
				e.must(0, "deploy", "app@"+v, "--env", "prod")
			}
			e.must(3, "promote", "app@4", "--to", "gated")
			// Kept: 6 (the newest), 3 (runs in prod), 2 (prod's rollback target), 4 (a
			// waiting promotion's). Removed: 1 and 5.
			const want = "app@1 app@5"

			dry := e.gc("--keep", "1", "--min-age", "0", "--dry-run")
			if got := dry.releases(); got != want || !dry.DryRun || dry.Kept != 4 || dry.Bytes <= 0 {
				t.Fatalf("gc --dry-run: %+v, want %s listed, 4 kept, their bytes counted", dry, want)
			}
			if again := e.gc("--keep", "1", "--min-age", "0", "--dry-run"); again.releases() != want {
				t.Errorf("a dry run removed something: the next lists %q", again.releases())
			}
			text := e.must(0, "gc", "--keep", "1", "--min-age", "0", "--dry-run")
			if !strings.Contains(text.stdout, "would remove "+rels["1"].Bundle) || !strings.Contains(text.stdout, "kept 4") {
				t.Errorf("gc --dry-run's text should list what it would remove:\n%s", text)
			}

			done := e.gc("--keep", "1", "--min-age", "0")
			if got := done.releases(); got != want || done.DryRun || done.Kept != 4 || done.Bytes != dry.Bytes {
				t.Fatalf("gc: %+v, want %s removed and 4 kept as the dry run said", done, want)
			}
			if again := e.gc("--keep", "1", "--min-age", "0"); len(again.Removed) != 0 || again.Kept != 4 {
				t.Errorf("a second gc: %+v, want nothing more removed", again)
			}
			if pg != nil {
				var bundles, chunks int
				if err := pg.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM bundles), (SELECT count(*) FROM bundle_chunks)`).Scan(&bundles, &chunks); err != nil || bundles != 4 || chunks != 4 {
					t.Errorf("after gc the store holds %d bundles and %d chunks (%v), want 4 and 4 (one chunk each)", bundles, chunks, err)
				}
			}
			if _, err := os.Stat(filepath.Join(e.dir, ".strata", "artifacts", strings.TrimPrefix(rels["1"].Digest, "sha256:"))); err == nil {
				t.Errorf("the removed bundle's artifacts are still on this machine")
			}
			gcEvents := e.events("--action", "gc")
			if len(gcEvents) != 1 || len(gcEvents[0].Detail["removed"].([]any)) != 2 {
				t.Errorf("audit: %+v, want one gc event naming the two bundles", gcEvents)
			}
			var v verifyDoc
			jsonDoc(t, e.must(0, "audit", "--verify", "-o", "json"), &v)
			if !v.OK {
				t.Errorf("audit --verify after gc: %+v", v)
			}

			r := e.must(3, "deploy", "app@5", "--env", "dev")
			if !strings.Contains(r.stderr, rels["5"].Bundle) || !strings.Contains(r.stderr, "strata gc") || strings.Contains(r.stderr, "panic") {
				t.Errorf("deploying a collected release should say its bundle is gone and why:\n%s", r)
			}
			if ds := e.history("app", "--env", "dev"); len(ds) != 0 {
				t.Errorf("the refused deploy was recorded: %+v", ds)
			}
			if r := e.must(3, "promote", "app@5", "--to", "gated"); !strings.Contains(r.stderr, rels["5"].Bundle) {
				t.Errorf("promoting a collected release should name its bundle:\n%s", r)
			}
			if evs := e.events("--action", "promote"); len(evs) != 1 {
				t.Errorf("the refused promotion was recorded: %d promote events, want only app@4's", len(evs))
			}
			if d := e.deploy(0, "app@2", "--env", "dev"); d.State != "succeeded" {
				t.Errorf("a kept release no longer deploys: %+v", d)
			}
			if got := e.read("deploys"); !strings.HasSuffix(got, "2 dev 1\n") {
				t.Errorf("deploys = %q, want version 2's bytes in dev last", got)
			}

			e.release("app", "--version", "7")
			if young := e.gc("--keep", "1"); len(young.Removed) != 0 {
				t.Errorf("gc --keep 0 removed bundles younger than --min-age's default hour: %+v", young)
			}
			for _, bad := range [][]string{{"--keep", "-1"}, {"--keep", "0"}, {"--min-age", "soon"}} {
				if r := e.run(append([]string{"gc"}, bad...)...); r.code != 2 {
					t.Errorf("gc %v: exit %d, want 2\n%s", bad, r.code, r)
				}
			}
		})
	}
}

func TestGCOverAServerNeedsAnAdmin(t *testing.T) {
	t.Parallel()
	e := newEstate(t, gcEstate)
	e.write("deploy/app.sh", strings.ReplaceAll(sharedScript, "@SCRATCH@", e.scratch))
	os.Chmod(filepath.Join(e.dir, "deploy", "app.sh"), 0o755)
	e.release("app", "--version", "1")
	e.release("app", "--version", "2")
	admin := createToken(t, e, "root", "--role", "admin")
	deployer := createToken(t, e, "ci", "--role", "deployer")
	url := serve(t, e)
	if r := e.as(url, deployer.Token).run("gc", "--dry-run"); r.code != 4 {
		t.Errorf("a deployer ran gc: exit %d, want 4\n%s", r.code, r)
	}
	var doc gcDoc
	jsonDoc(t, e.as(url, admin.Token).must(0, "gc", "--keep", "1", "--min-age", "0", "-o", "json"), &doc)
	if doc.releases() != "app@1" {
		t.Errorf("gc over the server: %+v, want app@1's bundle removed", doc)
	}
	if evs := e.events("--action", "gc"); len(evs) != 1 || evs[0].Actor != "root" {
		t.Errorf("audit: %+v, want one gc event by root", evs)
	}
}
