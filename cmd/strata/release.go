package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/report"
)

func (a *app) releaseCommand() *cobra.Command {
	var req report.ReleaseRequest
	c := &cobra.Command{
		Use:   "release SERVICE [--version V] [--artifact PATH]...",
		Short: "Build a service once (or take --artifact files built elsewhere), store its bundle, record the release, land it in the auto stages",
		Args:  exactArgs(1, "one SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkParallel(req.Parallel); err != nil {
				return err
			}
			req.Service = args[0]
			if len(req.Artifacts) > 0 {
				if req.Version == "" {
					return strata.Errorf(strata.EINVALID, "--artifact needs --version: a release built elsewhere takes the version CI gave it")
				}
				for i, p := range req.Artifacts {
					abs, err := filepath.Abs(p)
					if err != nil {
						return strata.Errorf(strata.EINVALID, "--artifact %q: %w", p, err)
					}
					if _, err := os.Stat(abs); err != nil {
						return strata.Errorf(strata.EINVALID, "--artifact %q: no such file or directory; name a file or directory the build made", p)
					}
					req.Artifacts[i] = abs
				}
				if a.client != nil {
					digest, err := a.uploadBundle(cmd.Context(), req.Service, req.Artifacts)
					if err != nil {
						return err
					}
					req.Artifacts, req.Bundle = nil, digest
				}
			}
			doc, err := invoke(cmd.Context(), a, command.Release, req)
			return show(a, doc, err, doc.WriteText)
		},
	}
	c.Flags().StringVar(&req.Version, "version", "", "release version (default: git describe --always --dirty, else a timestamp)")
	c.Flags().StringArrayVar(&req.Artifacts, "artifact", nil, "a file or directory built elsewhere (CI) to record as the release's artifacts instead of running build (repeatable); with --server it is uploaded")
	parallelFlag(c, &req.Parallel)
	return c
}

// uploadBundle gathers the artifacts and the project's recipe files for service into a
// bundle and streams it to the server, which checks its digest. It returns the digest.
func (a *app) uploadBundle(ctx context.Context, service string, artifacts []string) (string, error) {
	p, err := a.loadProject()
	if err != nil {
		return "", fmt.Errorf("release --artifact with --server takes the service's scripts from the project in %s: %w", a.dir, err)
	}
	files, err := (&engine.Engine{Project: p, StateDir: a.stateDir()}).BundleFiles(service)
	if err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp("", "strata-artifacts-")
	if err != nil {
		return "", fmt.Errorf("gather artifacts: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := engine.CopyArtifacts(tmp, artifacts); err != nil {
		return "", err
	}
	b, err := engine.NewBundle(tmp, p.Dir, files)
	if err != nil {
		return "", fmt.Errorf("gather the bundle of %s: %w", service, err)
	}
	defer b.Close()
	pr, pw := io.Pipe()
	go func() {
		_, err := b.WriteTo(pw)
		pw.CloseWithError(err)
	}()
	err = a.client.UploadBundle(ctx, b.Digest, pr)
	pr.Close()
	if err != nil {
		return "", err
	}
	fmt.Fprintf(a.stderr, "uploaded bundle %s (%d artifact path(s), %d recipe file(s))\n", b.Digest, len(artifacts), len(files))
	return b.Digest, nil
}
