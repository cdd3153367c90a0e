package main_test

// End-to-end tests of issue 2 (the foundation): the read-only commands run as a user would
// run them, on the example shop and on broken estates, checking the text a person reads, the
// JSON documents of DESIGN.md section 6 and the exit statuses.

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// shopEstate is a copy of examples/shop/strata.yaml in a fresh directory.
func shopEstate(t *testing.T) *estate {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "shop", "strata.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return newEstate(t, string(data))
}

var position = regexp.MustCompile(`^strata\.yaml:\d+:\d+$`)

func TestTheReadOnlyCommandsOnTheShop(t *testing.T) {
	t.Parallel()
	e := shopEstate(t)

	t.Run("validate summarises the estate, its stages and waves", func(t *testing.T) {
		r := e.with(t).must(0, "-C", e.dir, "validate")
		for _, want := range []string{"ok: project shop, 5 environments, 3 services, 3 stages", "prod: [prod-us] then [prod-eu] then [prod-ap]"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, r)
			}
		}
		var doc struct {
			OK           bool
			Environments []string
			Services     []string
			Stages       []struct {
				Name  string
				Waves [][]string
			}
		}
		jsonDoc(t, e.with(t).must(0, "-o", "json", "validate"), &doc)
		if !doc.OK || len(doc.Environments) != 5 || len(doc.Services) != 3 || len(doc.Stages) != 3 || len(doc.Stages[2].Waves) != 3 {
			t.Errorf("got %+v", doc)
		}
	})

	t.Run("env list shows labels and policy resolved through extends", func(t *testing.T) {
		var envs []struct {
			Name    string
			Labels  map[string]string
			Extends string
			Policy  map[string]any
		}
		jsonDoc(t, e.with(t).must(0, "-o", "json", "env", "list"), &envs)
		if len(envs) != 5 || envs[3].Name != "prod-eu" {
			t.Fatalf("got %+v", envs)
		}
		eu := envs[3]
		if eu.Extends != "prod-us" || eu.Labels["tier"] != "prod" || eu.Labels["region"] != "eu-west" || eu.Labels["residency"] != "eu" {
			t.Errorf("prod-eu: got %+v, want tier inherited from prod-us, its own region and residency", eu)
		}
		if eu.Policy["approvals"] != 1.0 || eu.Policy["soak"] != "15s" {
			t.Errorf("prod-eu policy: got %v, want prod-us's", eu.Policy)
		}
		if r := e.with(t).must(0, "env", "list"); !regexp.MustCompile(`prod-eu\s+prod-us\s+region=eu-west,residency=eu,tier=prod\s+approvals=1 soak=15s`).MatchString(r.stdout) {
			t.Errorf("no prod-eu row with its parent, labels and policy:\n%s", r)
		}
	})

	t.Run("config gives every value with its file:line:col, a secret as ***", func(t *testing.T) {
		var doc struct {
			Service, Environment string
			Values               map[string]any
			Sources              map[string]string
		}
		jsonDoc(t, e.with(t).must(0, "-o", "json", "config", "api", "--env", "prod-eu"), &doc)
		want := map[string]any{"PORT": 17131.0, "LOG_LEVEL": "warn", "CURRENCY": "EUR", "CACHE_TTL": 300.0, "REGION": "eu-west", "DATABASE_PASSWORD": "***"}
		for k, v := range want {
			if doc.Values[k] != v {
				t.Errorf("%s = %v, want %v", k, doc.Values[k], v)
			}
		}
		for _, k := range []string{"PORT", "LOG_LEVEL", "CURRENCY", "CACHE_TTL", "REGION"} {
			if !position.MatchString(doc.Sources[k]) {
				t.Errorf("source of %s is %q, want strata.yaml:LINE:COL", k, doc.Sources[k])
			}
		}
		if doc.Service != "api" || doc.Environment != "prod-eu" {
			t.Errorf("got service %q, environment %q", doc.Service, doc.Environment)
		}
	})

	t.Run("config --explain names the layer a value came from and every layer it overrides", func(t *testing.T) {
		r := e.with(t).must(0, "config", "api", "--env", "prod-eu", "--explain")
		for _, want := range []string{
			"PORT=17131\n    from overrides.prod-eu (strata.yaml:",
			"CACHE_TTL=300\n    from overrides.prod-us (strata.yaml:",
			"overrides 17121 from overrides.prod-us (strata.yaml:",
			"overrides 17101 from schema default (strata.yaml:",
			"LOG_LEVEL=warn\n    from environment prod-us (strata.yaml:",
			"overrides info from defaults.config (strata.yaml:",
			"DATABASE_PASSWORD=***\n",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, r)
			}
		}
	})

	t.Run("diff lists the config keys that differ, service by service", func(t *testing.T) {
		var doc struct {
			A, B        string
			Differences []struct {
				Service, Kind, Key string
				A, B               any
			}
		}
		jsonDoc(t, e.with(t).must(0, "-o", "json", "diff", "prod-us", "prod-eu"), &doc)
		found := false
		for _, d := range doc.Differences {
			if d.Service == "api" && d.Kind == "config" && d.Key == "PORT" && d.A == 17121.0 && d.B == 17131.0 {
				found = true
			}
			if d.Key == "LOG_LEVEL" || d.Key == "CACHE_TTL" {
				t.Errorf("%s is inherited, so the same in both, but listed: %+v", d.Key, d)
			}
		}
		if doc.A != "prod-us" || doc.B != "prod-eu" || !found {
			t.Errorf("got %+v, want api's PORT 17121 against 17131", doc)
		}
		if r := e.with(t).must(0, "diff", "prod-us", "prod-eu"); !regexp.MustCompile(`api\s+config\s+PORT\s+17121\s+17131`).MatchString(r.stdout) {
			t.Errorf("no api PORT row:\n%s", r)
		}
	})

	t.Run("an unknown service or environment is exit 2 naming the known ones", func(t *testing.T) {
		if r := e.with(t).must(2, "config", "apx", "--env", "dev"); !strings.Contains(r.stderr, "api") {
			t.Errorf("the error does not name api:\n%s", r)
		}
		if r := e.with(t).must(2, "diff", "prod-us", "prod-eux"); !strings.Contains(r.stderr, "prod-eu") {
			t.Errorf("the error does not name prod-eu:\n%s", r)
		}
	})
}

