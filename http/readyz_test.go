package http_test

import (
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/strata-dev/strata"
	strhttp "github.com/strata-dev/strata/http"
)

// readyDoc is GET /readyz's body.
type readyDoc struct {
	Ready  bool              `json:"ready"`
	Checks map[string]string `json:"checks"`
}

func readyz(t *testing.T, r reply) readyDoc {
	t.Helper()
	var d readyDoc
	if err := json.Unmarshal([]byte(r.body), &d); err != nil {
		t.Fatalf("GET /readyz: %v: %s", err, r.body)
	}
	return d
}

func TestReadyz(t *testing.T) {
	t.Run("a serving server is ready, and says so without a token", func(t *testing.T) {
		x := newAPIEstate(t, apiYAML)
		var r reply
		waitFor(t, "the server is ready", func() bool {
			r = x.do("", "GET", "/readyz", nil)
			return r.status == http.StatusOK
		})
		d := readyz(t, r)
		want := map[string]string{"store": "ok", "migrations": "ok", "scheduler": "ok"}
		if !d.Ready || len(d.Checks) != len(want) {
			t.Fatalf("readyz = %+v, want ready with %v", d, want)
		}
		for k, v := range want {
			if d.Checks[k] != v {
				t.Errorf("check %s = %q, want %q", k, d.Checks[k], v)
			}
		}
	})

	t.Run("a server whose scheduler does not run is not ready", func(t *testing.T) {
		x := newAPIEstate(t, apiYAML)
		s, err := strhttp.New(strhttp.Config{Engine: x.newEngine(x.store)})
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(s) // its handler only: Serve, and so the scheduler, never runs
		defer ts.Close()
		r := x.doAt(ts.URL, "", "GET", "/readyz", nil)
		d := readyz(t, r)
		if r.status != http.StatusServiceUnavailable || d.Ready || d.Checks["scheduler"] != "the scheduler is not running" || d.Checks["store"] != "ok" {
			t.Fatalf("status %d, readyz %+v; want 503 naming the scheduler alone", r.status, d)
		}
	})

	t.Run("a store a newer strata migrated further is not ready, and says to upgrade", func(t *testing.T) {
		x := newAPIEstate(t, apiYAML)
		raw, err := sql.Open("sqlite", filepath.Join(x.dir, ".strata", "state.db")+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		newer := strata.SchemaVersion + 1
		if _, err := raw.Exec(`INSERT INTO schema_version (version, applied_at) VALUES (?, 0)`, newer); err != nil {
			t.Fatal(err)
		}
		var r reply
		waitFor(t, "the scheduler runs", func() bool {
			r = x.do("", "GET", "/readyz", nil)
			return readyz(t, r).Checks["scheduler"] == "ok"
		})
		d := readyz(t, r)
		if r.status != http.StatusServiceUnavailable || d.Ready || !strings.Contains(d.Checks["migrations"], "upgrade") {
			t.Fatalf("status %d, readyz %+v; want 503 saying the store is newer", r.status, d)
		}
	})

	t.Run("a store that does not answer is not ready, and its error stays in the log", func(t *testing.T) {
		x := newAPIEstate(t, apiYAML)
		if err := x.store.Close(); err != nil {
			t.Fatal(err)
		}
		r := x.do("", "GET", "/readyz", nil)
		d := readyz(t, r)
		if r.status != http.StatusServiceUnavailable || d.Ready || !strings.HasPrefix(d.Checks["store"], "the store does not answer") {
			t.Fatalf("status %d, readyz %+v; want 503 naming the store", r.status, d)
		}
		if strings.Contains(r.body, x.dir) || strings.Contains(r.body, "sql") {
			t.Errorf("readyz shows the store's own error: %s", r.body)
		}
		if !strings.Contains(x.log.String(), "readyz") {
			t.Errorf("the server's log does not say why the store failed: %s", x.log.String())
		}
	})
}
