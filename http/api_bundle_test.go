package http_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	strhttp "github.com/strata-dev/strata/http"
)

// TestABundleComesBackOverHTTPAsItWentIn uploads a bundle to a real server and downloads it
// again, as a remote checkout or an agent fetches what it deploys.
func TestABundleComesBackOverHTTPAsItWentIn(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	arts := t.TempDir()
	os.WriteFile(filepath.Join(arts, "api"), []byte("#!/bin/sh\necho api\n"), 0o755)
	os.MkdirAll(filepath.Join(arts, "static"), 0o755)
	os.WriteFile(filepath.Join(arts, "static", "index.html"), bytes.Repeat([]byte("<p>hi</p>\n"), 300_000), 0o644)
	b, err := engine.NewBundle(arts, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pr, pw := io.Pipe()
	go func() {
		_, err := b.WriteTo(pw)
		pw.CloseWithError(err)
	}()
	alice, err := strhttp.NewClient(x.url, x.tokens["alice"])
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.UploadBundle(t.Context(), b.Digest, pr); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		who    string
		digest string
		code   string // "" when the bundle comes back
	}{
		{"a deployer downloads the bundle it uploaded", "alice", b.Digest, ""},
		{"a deployer scoped to dev downloads it too", "dave", b.Digest, ""},
		{"a bundle the server does not keep is not found", "alice", "sha256:" + strings.Repeat("0", 64), strata.ENOTFOUND},
		{"a digest that is not one is refused", "alice", "sha256:nothex", strata.EINVALID},
		{"a viewer may not download bundles", "victor", b.Digest, strata.EUNAUTHORIZED},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl, err := strhttp.NewClient(x.url, x.tokens[c.who])
			if err != nil {
				t.Fatal(err)
			}
			rc, err := cl.OpenBundle(t.Context(), c.digest)
			if got := strata.ErrorCode(err); got != c.code {
				t.Fatalf("error code %q, want %q (%v)", got, c.code, err)
			}
			if err != nil {
				return
			}
			defer rc.Close()
			a, r, err := strata.ScanBundle(rc, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := strata.BundleDigest(a, r); got != c.digest {
				t.Errorf("the downloaded bundle has digest %s, want %s", got, c.digest)
			}
		})
	}
}

// TestAnEngineWithoutTheBundleFetchesItFromAServer deploys, from a state directory of its
// own, a release another machine made, fetching the bundle over HTTP (the way an agent,
// which has no store, does) and running its bytes.
func TestAnEngineWithoutTheBundleFetchesItFromAServer(t *testing.T) {
	x := newAPIEstate(t, `project: far
environments:
  dev: {}
services:
  web:
    build: printf 'built bytes' > "$STRATA_ARTIFACTS/web.txt"
    deploy: cp "$STRATA_ARTIFACTS/web.txt" "$OUT"
`)
	rel, err := x.as("alice").Release(t.Context(), "web", "1")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "deployed")
	far := engine.New(x.engine.Project, x.store, "faraway")
	far.StateDir = t.TempDir()
	far.BaseEnv = append(os.Environ(), "OUT="+out)
	if far.Bundles, err = strhttp.NewClient(x.url, x.tokens["alice"]); err != nil {
		t.Fatal(err)
	}
	d, err := far.Deploy(t.Context(), engine.DeployRequest{Service: "web", Version: "1", Env: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); d.State != strata.Succeeded || string(got) != "built bytes" {
		t.Errorf("deployment %s with %q deployed, want succeeded with the release's bytes", d.State, got)
	}
	if !strings.Contains(x.log.String(), "path=/api/v1/bundles/"+rel.Release.Bundle) {
		t.Errorf("the bundle was not fetched from the server; its log:\n%s", x.log.String())
	}
}
