package http

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// A release's bundle crosses the API as a tar stream, never JSON and never held whole in
// memory: uploaded as it arrives (capped at Config.MaxUpload, and checked against the digest
// the client sends in the query before anything is kept), and downloaded as the store reads
// it, for a machine that deploys the release (a remote checkout, an agent), which checks
// the digest itself before it uses anything.

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

// downloadBundle serves GET /api/v1/bundles/{digest}: the bundle's tar stream, as the store
// reads it. Errors found before the first byte (a bad digest, no such bundle) are answered
// as every other; one met half way ends the stream short, which the reader's digest check
// refuses.
func (s *Server) downloadBundle(c *call) (any, error) {
	digest := c.r.PathValue("digest")
	if err := strata.CheckDigest("bundle digest", digest); err != nil {
		return nil, err
	}
	rc, err := c.eng.Store.OpenBundle(c.r.Context(), digest)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	c.wrote = true
	h := c.w.Header()
	h.Set("Content-Type", "application/x-tar")
	h.Set(ExitHeader, "0")
	h.Set(BundleHeader, digest)
	c.w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(c.w, rc); err != nil {
		s.log.Warn("bundle download cut short", "digest", digest, "err", err)
		// The client must see a broken stream, not a short one that ends as if whole.
		panic(http.ErrAbortHandler)
	}
	return nil, nil
}

// BundleHeader names the digest of the bundle a download carries.
const BundleHeader = "Strata-Bundle"

// OpenBundle downloads the tar stream of the bundle digest from the server, read as the
// caller consumes it; the caller closes it and checks its digest (strata.ScanBundle, or a
// BundleStore's PutBundle) before using anything. ENOTFOUND when the server keeps no such
// bundle. A Client is so an engine.BundleSource: an engine without the store fetches the
// bundles it lacks from a server.
func (c *Client) OpenBundle(ctx context.Context, digest string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.URL+"/api/v1/bundles/"+url.PathEscape(digest), nil)
	if err != nil {
		return nil, strata.Errorf(strata.EINVALID, "--server %s: %w", c.where(), err)
	}
	req.Header.Set("Accept", "application/x-tar")
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
	if resp.StatusCode != http.StatusOK || resp.Header.Get(ErrorCodeHeader) != "" {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, fmt.Errorf("download bundle %s: %w", digest, c.errorOf(resp, "GET", "/api/v1/bundles/"+digest, resp.Header.Get(ErrorCodeHeader), data))
	}
	return resp.Body, nil
}
