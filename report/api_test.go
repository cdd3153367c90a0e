package report_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/config"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/plan"
	"github.com/strata-dev/strata/report"
)

// roundTrip encodes doc as the server does and decodes it as the client does.
func roundTrip[D any](t *testing.T, doc *D) *D {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(&b)
	dec.UseNumber()
	var out D
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func TestADocumentPrintsTheSameAfterTheTripThroughTheServer(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	at := now.Add(-90 * time.Minute)
	d := &strata.Deployment{ID: "d-1", Service: "api", Environment: "prod", Version: "1.2", State: strata.Succeeded, Attempt: 2,
		Outputs: map[string]string{"URL": "http://x", "A": "1"}, StartedAt: at, FinishedAt: at.Add(time.Minute)}
	promo := report.NewPromotion(&engine.PromotionResult{
		Promotion:   &strata.Promotion{ID: "p-1", Service: "api", Version: "1.2", Stage: "staging", State: strata.Succeeded, Requester: "ann"},
		Gates:       []plan.Gate{{Name: "approvals", OK: true, Detail: "no approvals required"}},
		Waves:       [][]string{{"staging"}},
		Deployments: []*strata.Deployment{d},
		Next: &engine.PromotionResult{
			Promotion: &strata.Promotion{ID: "p-2", Service: "api", Version: "1.2", Stage: "prod", State: strata.Waiting, Requester: "ann", Override: true, Reason: "hotfix"},
			Gates:     []plan.Gate{{Name: "approvals", OK: false, Detail: "0 of 1"}},
			Waves:     [][]string{{"prod-a"}, {"prod-b"}},
		},
	})
	promo.Environments = []report.EnvPlan{{Name: "prod-a", Wave: 1, Current: "1.1", Changes: []report.Change{{Key: "SIZE", From: int64(1), To: 3.5}}}}
	expires := now.Add(5 * time.Hour)
	for _, tc := range []struct {
		name string
		text func(t *testing.T) (before, after string)
	}{
		{"a deployment with outputs", func(t *testing.T) (string, string) {
			doc := report.NewDeployment(d)
			return textOf(doc.WriteText), textOf(roundTrip(t, doc).WriteText)
		}},
		{"a promotion that chained into a waiting one, with a plan", func(t *testing.T) (string, string) {
			return textOf(promo.WriteText), textOf(roundTrip(t, promo).WriteText)
		}},
		{"a release", func(t *testing.T) (string, string) {
			doc := &report.Release{ID: "r-1", Service: "api", Version: "1.2", Digest: "sha256:ab", Promotions: []*report.Promotion{promo}}
			return textOf(doc.WriteText), textOf(roundTrip(t, doc).WriteText)
		}},
		{"the status matrix with a short-lived environment", func(t *testing.T) (string, string) {
			doc := &report.Status{Cells: []report.Cell{
				{Service: "api", Environment: "dev", Version: "1.2", State: strata.Succeeded, DeployedAt: &at},
				{Service: "db", Environment: "dev", Version: "1.0", State: strata.Failed, DeployedAt: &at},
				{Service: "api", Environment: "pr-1", Ephemeral: true, Expires: &expires},
				{Service: "db", Environment: "pr-1", Ephemeral: true, Expires: &expires, State: strata.Running},
			}}
			return textOf(func(w io.Writer) { doc.WriteText(w, now) }), textOf(func(w io.Writer) { roundTrip(t, doc).WriteText(w, now) })
		}},
		{"config with numbers and a trail", func(t *testing.T) (string, string) {
			doc := &report.Config{Service: "api", Environment: "prod", Values: map[string]any{"SIZE": int64(3), "RATIO": 0.25, "ON": true, "NAME": "x"},
				Sources: map[string]string{"SIZE": "strata.yaml:3:4"},
				Trail:   map[string][]report.TrailStep{"SIZE": {{Layer: "schema default", Value: int64(1), Source: "strata.yaml:1:1"}, {Layer: "overrides.prod", Value: int64(3)}}}}
			return textOf(doc.WriteText), textOf(roundTrip(t, doc).WriteText)
		}},
		{"a diff", func(t *testing.T) (string, string) {
			doc := &report.Diff{A: "dev", B: "prod", Differences: []report.Difference{{"api", "version", "version", "1.2", nil}, {"api", "config", "SIZE", int64(1), int64(3)}}}
			return textOf(doc.WriteText), textOf(roundTrip(t, doc).WriteText)
		}},
		{"what resume did", func(t *testing.T) (string, string) {
			doc := &report.Resume{Resumed: []report.Deployment{*report.NewDeployment(d)}, Promotions: []*report.Promotion{promo}, Destroyed: []engine.DestroyedEnv{{Name: "pr-1", Services: []string{"api", "db"}}}}
			return textOf(doc.WriteText), textOf(roundTrip(t, doc).WriteText)
		}},
		{"a validation with dependencies", func(t *testing.T) (string, string) {
			doc := &report.Validation{OK: true, Project: "p", File: "strata.yaml", Environments: []string{"dev"}, Services: []string{"db", "api"},
				DependsOn: map[string][]string{"api": {"db"}}, Stages: []report.Stage{{Name: "dev", Environments: []string{"dev"}, Waves: [][]string{{"dev"}}, Auto: true}}}
			return textOf(doc.WriteText), textOf(roundTrip(t, doc).WriteText)
		}},
		{"a short-lived environment", func(t *testing.T) (string, string) {
			doc := report.NewEphemeral(&strata.EphemeralEnv{Name: "pr-1", Like: "dev", Labels: map[string]string{"owner": "ann"}, Expires: expires})
			return textOf(func(w io.Writer) { doc.WriteText(w, now) }), textOf(func(w io.Writer) { roundTrip(t, doc).WriteText(w, now) })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, after := tc.text(t)
			if before != after {
				t.Errorf("text changed on the way\n--- before\n%s--- after\n%s", before, after)
			}
			if before == "" {
				t.Error("no text at all")
			}
		})
	}
}

// textOf returns what write prints.
func textOf(write func(io.Writer)) string {
	var b bytes.Buffer
	write(&b)
	return b.String()
}

// chain returns n audit events linked as a store links them.
func chain(n int) []*strata.Event {
	var out []*strata.Event
	prev := ""
	for i := 1; i <= n; i++ {
		e := &strata.Event{Seq: int64(i), At: time.Unix(int64(i), 0).UTC(), Actor: "ann", Action: "deploy", Prev: prev}
		e.Hash = e.ComputeHash(prev)
		prev = e.Hash
		out = append(out, e)
	}
	return out
}

func TestVerifyNamesTheFirstBrokenEvent(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func([]*strata.Event) []*strata.Event
		broken int64 // 0: intact
		reason string
	}{
		{"an intact chain is ok", func(es []*strata.Event) []*strata.Event { return es }, 0, ""},
		{"an edited event is named", func(es []*strata.Event) []*strata.Event { es[2].Actor = "mallory"; return es }, 3, "changed after it was written"},
		{"a removed event names the position it left", func(es []*strata.Event) []*strata.Event { return append(es[:1], es[2:]...) }, 2, "removed or the log was reordered"},
		{"a relinked event is named", func(es []*strata.Event) []*strata.Event { es[3].Prev = "x"; return es }, 4, "does not link"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := report.Verify(tc.tamper(chain(5)))
			if tc.broken == 0 {
				if err != nil || !v.OK || v.BrokenAt != nil {
					t.Fatalf("got %+v, %v; want ok", v, err)
				}
				return
			}
			if strata.ErrorCode(err) != strata.EFAILED || v.OK || v.BrokenAt == nil || *v.BrokenAt != tc.broken {
				t.Fatalf("got %+v, %v; want broken at %d", v, err, tc.broken)
			}
			if !strings.Contains(v.Reason, tc.reason) {
				t.Errorf("reason %q, want it to say %q", v.Reason, tc.reason)
			}
		})
	}
}