func TestABrokenEstateReportsEveryProblemAtOnceWithExitStatus2(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		yaml string
		want []string
	}{
		{"one estate with many mistakes names each at its place", `project: shop
defaults:
  confg: {}
environments:
  dev:
    labels: {tier: dev}
    config: {LOG_LEVEL: loud}
    polcy: {}
  staging:
    policy: {soak: 10, windows: ["Mon-Fri 09:00-17:00 Europe/Berlinn"]}
  prod-us:
    extends: prod-eu
  prod-eu:
    extends: prod-us
  prod-ap:
    extends: prod-uss
services:
  api:
    deploy: ./deploy.sh
    depends_on: [web]
    config:
      LOG_LEVEL: {type: string, enum: [debug, info]}
    overrides:
      prod-eux: {LOG_LEVEL: info}
  web:
    deploy: ./deploy.sh
    depends_on: [api]
pipeline:
  - stage: dev
    environments: [deb]
  - stage: prod
    environments: {tier: prd}
`, []string{
			`strata.yaml:3:3: unknown key "confg" in defaults; did you mean "config"?`,
			`strata.yaml:7:25: LOG_LEVEL is "loud" here but api's schema (strata.yaml:22:7) wants one of debug, info`,
			`strata.yaml:8:5: unknown key "polcy" in environment "dev"; did you mean "policy"?`,
			`strata.yaml:10:20: soak "10" is not a duration`,
			`unknown time zone "Europe/Berlinn"; use an IANA name such as Europe/Berlin`,
			`extends cycle: prod-us -> prod-eu -> prod-us`,
			`strata.yaml:16:14: environment "prod-ap" extends the unknown environment "prod-uss"; did you mean "prod-us"?`,
			`overrides of service "api" name the unknown environment "prod-eux"; did you mean "prod-eu"?`,
			`depends_on cycle: api -> web -> api`,
			`stage "dev" names the unknown environment "deb"; did you mean "dev"?`,
			`the selector of stage "prod" (tier=prd) selects no environment`,
		}},
		{"a YAML syntax error names its line", "project: shop\nenvironments:\n  dev: [tier\n", []string{"strata.yaml:2:1: YAML syntax error"}},
		{"a duplicate key names both places", "project: shop\nproject: again\n", []string{`strata.yaml:2:1: duplicate key "project" in the file (first at strata.yaml:1:1)`}},
		{"references are checked once the structure is sound", `project: shop
defaults:
  config: {A: "${config.B}", B: "${config.A}"}
environments:
  dev: {labels: {tier: dev}}
services:
  api:
    deploy: ./deploy.sh ${config.PORTT} ${env.labels.zone}
    config:
      PORT: {type: integer, default: 8080}
pipeline:
  - stage: dev
    environments: [dev]
`, []string{
			"strata.yaml:3:15: config cycle: A -> B -> A",
			`strata.yaml:8:5: deploy: ${config.PORTT}: service api has no config key "PORTT"; did you mean "PORT"?`,
			`${env.labels.zone}: the environment has no label "zone"`,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEstate(t, c.yaml)
			r := e.must(2, "validate")
			for _, want := range c.want {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r)
				}
			}
			if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine") {
				t.Errorf("a panic:\n%s", r)
			}
			var doc struct {
				Error struct{ Code, Message string }
			}
			jsonDoc(t, e.must(2, "-o", "json", "validate"), &doc)
			if doc.Error.Code != "invalid" || !strings.Contains(doc.Error.Message, c.want[0]) {
				t.Errorf("got %+v, want an invalid error with %q", doc, c.want[0])
			}
		})
	}
}

