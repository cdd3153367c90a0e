package config_test

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/config"
)

func TestAGoodEstateLoadsIntoTheProject(t *testing.T) {
	p, probs, err := config.Load("testdata/good")
	if err != nil {
		t.Fatal(err)
	}
	if len(probs) != 0 {
		t.Fatalf("got problems on a good estate: %v", probs)
	}
	file := filepath.Join("testdata/good", "strata.yaml")
	abs, _ := filepath.Abs("testdata/good")
	if p.Name != "shop" || p.File != file || p.Dir != abs {
		t.Errorf("got name %q file %q dir %q", p.Name, p.File, p.Dir)
	}
	if got, want := p.EnvironmentNames(), []string{"dev", "staging", "prod-us", "prod-eu", "prod-ap"}; !slices.Equal(got, want) {
		t.Errorf("environments %v, want %v", got, want)
	}
	if got := p.Defaults["LOG_LEVEL"]; got.V != "info" || got.Pos.String() != file+":4:23" {
		t.Errorf("defaults LOG_LEVEL = %v at %s", got.V, got.Pos)
	}

	t.Run("labels and policy resolve through extends, the child winning key by key", func(t *testing.T) {
		ap := p.Environment("prod-ap")
		want := map[string]string{"tier": "prod", "region": "ap-south", "residency": "eu"}
		if !reflect.DeepEqual(ap.Labels, want) {
			t.Errorf("labels %v, want %v", ap.Labels, want)
		}
		if got := ap.LabelPos["tier"].String(); got != file+":13:14" {
			t.Errorf("tier set at %s, want %s:13:14 (prod-us)", got, file)
		}
		if got := ap.LabelPos["residency"].String(); got != file+":20:31" {
			t.Errorf("residency set at %s, want %s:20:31 (prod-eu)", got, file)
		}
		if ap.Policy.ApprovalsNeeded() != 2 || ap.Policy.SoakTime() != 30*time.Minute || len(ap.Policy.Windows) != 1 {
			t.Errorf("policy %+v, want approvals 2, soak 30m, one window", ap.Policy)
		}
		eu := p.Environment("prod-eu")
		if eu.Policy.ApprovalsNeeded() != 1 || eu.OwnPolicy.Approvals != nil || eu.Extends != "prod-us" || eu.ExtendsPos.String() != file+":19:14" {
			t.Errorf("prod-eu policy %+v own %+v extends %q at %s", eu.Policy, eu.OwnPolicy, eu.Extends, eu.ExtendsPos)
		}
		var chain []string
		for _, e := range ap.Chain {
			chain = append(chain, e.Name)
		}
		if want := []string{"prod-us", "prod-eu", "prod-ap"}; !slices.Equal(chain, want) {
			t.Errorf("chain %v, want %v", chain, want)
		}
	})

	t.Run("stages hold their environments in declaration order, with waves", func(t *testing.T) {
		prod := p.Stage("prod")
		if want := []string{"prod-us", "prod-eu", "prod-ap"}; !slices.Equal(prod.Environments, want) {
			t.Errorf("prod holds %v, want %v", prod.Environments, want)
		}
		if want := [][]string{{"prod-us"}, {"prod-eu", "prod-ap"}}; !reflect.DeepEqual(prod.WaveLists, want) {
			t.Errorf("waves %v, want %v", prod.WaveLists, want)
		}
		if dev := p.Stage("dev"); !dev.Auto || !slices.Equal(dev.Environments, []string{"dev"}) {
			t.Errorf("dev stage %+v", dev)
		}
	})

	t.Run("services keep steps, health, schema and overrides", func(t *testing.T) {
		api := p.Service("api")
		if api.Deploy.Run != "./deploy/api.sh" || api.Deploy.Timeout != 10*time.Minute || api.Build == nil || api.Observe.HTTP == "" {
			t.Errorf("steps: deploy %+v build %+v observe %+v", api.Deploy, api.Build, api.Observe)
		}
		if api.Health.Timeout != 30*time.Second || api.Health.Interval != time.Second || api.Rollback != "previous" {
			t.Errorf("health %+v rollback %q", api.Health, api.Rollback)
		}
		if p.Service("migrations").Rollback != "none" {
			t.Errorf("a service without health rolls back %q, want none", p.Service("migrations").Rollback)
		}
		if !slices.Equal(api.DependsOn, []string{"migrations"}) || api.DependsOnPos[0].String() != file+":35:18" {
			t.Errorf("depends_on %v at %v", api.DependsOn, api.DependsOnPos)
		}
		port := api.Key("PORT")
		if port.Type != strata.TypeInteger || port.Default.V != int64(8080) || port.Pos.String() != file+":37:7" {
			t.Errorf("PORT %+v", port)
		}
		if k := api.Key("RATIO"); k.Type != strata.TypeNumber || k.Default.V != 0.5 {
			t.Errorf("RATIO %+v", k)
		}
		if k := api.Key("DATABASE_URL"); !k.Secret || k.From != "env:DATABASE_URL" {
			t.Errorf("DATABASE_URL %+v", k)
		}
		if got := api.Overrides["prod-eu"]["PORT"]; got.V != int64(9090) || api.OverridePos["prod-eu"].String() != file+":42:7" {
			t.Errorf("override PORT %v, block at %s", got, api.OverridePos["prod-eu"])
		}
		if got := api.Key("LOG_LEVEL").Enum; !reflect.DeepEqual(got, []any{"debug", "info", "warn", "error"}) {
			t.Errorf("enum %v", got)
		}
	})

	t.Run("notify takes URLs and {url, events}", func(t *testing.T) {
		if len(p.Notify) != 2 || p.Notify[0].URL != "https://hooks.example.com/all" || !slices.Equal(p.Notify[1].Events, []string{"failed", "rolled_back"}) {
			t.Errorf("notify %+v", p.Notify)
		}
	})
}

