package http

import (
	"context"
	"fmt"
	"io"
	"net/url"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// The upload of a release's bundle is the one route whose body is not JSON: a tar stream,
// read as it arrives (never held whole in memory), capped at Config.MaxUpload, and checked
// against the digest the client sends in the query before anything is kept.

// Bundle is the answer to an upload: the digest the bundle is kept under, for the release
// request that follows (report.ReleaseRequest.Bundle).
type Bundle struct {
	Bundle string `json:"bundle"`
}

// uploadBundle serves POST /api/v1/bundles?digest=sha256:...
func (s *Server) uploadBundle(c *call) (any, error) {
	digest := c.q("digest")
	if digest == "" {
		return nil, strata.Errorf(strata.EINVALID, "query parameter digest is missing; send the bundle's digest as digest=sha256:...")
	}
	limit := s.cfg.MaxUpload
	if limit <= 0 {
		limit = engine.MaxUpload
	}
	if c.r.ContentLength > limit {
		return nil, strata.Errorf(strata.EINVALID, "the bundle is %d bytes, more than the server's cap of %d MiB (serve --max-upload); ship large files elsewhere or raise the cap", c.r.ContentLength, limit>>20)
	}
	if err := c.eng.StoreUpload(c.r.Context(), c.r.Body, digest, limit); err != nil {
		return nil, err
	}
	return &Bundle{Bundle: digest}, nil
}

// UploadBundle streams a bundle (engine.WriteBundle's tar stream) to the server under
// digest, which the server checks before it keeps anything.
func (c *Client) UploadBundle(ctx context.Context, digest string, body io.Reader) error {
	var doc Bundle
	_, err := c.do(ctx, "POST", "/api/v1/bundles", url.Values{"digest": {digest}}, body, &doc)
	if err != nil {
		return fmt.Errorf("upload bundle %s: %w", digest, err)
	}
	return nil
}
