package bench_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/config"
	"github.com/strata-dev/strata/engine"
	strhttp "github.com/strata-dev/strata/http"
	"github.com/strata-dev/strata/sqlite"
)

// The OFREP benchmarks (issue 12): single evaluations over HTTP with 20 concurrent clients,
// against a baseline handler that answers a constant document of the same size on the same
// kind of listener (the floor that HTTP on this machine sets), and the server time of a bulk
// evaluation of 200 flags, against encoding an answer of the same size. See README.md.

// flagEstate writes a project of n flags (rules, rollouts, variants, a requires) and returns
// its directory.
func flagEstate(tb testing.TB, n int) string {
	tb.Helper()
	var b strings.Builder
	b.WriteString("project: bench\nenvironments:\n  prod: {labels: {tier: prod}}\n  prod-eu: {extends: prod}\nservices:\n  api: {deploy: \"true\"}\nflags:\n")
	for i := range n {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "  f%d: {type: boolean, default: false, rules: [{when: {plan: {in: [gold, platinum]}}, value: true}]}\n", i)
		case 1:
			fmt.Fprintf(&b, "  f%d: {type: boolean, default: false, rollout: {percent: 30, value: true}}\n", i)
		case 2:
			fmt.Fprintf(&b, "  f%d: {type: string, variants: {a: alpha, b: beta}, default: a, rules: [{when: {country: {starts_with: D}}, value: b}]}\n", i)
		case 3:
			fmt.Fprintf(&b, "  f%d: {type: object, default: {color: blue, size: 3}, requires: {api: \">=1.0.0\"}}\n", i)
		}
	}
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "strata.yaml"), []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// flagServer starts a real server on a real SQLite store for the estate in dir, with one
// client token for prod-eu, and returns its handler, URL and the token.
func flagServer(tb testing.TB, dir string) (*strhttp.Server, string, string) {
	tb.Helper()
	p, probs, err := config.Load(dir)
	if err == nil {
		err = probs.Err()
	}
	if err != nil {
		tb.Fatal(err)
	}
	st, err := sqlite.Open(filepath.Join(dir, ".strata", "state.db"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	secret, hash := strata.NewTokenSecret()
	tok := &strata.Token{Name: "web", Role: strata.RoleClient, Envs: []map[string]string{{"name": "prod-eu"}}, Hash: hash}
	if err := st.CreateToken(context.Background(), tok, nil); err != nil {
		tb.Fatal(err)
	}
	e := engine.New(p, st, "bench")
	e.StateDir = filepath.Join(dir, ".strata")
	s, err := strhttp.New(strhttp.Config{Engine: e, Tick: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	return s, listen(tb, s), secret
}

// listen serves h on a fresh port of 127.0.0.1 until the benchmark ends.
func listen(tb testing.TB, h http.Handler) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// hammer posts body to url from 20 concurrent clients, b.N requests in all, and reports
// requests per second; any answer but 200 fails the benchmark.
func hammer(b *testing.B, url, token, body string) {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	b.Cleanup(tr.CloseIdleConnections)
	b.SetParallelism(max(1, 20/max(1, testingProcs())))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", url, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("answered %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

func testingProcs() int { return runtimeProcs }

const ofrepBody = `{"context": {"targetingKey": "user-42", "plan": "gold", "country": "DE"}}`

// BenchmarkOFREPSingle is single-flag evaluations over HTTP, 20 clients at once.
func BenchmarkOFREPSingle(b *testing.B) {
	_, url, token := flagServer(b, flagEstate(b, 200))
	hammer(b, url+"/ofrep/v1/evaluate/flags/f1", token, ofrepBody)
}

// BenchmarkOFREPSingleBaseline is the same load on a handler that answers a constant
// document of the same size: what HTTP alone costs here.
func BenchmarkOFREPSingleBaseline(b *testing.B) {
	doc := []byte(`{"key":"f1","value":true,"reason":"SPLIT","variant":"true","metadata":{"environment":"prod-eu","part":"rollout","source":"strata.yaml:9:42"}}`)
	url := listen(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	}))
	hammer(b, url, "none", ofrepBody)
}

// BenchmarkOFREPBulk200 is the server's time for a bulk evaluation of 200 flags: the
// handler called directly, no network.
func BenchmarkOFREPBulk200(b *testing.B) {
	s, _, token := flagServer(b, flagEstate(b, 200))
	serve := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/ofrep/v1/evaluate/flags", strings.NewReader(ofrepBody))
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		return w
	}
	if w := serve(); w.Code != 200 || bytes.Count(w.Body.Bytes(), []byte(`"key"`)) != 200 {
		b.Fatalf("bulk answered %d with %d flags", w.Code, bytes.Count(w.Body.Bytes(), []byte(`"key"`)))
	}
	b.ResetTimer()
	for b.Loop() {
		serve()
	}
}

// BenchmarkOFREPBulk200Baseline writes a constant answer of the same size through the same
// recorder: what a handler that did no evaluation would cost.
func BenchmarkOFREPBulk200Baseline(b *testing.B) {
	s, _, token := flagServer(b, flagEstate(b, 200))
	req := httptest.NewRequest("POST", "/ofrep/v1/evaluate/flags", strings.NewReader(ofrepBody))
	req.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	doc := w.Body.Bytes()
	b.ResetTimer()
	for b.Loop() {
		r := httptest.NewRequest("POST", "/x", strings.NewReader(ofrepBody))
		io.Copy(io.Discard, r.Body)
		rec := httptest.NewRecorder()
		rec.Header().Set("Content-Type", "application/json")
		rec.Write(doc)
	}
}

var runtimeProcs = runtime.GOMAXPROCS(0)
