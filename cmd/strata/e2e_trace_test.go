package main_test

import (
	"compress/gzip"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	collector "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is a real OTLP/HTTP trace receiver: it decodes what the exporter posts to
// /v1/traces (protobuf, as the OTLP specification defines it) and keeps the spans.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []span
	srv   *httptest.Server
}

type span struct {
	name, trace, id, parent string
	attrs                   map[string]string
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	rc := &otlpReceiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" {
			http.NotFound(w, r)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			gz, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = gz
		}
		b, _ := io.ReadAll(body)
		var req collector.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					sp := span{name: s.Name, trace: hex.EncodeToString(s.TraceId), id: hex.EncodeToString(s.SpanId),
						parent: hex.EncodeToString(s.ParentSpanId), attrs: map[string]string{}}
					for _, a := range s.Attributes {
						sp.attrs[a.Key] = a.Value.GetStringValue()
					}
					rc.spans = append(rc.spans, sp)
				}
			}
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ = proto.Marshal(&collector.ExportTraceServiceResponse{})
		w.Write(b)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *otlpReceiver) byName() map[string][]span {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := map[string][]span{}
	for _, s := range rc.spans {
		out[s.name] = append(out[s.name], s)
	}
	return out
}

func TestAPromotionIsTracedAndItsStepsJoinTheTrace(t *testing.T) {
	t.Parallel()
	rc := newOTLPReceiver(t)
	e := newEstate(t, `project: traced
environments:
  dev: {labels: {tier: dev}}
services:
  web:
    deploy: "printf %s \"$TRACEPARENT\" > @SCRATCH@/traceparent"
    health: {command: "true", timeout: 5s}
pipeline:
  - stage: dev
    environments: [dev]
    auto: true
`)
	e.env = append(e.env, "OTEL_EXPORTER_OTLP_ENDPOINT="+rc.srv.URL, "TRACEPARENT=00-0123456789abcdef0123456789abcdef-0123456789abcdef-01")
	e.release("web", "--version", "1.0.0")

	spans := rc.byName()
	for _, name := range []string{"strata release", "promotion", "wave", "deployment", "step deploy", "health check"} {
		if len(spans[name]) == 0 {
			t.Errorf("no %q span; got %v", name, names(spans))
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	root, dep, step := spans["strata release"][0], spans["deployment"][0], spans["step deploy"][0]
	// Started with a TRACEPARENT (a CI job's trace), the command joins it.
	if root.trace != "0123456789abcdef0123456789abcdef" || root.parent != "0123456789abcdef" {
		t.Errorf("the command's span is in trace %s under %s, want the caller's", root.trace, root.parent)
	}
	for _, s := range []span{spans["promotion"][0], spans["wave"][0], dep, step} {
		if s.trace != root.trace {
			t.Errorf("span %q is in trace %s, not the command's %s", s.name, s.trace, root.trace)
		}
	}
	if dep.attrs["service"] != "web" || dep.attrs["environment"] != "dev" || dep.attrs["version"] != "1.0.0" {
		t.Errorf("the deployment span's attributes: %v", dep.attrs)
	}
	if step.parent != dep.id {
		t.Errorf("the step's span's parent is %s, want the deployment's %s", step.parent, dep.id)
	}
	var store int
	for name := range spans {
		if strings.HasPrefix(name, "store ") {
			store++
		}
	}
	if store == 0 {
		t.Errorf("no store call spans; got %v", names(spans))
	}
	// The step got its own span's traceparent, not the one strata inherited.
	want := "00-" + root.trace + "-" + step.id + "-01"
	if got := e.read("traceparent"); got != want {
		t.Errorf("the step's TRACEPARENT is %q, want %q", got, want)
	}
}

func names(m map[string][]span) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
