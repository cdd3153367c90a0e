package report

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/strata-dev/strata"

	"github.com/strata-dev/strata/engine"
)

// GCRequest is the body of POST /api/v1/gc.
type GCRequest struct {
	// Keep is how many of each service's newest releases keep their bundles; 0 means
	// engine.DefaultKeep.
	Keep int `json:"keep,omitempty"`
	// MinAge keeps bundles kept for less than this Go duration ("30m"); "" means
	// engine.DefaultMinAge.
	MinAge string `json:"min_age,omitempty"`
	DryRun bool   `json:"dry_run,omitempty"`
}

// GC is the document of `gc`.
type GC struct {
	Removed []GCBundle `json:"removed"`
	// Kept counts the bundles that stay; Bytes is what the removed ones held.
	Kept   int   `json:"kept"`
	Bytes  int64 `json:"bytes"`
	DryRun bool  `json:"dry_run"`
}

// GCBundle is one bundle removed (or, with dry_run, that would be).
type GCBundle struct {
	Digest   string   `json:"digest"`
	Bytes    int64    `json:"bytes"`
	Releases []string `json:"releases"`
}

// CollectBundles runs (or with DryRun, plans) a collection of bundles.
func CollectBundles(ctx context.Context, e *engine.Engine, req GCRequest) (*GC, error) {
	o := engine.GCOptions{Keep: engine.DefaultKeep, MinAge: engine.DefaultMinAge, DryRun: req.DryRun}
	if req.Keep != 0 {
		o.Keep = req.Keep
	}
	if req.MinAge != "" {
		d, err := time.ParseDuration(req.MinAge)
		if err != nil {
			return nil, strata.Errorf(strata.EINVALID, "--min-age %q: want a duration such as 30m or 2h", req.MinAge)
		}
		o.MinAge = d
	}
	res, err := e.GC(ctx, o)
	if res == nil {
		return nil, err
	}
	doc := &GC{Removed: []GCBundle{}, Kept: res.Kept, Bytes: res.Bytes, DryRun: res.DryRun}
	for _, b := range res.Removed {
		rs := b.Releases
		if rs == nil {
			rs = []string{}
		}
		doc.Removed = append(doc.Removed, GCBundle{Digest: b.Digest, Bytes: b.Bytes, Releases: rs})
	}
	return doc, err
}

// WriteText prints one line a bundle, then the totals.
func (g *GC) WriteText(w io.Writer) {
	verb := "removed"
	if g.DryRun {
		verb = "would remove"
	}
	for _, b := range g.Removed {
		names := "no release"
		if len(b.Releases) > 0 {
			names = strings.Join(b.Releases, ", ")
		}
		fmt.Fprintf(w, "%s %s  %s  (%s)\n", verb, b.Digest, FormatBytes(b.Bytes), names)
	}
	fmt.Fprintf(w, "%s %d bundle(s), %s; kept %d\n", verb, len(g.Removed), FormatBytes(g.Bytes), g.Kept)
}

// FormatBytes prints a size in bytes, KiB, MiB or GiB.
func FormatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