func TestBadInputIsRefusedWithWhatWouldBeRight(t *testing.T) {
	dir := t.TempDir()
	yaml := "project: p\nenvironments:\n  dev: {}\n  prod: {}\nservices:\n  app:\n    deploy: 'true'\npipeline:\n  - {stage: dev, environments: [dev]}\n"
	if err := os.WriteFile(filepath.Join(dir, "strata.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	p, _, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		err  error
		code string
		says string
	}{
		{"config without an environment asks for --env", second(report.NewConfig(p, "app", "", false)), strata.EINVALID, "--env is required; environments: dev, prod"},
		{"config of an unknown service names the known ones", second(report.NewConfig(p, "nope", "dev", false)), strata.ENOTFOUND, `unknown service "nope"; known: app`},
		{"diff of an unknown environment names the known ones", second(report.NewDiff(p, "dev", "qa", nil)), strata.ENOTFOUND, `unknown environment "qa"; known: dev, prod`},
		{"a ttl that is not a duration", second(report.ParseTTL("soon")), strata.EINVALID, `want a positive duration such as "24h"`},
		{"a negative ttl", second(report.ParseTTL("-1h")), strata.EINVALID, "positive"},
		{"zero days", second(report.ParseTTL("0d")), strata.EINVALID, "positive"},
		{"a label without =", second(report.ParseLabels([]string{"owner"})), strata.EINVALID, "want k=v"},
		{"a label without a key", second(report.ParseLabels([]string{"=x"})), strata.EINVALID, "want k=v"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := strata.ErrorCode(tc.err); got != tc.code {
				t.Fatalf("code %q (%v), want %q", got, tc.err, tc.code)
			}
			if !strings.Contains(tc.err.Error(), tc.says) {
				t.Errorf("%q should say %q", tc.err, tc.says)
			}
		})
	}
	if d, err := report.ParseTTL("7d"); err != nil || d != 7*24*time.Hour {
		t.Errorf("7d = %v, %v", d, err)
	}
	if cfg, err := report.NewConfig(p, "app", "prod", true); err != nil || cfg.Trail == nil {
		t.Errorf("config --explain = %+v, %v; want a trail", cfg, err)
	}
}

func second[T any](_ T, err error) error { return err }
