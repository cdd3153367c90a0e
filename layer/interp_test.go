package layer_test

import (
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
)

// interpEstate has api in prod-eu (extends prod-us), with VALUE set to the case's text at
// line 50 and a few keys to refer to.
func interpEstate(t *testing.T, text any, schema ...*strata.Key) *strata.Project {
	t.Helper()
	p := estate{
		defaults: vals("BASE_PORT", int64(9000), 3, "HOST", "api.internal", 4, "RATIO", 0.25, 5, "ON", true, 6),
		envs: []*strata.Environment{
			env("prod-us", "", map[string]string{"tier": "prod", "region": "us-east"}, nil),
			env("prod-eu", "prod-us", map[string]string{"region": "eu-west"}, vals("VALUE", text, 50)),
		},
		services: []*strata.Service{service("api", schema...), service("db")},
	}.project(t)
	return p
}

func TestInterpolation(t *testing.T) {
	rt := &layer.Runtime{Version: "1.4.2", Outputs: map[string]map[string]string{"db": {"URL": "postgres://db:5432"}}}
	cases := []struct {
		name string
		text any
		rt   *layer.Runtime
		want any
	}{
		{"env.name is the environment's name", "${env.name}", nil, "prod-eu"},
		{"env.labels reads labels resolved through extends", "${env.labels.tier}/${env.labels.region}", nil, "prod/eu-west"},
		{"service.name is the service's name", "svc-${service.name}", nil, "svc-api"},
		{"release.version waits for deploy time when there is no runtime", "v${release.version}", nil, "v${release.version}"},
		{"release.version is the runtime's version", "v${release.version}", rt, "v1.4.2"},
		{"outputs wait for deploy time when there is no runtime", "${outputs.db.URL}/shop", nil, "${outputs.db.URL}/shop"},
		{"outputs are what a dependency's deploy step wrote", "${outputs.db.URL}/shop", rt, "postgres://db:5432/shop"},
		{"a value that is exactly one config reference keeps its type", "${config.BASE_PORT}", nil, int64(9000)},
		{"a boolean passes through with its type", "${config.ON}", nil, true},
		{"inside a longer string a config value is formatted", "http://${config.HOST}:${config.BASE_PORT}/?r=${config.RATIO}&on=${config.ON}", nil,
			"http://api.internal:9000/?r=0.25&on=true"},
		{"$${ is a literal ${", "$${config.HOST} costs $$5 or $5", nil, "${config.HOST} costs $$5 or $5"},
		{"spaces inside the braces are allowed", "${ env.name }", nil, "prod-eu"},
		{"a value without references is left alone", "plain $ text", nil, "plain $ text"},
		{"a non-string value is left alone", int64(7), nil, int64(7)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := interpEstate(t, c.text)
			r, err := layer.Resolve(p, "api", "prod-eu", c.rt)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Values["VALUE"]; got != c.want {
				t.Errorf("VALUE = %#v, want %#v", got, c.want)
			}
			if got := r.Trail["VALUE"][0].Value.V; got != c.text {
				t.Errorf("the trail must keep the value as written: %#v", got)
			}
		})
	}
}