func TestIncludes(t *testing.T) {
	t.Run("included files add environments and services in reading order", func(t *testing.T) {
		p, probs, err := config.Load("testdata/include")
		if err != nil {
			t.Fatal(err)
		}
		if len(probs) != 0 {
			t.Fatalf("problems: %v", probs)
		}
		if got, want := p.EnvironmentNames(), []string{"dev", "prod", "prod-eu"}; !slices.Equal(got, want) {
			t.Errorf("environments %v, want %v", got, want)
		}
		if got := p.Environment("prod").Pos.String(); got != filepath.Join("testdata/include", "envs/b-prod.yaml")+":2:3" {
			t.Errorf("prod declared at %s", got)
		}
		if got := p.Stage("all").Environments; !slices.Equal(got, []string{"prod", "prod-eu"}) {
			t.Errorf("stage all holds %v", got)
		}
		if p.Environment("prod-eu").Policy.ApprovalsNeeded() != 1 || p.Service("api") == nil {
			t.Errorf("prod-eu policy or api missing")
		}
	})
	cases := []struct {
		name, dir string
		want      []string
	}{
		{"an include cycle is named", "cycle", []string{
			"testdata/cycle/b.yaml:1:11: include cycle: testdata/cycle/strata.yaml -> testdata/cycle/a.yaml -> testdata/cycle/b.yaml -> testdata/cycle/strata.yaml"}},
		{"a missing file and an empty glob are named where included", "missing", []string{
			"testdata/missing/strata.yaml:2:26: include \"nowhere/*.yaml\" matches no file",
			"testdata/missing/services.yaml:1:11: included file testdata/missing/more.yaml does not exist"}},
		{"a name defined twice across files names both places", "dup", []string{
			"testdata/dup/more.yaml:10:1: project is named in testdata/dup/strata.yaml only",
			"testdata/dup/strata.yaml:4:15: defaults.config sets A twice: here and at testdata/dup/more.yaml:2:15",
			"testdata/dup/strata.yaml:6:3: environment \"dev\" is defined twice: here and at testdata/dup/more.yaml:4:3",
			"testdata/dup/strata.yaml:8:3: service \"api\" is defined twice: here and at testdata/dup/more.yaml:6:3",
			"testdata/dup/strata.yaml:10:5: stage \"dev\" is defined twice: here and at testdata/dup/more.yaml:8:5"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, _, err := config.Load(filepath.Join("testdata", c.dir))
			if err == nil || p != nil {
				t.Fatalf("got no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q; got:\n%s", w, err)
				}
			}
		})
	}
}
