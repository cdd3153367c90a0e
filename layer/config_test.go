package layer_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/config"
	"github.com/strata-dev/strata/layer"
)

const shopYAML = `project: shop

defaults:
  config: {LOG_LEVEL: info}

environments:
  dev:
    labels: {tier: dev}
    config: {LOG_LEVEL: debug}
  prod-us:
    labels: {tier: prod, region: us-east}
    config:
      BASE_PORT: 9000
  prod-eu:
    extends: prod-us
    labels: {region: eu-west, residency: eu}
  prod-ap:
    extends: prod-eu
    labels: {region: ap-south}

services:
  api:
    deploy: ./deploy/api.sh ${release.version}
    health: {http: "http://127.0.0.1:${config.PORT}/healthz", timeout: 30s}
    config:
      PORT: {type: integer, default: 8080}
      LOG_LEVEL: {type: string, enum: [debug, info, warn, error]}
      DATABASE_URL: {type: string, secret: true}
    overrides:
      prod-eu: {PORT: "${config.BASE_PORT}", URL: "https://${env.labels.region}.example.com/$${literal}"}
`

func loadYAML(t *testing.T, text string) *strata.Project {
	t.Helper()
	p, probs, err := config.Parse("strata.yaml", []byte(text), t.TempDir())
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	if err := probs.Err(); err != nil {
		t.Fatalf("config: %v", err)
	}
	return p
}

func TestAProjectLoadedFromYAMLResolves(t *testing.T) {
	p := loadYAML(t, shopYAML)
	r, err := layer.Resolve(p, "api", "prod-ap", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"BASE_PORT":    int64(9000),
		"DATABASE_URL": "***",
		"LOG_LEVEL":    "info",
		"PORT":         int64(9000),
		"URL":          "https://ap-south.example.com/${literal}",
	}
	if !reflect.DeepEqual(r.Values, want) {
		t.Errorf("values = %#v\nwant %#v", r.Values, want)
	}
	sources := map[string]string{}
	for _, k := range r.Keys {
		sources[k] = r.Source(k)
	}
	wantSources := map[string]string{
		"BASE_PORT":    "strata.yaml:13:18",
		"DATABASE_URL": "secrets of environment prod-ap",
		"LOG_LEVEL":    "strata.yaml:4:23",
		"PORT":         "strata.yaml:30:23",
		"URL":          "strata.yaml:30:51",
	}
	if !reflect.DeepEqual(sources, wantSources) {
		t.Errorf("sources = %v\nwant %v", sources, wantSources)
	}
	var names []string
	for _, l := range r.Trail["PORT"] {
		names = append(names, l.Name)
	}
	if want := []string{"schema default", "overrides.prod-eu"}; !reflect.DeepEqual(names, want) {
		t.Errorf("PORT trail = %q, want %q", names, want)
	}
	if problems := layer.Check(p); len(problems) != 0 {
		t.Errorf("Check = %v", problems)
	}
}

func TestCheckFindsWhatConfigLeavesToLayering(t *testing.T) {
	text := strings.Replace(shopYAML, `URL: "https://${env.labels.region}`, `URL: "https://${env.labels.zone}`, 1)
	text = strings.Replace(text, "PORT: {type: integer, default: 8080}", "PORT: {type: integer, default: \"${config.LOG_LEVEL}\"}", 1)
	var got []string
	for _, pr := range layer.Check(loadYAML(t, text)) {
		got = append(got, pr.Error())
	}
	want := []string{
		`strata.yaml:26:38: config PORT is "debug" (written "${config.LOG_LEVEL}"), not an integer: the schema of service api (strata.yaml:26:7) wants a whole number such as 8080`,
		`strata.yaml:26:38: config PORT is "info" (written "${config.LOG_LEVEL}"), not an integer: the schema of service api (strata.yaml:26:7) wants a whole number such as 8080`,
		`strata.yaml:30:51: config URL: ${env.labels.zone}: the environment has no label "zone" (environments prod-eu, prod-ap)`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Check =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
