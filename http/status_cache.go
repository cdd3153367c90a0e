package http

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/report"
)

// GET /api/v1/status at scale. The matrix comes from the one snapshot every request shares
// (ui_snapshot.go), and its encoded answer is kept too: at 10,000 environments x 5 services
// it is 50,000 cells, some 15 MB of JSON, and twenty clients polling it would otherwise
// spend the server's cores encoding the same document again and again. An answer is kept
// for what it was built from (the snapshot, the project, the deployments whose process is
// gone) and for whom (the token's environments) and what was asked (the query); anything
// else changing makes a new one. Each answer carries an ETag, so a poller that sends
// If-None-Match gets 304 while nothing changed.

// maxStatusAnswers bounds the answers kept for one state of the matrix: each distinct
// query (a page, a scope) is one, and a client walking pages must not grow the server.
const maxStatusAnswers = 64

// statusCache keeps the encoded answers of GET /api/v1/status for one state of the matrix.
type statusCache struct {
	mu      sync.Mutex
	state   statusState
	answers map[string]*statusAnswer
}

// statusState is what the matrix was built from.
type statusState struct {
	snap    *matrixSnapshot
	project *strata.Project
	gone    string // the ids of the deployments whose process is gone, sorted
}

// statusAnswer is one encoded answer, kept compressed only (a twentieth of its size): a
// client that does not take gzip gets it decompressed as it is sent. ready closes when
// it is built (or failed to be).
type statusAnswer struct {
	ready chan struct{}
	gz    []byte
	etag  string
	err   error
	doc   any // the document, when building it failed with one
}

// matrixKey is, in a request's context, the matrix its Site.Matrix returns.
type matrixKey struct{}

// serveStatus answers GET /api/v1/status (d is command.Status) from the kept answers,
// building the one asked for when it is not there: one request builds it while the others
// asking the same wait for it.
func (s *Server) serveStatus(c *call, d command.Decl) (any, error) {
	ctx := c.r.Context()
	snap, err := s.snaps.get(ctx, s.store)
	if err != nil {
		return nil, err
	}
	goneIDs := report.Gone(ctx, c.eng)
	state := statusState{snap: snap, project: c.p, gone: strings.Join(slices.Sorted(maps.Keys(goneIDs)), ",")}
	key := "*"
	if !coversAll(c.tok) {
		key = strings.Join(c.tok.Selectors(), "|")
	}
	key += "?" + c.r.URL.RawQuery

	s.status.mu.Lock()
	if s.status.state != state {
		s.status.state, s.status.answers = state, map[string]*statusAnswer{}
	}
	a, found := s.status.answers[key]
	keep := found || len(s.status.answers) < maxStatusAnswers
	if !found {
		a = &statusAnswer{ready: make(chan struct{})}
		if keep {
			s.status.answers[key] = a
		}
	}
	s.status.mu.Unlock()

	if !found {
		build := func() {
			defer close(a.ready)
			m := report.StatusBy(c.p, snap.readPair, snap.health, goneIDs, report.ConnectedPools(ctx, c.s.store, c.s.now()))
			mctx := context.WithValue(context.WithoutCancel(ctx), matrixKey{}, m)
			doc, err := d.Serve(mctx, site{c}, c.decodeRequest)
			if err != nil {
				a.err, a.doc = err, doc
				return
			}
			a.gz, a.etag, err = compressDoc(doc)
			if err != nil {
				a.err = fmt.Errorf("encode the status: %w", err)
			}
		}
		build()
		if a.err != nil && keep {
			// A failure (a bad cursor) is not kept: the next request judges its own.
			s.status.mu.Lock()
			if s.status.answers[key] == a {
				delete(s.status.answers, key)
			}
			s.status.mu.Unlock()
		}
	} else {
		select {
		case <-a.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if a.err != nil {
		return a.doc, a.err
	}
	c.wrote = true
	s.writeStatus(c.w, c.r, a)
	return nil, nil
}

// compressDoc encodes doc as writeJSON would, straight into a compressor (a status a
// cell at a time, never whole), and returns the compressed bytes and an ETag of the
// uncompressed ones.
func compressDoc(doc any) (gz []byte, etag string, err error) {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
	sum := sha256.New()
	w := io.MultiWriter(zw, sum)
	if st, ok := doc.(*report.Status); ok {
		err = st.WriteJSON(w)
	} else {
		var body []byte
		if body, err = encodeJSON(doc); err == nil {
			_, err = w.Write(body)
		}
	}
	if err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return b.Bytes(), `"` + hex.EncodeToString(sum.Sum(nil)[:12]) + `"`, nil
}

// writeStatus writes a kept answer: 304 when the client has it, gzip when it accepts it,
// else decompressed as it goes out.
func (s *Server) writeStatus(w http.ResponseWriter, r *http.Request, a *statusAnswer) {
	h := w.Header()
	h.Set("ETag", a.etag)
	h.Set(ExitHeader, "0")
	h.Add("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		h.Set("Content-Length", strconv.Itoa(len(a.gz)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(a.gz) // a client that hung up: nothing to tell it
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(a.gz))
	if err != nil {
		s.writeError(w, r, fmt.Errorf("read the kept status: %w", err), nil)
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, zr)
}

// Matrix returns the matrix serveStatus built for this request, else one built from the
// server's snapshot.
func (x site) Matrix(ctx context.Context) (*report.Status, error) {
	if m, ok := ctx.Value(matrixKey{}).(*report.Status); ok {
		return m, nil
	}
	snap, err := x.c.s.snaps.get(ctx, x.c.s.store)
	if err != nil {
		return nil, err
	}
	return report.StatusBy(x.c.p, snap.readPair, snap.health, report.Gone(ctx, x.c.eng), report.ConnectedPools(ctx, x.c.s.store, x.c.s.now())), nil
}

// SetNext sends where the next page of a list begins: X-Next-Cursor holds the cursor, and
// Link the URL of the next page (RFC 8288), the request's own with the cursor set.
func (x site) SetNext(cursor string) {
	if cursor == "" {
		return
	}
	u := *x.c.r.URL
	q := u.Query()
	q.Set("cursor", cursor)
	u.RawQuery = q.Encode()
	h := x.c.w.Header()
	h.Set("X-Next-Cursor", cursor)
	h.Set("Link", "<"+u.RequestURI()+`>; rel="next"`)
}
