package http_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/report"
)

// walk follows a list route's pages from path (which sets limit) to the end, by the
// document's "next" (status) or the X-Next-Cursor header (the lists that are arrays), and
// returns each page's items as raw JSON.
func walk(t *testing.T, x *apiEstate, principal, path string, items func(body string) []json.RawMessage, next func(r reply) string) [][]json.RawMessage {
	t.Helper()
	var pages [][]json.RawMessage
	for p := path; ; {
		r := x.do(principal, "GET", p, nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", p, r.status, r.body)
		}
		pages = append(pages, items(r.body))
		n := next(r)
		if n == "" {
			return pages
		}
		if len(pages) > 100 {
			t.Fatalf("GET %s: more than 100 pages; the cursor does not move", path)
		}
		u, _ := url.Parse(p)
		q := u.Query()
		q.Set("cursor", n)
		u.RawQuery = q.Encode()
		p = u.String()
	}
}

func arrayItems(t *testing.T) func(string) []json.RawMessage {
	return func(body string) []json.RawMessage {
		var v []json.RawMessage
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("not a JSON array: %v\n%s", err, body)
		}
		return v
	}
}

func headerNext(r reply) string { return r.header.Get("X-Next-Cursor") }

// flat joins pages and checks none is longer than limit.
func flat(t *testing.T, pages [][]json.RawMessage, limit int) []string {
	t.Helper()
	var out []string
	for i, p := range pages {
		if len(p) > limit {
			t.Fatalf("page %d holds %d items, over the limit %d", i+1, len(p), limit)
		}
		for _, it := range p {
			out = append(out, string(it))
		}
	}
	return out
}

// shipped is an estate where api 1.0 and 1.1 went through dev and staging and wait for prod.
func shipped(t *testing.T) *apiEstate {
	x := newAPIEstate(t, apiYAML)
	x.shipToProd("1.0", "alice")
	x.shipToProd("1.1", "alice")
	return x
}

func TestListRoutesPageThroughEverythingOnce(t *testing.T) {
	x := shipped(t)
	cases := []struct {
		name  string
		path  string // with no limit: the whole list
		items func(string) []json.RawMessage
		next  func(reply) string
	}{
		{"the status matrix pages by cells with next in the document", "/api/v1/status", func(body string) []json.RawMessage {
			var doc struct {
				Cells []json.RawMessage `json:"cells"`
			}
			if err := json.Unmarshal([]byte(body), &doc); err != nil {
				t.Fatal(err)
			}
			return doc.Cells
		}, func(r reply) string {
			var doc struct {
				Next string `json:"next"`
			}
			json.Unmarshal([]byte(r.body), &doc)
			return doc.Next
		}},
		{"deployments page newest first by the X-Next-Cursor header", "/api/v1/deployments", arrayItems(t), headerNext},
		{"the audit log pages from the newest back", "/api/v1/audit", arrayItems(t), headerNext},
		{"promotions page newest first", "/api/v1/promotions", arrayItems(t), headerNext},
		{"environments page in the project's order", "/api/v1/environments", arrayItems(t), headerNext},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			all := flat(t, walk(t, x, "carol", c.path, c.items, c.next), 1<<30)
			if len(all) < 2 {
				t.Fatalf("%s lists %d items; the test needs at least 2", c.path, len(all))
			}
			full := fmt.Sprintf("%s?limit=%d", c.path, len(all))
			if r := x.do("carol", "GET", full, nil); r.status != http.StatusOK || c.next(r) != "" || len(c.items(r.body)) != len(all) {
				t.Fatalf("GET %s, a page exactly as long as the list: %d, %d items, next %q; want them all and no next page", full, r.status, len(c.items(r.body)), c.next(r))
			}
			pages := walk(t, x, "carol", c.path+"?limit=1", c.items, c.next)
			got := flat(t, pages, 1)
			if c.path == "/api/v1/audit" {
				// Each page is oldest first, pages go back in time: put them in order.
				slices.Reverse(got)
			}
			if !slices.Equal(got, all) {
				t.Fatalf("pages of 1 gave %d items:\n%s\nwant the %d of the whole list:\n%s", len(got), strings.Join(got, "\n"), len(all), strings.Join(all, "\n"))
			}
		})
	}
}

func TestPagingTellsWhereTheNextPageIs(t *testing.T) {
	x := shipped(t)
	r := x.do("carol", "GET", "/api/v1/deployments?limit=2&service=api", nil)
	link := r.header.Get("Link")
	cur := r.header.Get("X-Next-Cursor")
	if cur == "" || !strings.Contains(link, `rel="next"`) || !strings.Contains(link, "cursor="+url.QueryEscape(cur)) || !strings.Contains(link, "service=api") {
		t.Fatalf("Link %q, X-Next-Cursor %q: want the next page's URL with the same filter and the cursor", link, cur)
	}
	last := x.do("carol", "GET", "/api/v1/deployments?limit=1000", nil)
	if last.header.Get("X-Next-Cursor") != "" || last.header.Get("Link") != "" {
		t.Fatalf("a page that ends the list says there is a next one: %v", last.header)
	}
}