func TestAnEnvironmentInNoStageIsAWarningNotAFailure(t *testing.T) {
	t.Parallel()
	e := newEstate(t, "project: shop\nenvironments:\n  dev: {}\n  lonely: {}\nservices:\n  api: {deploy: \"true\"}\npipeline:\n  - stage: dev\n    environments: [dev]\n")
	r := e.must(0, "validate")
	if !strings.Contains(r.stderr, `strata.yaml:4:3: warning: environment "lonely" is in no pipeline stage`) {
		t.Errorf("no warning about lonely:\n%s", r)
	}
}

func TestInitWritesAStarterThatValidates(t *testing.T) {
	t.Parallel()
	e := newEstate(t, "")
	if err := os.Remove(filepath.Join(e.dir, "strata.yaml")); err != nil {
		t.Fatal(err)
	}
	e.must(2, "validate")
	e.must(0, "init")
	r := e.must(0, "validate")
	if !strings.Contains(r.stdout, "ok: project project, 3 environments, 1 service, 3 stages") || r.stderr != "" {
		t.Errorf("the starter does not validate cleanly:\n%s", r)
	}
	data, err := os.ReadFile(filepath.Join(e.dir, "strata.yaml"))
	if err != nil || !strings.Contains(string(data), "\n# ") {
		t.Errorf("the starter has no comments (%v)", err)
	}
	if r := e.must(2, "init"); !strings.Contains(r.stderr, "--force") {
		t.Errorf("init over an existing file does not say how to overwrite it:\n%s", r)
	}
	e.must(0, "env", "list")
	e.must(0, "config", "app", "--env", "prod", "--explain")
	e.must(0, "diff", "dev", "prod")
}