func TestNestedConfigReferencesResolveRecursively(t *testing.T) {
	p := estate{
		envs: []*strata.Environment{env("dev", "", map[string]string{"region": "local"},
			vals("URL", "http://${config.HOSTPORT}/v1", 10, "HOSTPORT", "${config.HOST}:${config.PORT}", 11,
				"HOST", "${env.name}.${env.labels.region}", 12, "PORT", "${config.BASE}", 13, "BASE", "8080", 14))},
		services: []*strata.Service{service("api", key("PORT", strata.TypeInteger, 30), key("BASE", strata.TypeString, 31))},
	}.project(t)
	r, err := layer.Resolve(p, "api", "dev", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Values["URL"], "http://dev.local:8080/v1"; got != want {
		t.Errorf("URL = %#v, want %#v", got, want)
	}
	if got := r.Values["PORT"]; got != int64(8080) {
		t.Errorf("PORT = %#v, want the integer 8080 (a string of digits fits an integer key)", got)
	}
	if got := r.Sources["URL"]; got != at(10) {
		t.Errorf("URL source = %v, want where URL was written", got)
	}
}

func TestBadReferencesNameTheValuesPosition(t *testing.T) {
	cases := []struct {
		name string
		text string
		want []string
	}{
		{"a label the environment lacks", "${env.labels.residency}",
			[]string{`strata.yaml:50:7: config VALUE: ${env.labels.residency}: the environment has no label "residency" (environment prod-eu)`}},
		{"a misspelt label gets a suggestion", "${env.labels.regoin}", []string{`did you mean "region"?`}},
		{"a config key that does not exist", "${config.BASE_PROT}",
			[]string{`strata.yaml:50:7: config VALUE: ${config.BASE_PROT}: service api has no config key "BASE_PROT"; did you mean "BASE_PORT"?`}},
		{"an unknown namespace", "${release.name}", []string{"strata.yaml:50:7: config VALUE: unknown reference ${release.name}; references are"}},
		{"an unterminated reference", "http://${config.HOST", []string{"strata.yaml:50:7: config VALUE: ${ without a closing }"}},
		{"outputs of an unknown service", "${outputs.dbb.URL}", []string{`unknown service "dbb"; did you mean "db"?`}},
		{"outputs without a key", "${outputs.db}", []string{"want ${outputs.SERVICE.KEY}"}},
		{"every bad reference in a value is reported", "${env.labels.a}-${env.labels.b}",
			[]string{`no label "a"`, `no label "b"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := layer.Resolve(interpEstate(t, c.text), "api", "prod-eu", nil)
			if strata.ErrorCode(err) != strata.EINVALID {
				t.Fatalf("err = %v, want an invalid error", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v\nwant it to contain %s", err, w)
				}
			}
		})
	}
}

func TestAShortUnknownKeyIsNotCorrectedIntoAnUnrelatedOne(t *testing.T) {
	_, err := layer.Resolve(interpEstate(t, "${config.NOPE}"), "api", "prod-eu", nil)
	if err == nil || !strings.Contains(err.Error(), `no config key "NOPE"`) || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("err = %v, want no config key \"NOPE\" without a suggestion (ON and HOST are three edits away)", err)
	}
}

func TestAMissingOutputAtDeployTimeIsAnError(t *testing.T) {
	rt := &layer.Runtime{Outputs: map[string]map[string]string{"db": {}}}
	_, err := layer.Resolve(interpEstate(t, "${outputs.db.URL}"), "api", "prod-eu", rt)
	if err == nil || !strings.Contains(err.Error(), `service db wrote no output "URL"`) {
		t.Errorf("err = %v", err)
	}
}

func TestCyclesAreErrorsNamingThePath(t *testing.T) {
	cases := []struct {
		name   string
		config map[string]strata.Value
		want   string
	}{
		{"two keys that refer to each other", vals("A", "${config.B}", 10, "B", "x${config.A}", 11),
			"strata.yaml:10:7: config cycle: A -> B -> A"},
		{"a key that refers to itself", vals("A", "${config.A}", 10), "strata.yaml:10:7: config cycle: A -> A"},
		{"a longer loop", vals("A", "${config.B}", 10, "B", "${config.C}", 11, "C", "${config.A}", 12),
			"strata.yaml:10:7: config cycle: A -> B -> C -> A"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := estate{envs: []*strata.Environment{env("dev", "", nil, c.config)}, services: []*strata.Service{service("api")}}.project(t)
			_, err := layer.Resolve(p, "api", "dev", nil)
			if err == nil {
				t.Fatal("no error")
			}
			if got := err.Error(); !strings.HasPrefix(got, c.want) || strings.Count(got, "cycle") != 1 {
				t.Errorf("err = %v\nwant exactly one %s", got, c.want)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	p := interpEstate(t, "x", key("PORT", strata.TypeInteger, 30, def(int64(8080), 31)), key("TOKEN", strata.TypeString, 32, secret))
	deploy, err := layer.Resolve(p, "api", "prod-eu", &layer.Runtime{Version: "2.0.0", Secrets: map[string]string{"TOKEN": "s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	config, err := layer.Resolve(p, "api", "prod-eu", nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, text string
		r          *layer.Resolved // at deploy time, or at config time
		want, err  string
	}{
		{"a health URL reads the resolved config", "http://127.0.0.1:${config.PORT}/healthz", deploy, "http://127.0.0.1:8080/healthz", ""},
		{"a step sees the release version at deploy time", "./deploy.sh ${service.name} ${release.version} ${env.labels.region}", deploy,
			"./deploy.sh api 2.0.0 eu-west", ""},
		{"at config time the release version is left as written", "./deploy.sh ${release.version}", config, "./deploy.sh ${release.version}", ""},
		{"a step may be given a secret", "curl -H 'X-Token: ${config.TOKEN}'", deploy, "curl -H 'X-Token: s3cret'", ""},
		{"text without references comes back as is", "./deploy.sh", deploy, "./deploy.sh", ""},
		{"an unknown key names where the text was written", "http://x:${config.PROT}/", deploy, "",
			`strata.yaml:77:7: ${config.PROT}: service api has no config key "PROT"; did you mean "PORT"? (environment prod-eu)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := layer.Expand(p, c.r, c.text, at(77))
			if c.err != "" {
				if err == nil || err.Error() != c.err || strata.ErrorCode(err) != strata.EINVALID {
					t.Errorf("err = %v\nwant %s", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("Expand = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestExpandRelease(t *testing.T) {
	p := interpEstate(t, "x")
	cases := []struct {
		name, text string
		rt         *layer.Runtime
		want, err  string
	}{
		{"the service name and version have values", "make ${service.name} VERSION=${release.version}", &layer.Runtime{Version: "1.2.3"},
			"make api VERSION=1.2.3", ""},
		{"without a runtime the version is left as written", "make VERSION=${release.version}", nil, "make VERSION=${release.version}", ""},
		{"config has no value outside an environment", "make PORT=${config.BASE_PORT}", nil, "",
			"strata.yaml:9:7: ${config.BASE_PORT}: this runs once per release, in no environment, so only ${service.name} and ${release.version} have values here"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := layer.ExpandRelease(p, "api", c.text, at(9), c.rt)
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Errorf("err = %v\nwant %s", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("ExpandRelease = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}