func TestABadCursorIsRefusedSayingWhatToSend(t *testing.T) {
	x := shipped(t)
	r := x.do("carol", "GET", "/api/v1/status?limit=1", nil)
	var doc report.Status
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil || doc.Next == "" {
		t.Fatalf("status?limit=1: next %q (%v)", doc.Next, err)
	}
	cases := []struct{ name, path string }{
		{"a cursor that is not base64", "/api/v1/status?cursor=%25%25%25"},
		{"a cursor of another list", "/api/v1/deployments?cursor=" + doc.Next},
		{"a made-up cursor of the right kind", "/api/v1/audit?cursor=ZXZlbnQ6eA"},
		{"a cursor naming a deployment that does not exist", "/api/v1/deployments?cursor=ZGVwbG95bWVudDpub3BlJzsgRFJPUCBUQUJMRSBkZXBsb3ltZW50czsgLS0"},
		{"a negative limit", "/api/v1/promotions?limit=-1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := x.do("carol", "GET", c.path, nil)
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, "invalid") || !(strings.Contains(r.body, "cursor") || strings.Contains(r.body, "limit")) {
				t.Fatalf("GET %s: %d %s; want 400 naming the parameter", c.path, r.status, r.body)
			}
		})
	}
	// The store is whole after a hostile cursor.
	if n := len(arrayItems(t)(x.do("carol", "GET", "/api/v1/deployments", nil).body)); n == 0 {
		t.Fatal("no deployments left after a hostile cursor")
	}
}

// rawGet sends GET path asking for gzip, without the transport's transparent
// decompression, and returns the response with its body read.
func rawGet(t *testing.T, x *apiEstate, principal, path string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", x.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+x.tokens[principal])
	for k, v := range header {
		req.Header.Set(k, v)
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func gunzip(t *testing.T, b []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestResponsesAreCompressedWhenTheClientAcceptsGzip(t *testing.T) {
	x := shipped(t)
	for _, path := range []string{"/api/v1/status", "/api/v1/deployments", "/api/v1/openapi.json", "/login"} {
		t.Run(path, func(t *testing.T) {
			plain, pb := rawGet(t, x, "carol", path, nil)
			if plain.Header.Get("Content-Encoding") != "" {
				t.Fatalf("compressed for a client that did not ask: %v", plain.Header)
			}
			zipped, zb := rawGet(t, x, "carol", path, map[string]string{"Accept-Encoding": "gzip"})
			if zipped.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("Content-Encoding %q, want gzip", zipped.Header.Get("Content-Encoding"))
			}
			got := gunzip(t, zb)
			if path == "/login" {
				if !strings.Contains(got, "<form") {
					t.Fatalf("the login page unzipped is not a page: %.200s", got)
				}
				return
			}
			if got != string(pb) {
				t.Fatalf("the unzipped body differs from the plain one:\n%.300s\n---\n%.300s", got, pb)
			}
		})
	}
}

func TestStatusAnswersNotModifiedWhileNothingChanged(t *testing.T) {
	x := shipped(t)
	first, _ := rawGet(t, x, "carol", "/api/v1/status", nil)
	etag := first.Header.Get("ETag")
	if etag == "" {
		t.Fatal("status has no ETag")
	}
	again, body := rawGet(t, x, "carol", "/api/v1/status", map[string]string{"If-None-Match": etag})
	if again.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Fatalf("unchanged: %d with %d bytes, want 304 and none", again.StatusCode, len(body))
	}
	// A deployment changes the matrix: the same ETag now gets the new document.
	if _, err := x.as("alice").Deploy(context.Background(), engine.DeployRequest{Service: "api", Version: "1.0", Env: "staging"}); err != nil {
		t.Fatal(err)
	}
	changed, body := rawGet(t, x, "carol", "/api/v1/status", map[string]string{"If-None-Match": etag})
	if changed.StatusCode != http.StatusOK || changed.Header.Get("ETag") == etag {
		t.Fatalf("after a deployment: %d, ETag %q; want 200 and a new ETag", changed.StatusCode, changed.Header.Get("ETag"))
	}
	var doc report.Status
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	for _, c := range doc.Cells {
		if c.Environment == "staging" && c.Version != "1.0" {
			t.Fatalf("staging runs %q after 1.0 was deployed there; the shared snapshot did not follow the store", c.Version)
		}
	}
}

func TestStatusIsFilteredForAScopedTokenEvenWhenKept(t *testing.T) {
	x := shipped(t)
	envs := func(principal string) []string {
		var doc report.Status
		if err := json.Unmarshal([]byte(x.do(principal, "GET", "/api/v1/status", nil).body), &doc); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range doc.Cells {
			out = append(out, c.Environment)
		}
		return out
	}
	all := len(x.engine.Project.Environments)
	if got := envs("carol"); len(got) != all {
		t.Fatalf("admin sees %v, want the %d environments", got, all)
	}
	if got := envs("dave"); !slices.Equal(got, []string{"dev"}) {
		t.Fatalf("a token for tier=dev sees %v after the admin's answer was kept, want [dev]", got)
	}
	if got := envs("carol"); len(got) != all {
		t.Fatalf("admin sees %v after the scoped answer was kept, want %d", got, all)
	}
}
