package http

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/strata-dev/strata"
)

// downloadBundle serves GET /api/v1/bundles/{digest}: the bundle's tar stream, in the
// format POST /api/v1/bundles takes, streamed from the stored trees. An agent's token may
// download only the bundle of a deployment it holds a claim on.
func (s *Server) downloadBundle(c *call) (any, error) {
	digest := c.r.PathValue("digest")
	ctx := c.r.Context()
	if c.tok.Role == strata.RoleAgent {
		if err := s.agentMayFetch(c, digest); err != nil {
			return nil, err
		}
	}
	b, err := s.engine.OpenBundle(ctx, digest)
	if err != nil {
		return nil, err
	}
	c.wrote = true
	h := c.w.Header()
	h.Set("Content-Type", "application/x-tar")
	h.Set(ExitHeader, "0")
	c.w.WriteHeader(http.StatusOK)
	if _, err := b.WriteTo(c.w); err != nil {
		// The status is sent: the client sees a cut stream, which fails its digest check.
		s.log.Warn("send bundle", "digest", digest, "err", err)
	}
	return nil, nil
}

// agentMayFetch checks an agent's token holds a claim on a deployment of a release whose
// bundle is digest, in an environment the token covers.
func (s *Server) agentMayFetch(c *call, digest string) error {
	ctx := c.r.Context()
	ds, err := s.store.Deployments(ctx, strata.DeploymentFilter{States: []string{strata.Running}})
	if err != nil {
		return err
	}
	for _, d := range ds {
		if d.Pool == "" || !d.Owner.IsAgent() || !c.tok.Covers(c.p.Environment(d.Environment)) {
			continue
		}
		if rel, err := s.store.Release(ctx, d.Service, d.Version); err == nil && rel.Bundle == digest {
			return nil
		}
	}
	s.auditDenied(ctx, c.r, c.tok, strata.ActFetch, "")
	return deny("%s's token holds no claim on a deployment of bundle %s; an agent downloads only the bundles of its claims", c.tok.Name, digest)
}

// FetchBundle downloads the bundle named digest: the caller reads the tar stream and closes
// it. The stream is what the server sent; the caller checks it against digest.
func (c *Client) FetchBundle(ctx context.Context, digest string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.URL+"/api/v1/bundles/"+url.PathEscape(digest), nil)
	if err != nil {
		return nil, strata.Errorf(strata.EINVALID, "--server %s: %w", c.where(), err)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, c.unreachable(ctx, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, fmt.Errorf("fetch bundle %s: %w", digest, c.errorOf(resp, "GET", req.URL.Path, resp.Header.Get(ErrorCodeHeader), data))
	}
	return resp.Body, nil
}
