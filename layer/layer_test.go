package layer_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
)

// layered sets PORT in the first n of the six layers; layer n must win. Lines: schema
// default 30, defaults.config 3, prod-us 10, prod-eu 12, overrides.prod-us 40,
// overrides.prod-eu 42.
func layered(t *testing.T, n int) (*strata.Project, *layer.Runtime) {
	api := service("api", key("PORT", strata.TypeInteger, 29, def(int64(8080), 30)))
	e := estate{
		envs: []*strata.Environment{
			env("prod-us", "", map[string]string{"tier": "prod"}, map[string]strata.Value{}),
			env("prod-eu", "prod-us", map[string]string{"region": "eu-west"}, map[string]strata.Value{}),
		},
		services: []*strata.Service{api},
	}
	if n >= 2 {
		e.defaults = vals("PORT", int64(8081), 3)
	}
	if n >= 3 {
		e.envs[0].Config["PORT"] = v(int64(8082), 10)
	}
	if n >= 4 {
		e.envs[1].Config["PORT"] = v(int64(8083), 12)
	}
	if n >= 5 {
		api.Overrides["prod-us"] = vals("PORT", int64(8084), 40)
	}
	if n >= 6 {
		api.Overrides["prod-eu"] = vals("PORT", int64(8085), 42)
	}
	var rt *layer.Runtime
	if n >= 7 {
		rt = &layer.Runtime{Secrets: map[string]string{"PORT": "8086"}}
	}
	return e.project(t), rt
}

func TestEachLayerWinsOverTheOnesBelow(t *testing.T) {
	trail := []string{"schema default", "defaults.config", "environment prod-us", "environment prod-eu",
		"overrides.prod-us", "overrides.prod-eu", "secret"}
	cases := []struct {
		name   string
		layers int
		want   int64
		source strata.Pos
	}{
		{"the schema default applies when nothing else sets the key", 1, 8080, at(30)},
		{"defaults.config beats the schema default", 2, 8081, at(3)},
		{"the parent environment's config beats defaults.config", 3, 8082, at(10)},
		{"the environment's own config beats its parent's", 4, 8083, at(12)},
		{"the service's override for the parent beats the environment's config", 5, 8084, at(40)},
		{"the service's override for the environment itself beats the parent's override", 6, 8085, at(42)},
		{"a secret beats every written layer and has no position", 7, 8086, strata.Pos{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, rt := layered(t, c.layers)
			r, err := layer.Resolve(p, "api", "prod-eu", rt)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Values["PORT"]; got != c.want {
				t.Errorf("PORT = %#v, want %d", got, c.want)
			}
			if got := r.Sources["PORT"]; got != c.source {
				t.Errorf("source = %v, want %v", got, c.source)
			}
			var names []string
			for _, l := range r.Trail["PORT"] {
				names = append(names, l.Name)
			}
			if want := trail[:c.layers]; !reflect.DeepEqual(names, want) {
				t.Errorf("trail = %q, want %q", names, want)
			}
			if got, want := r.Secret["PORT"], c.layers == 7; got != want {
				t.Errorf("secret = %v, want %v", got, want)
			}
		})
	}
}

func TestTheTrailKeepsEachLayersValueAndPosition(t *testing.T) {
	p, _ := layered(t, 6)
	r, err := layer.Resolve(p, "api", "prod-eu", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []layer.Layer{
		{Name: "schema default", Value: v(int64(8080), 30)},
		{Name: "defaults.config", Value: v(int64(8081), 3)},
		{Name: "environment prod-us", Value: v(int64(8082), 10)},
		{Name: "environment prod-eu", Value: v(int64(8083), 12)},
		{Name: "overrides.prod-us", Value: v(int64(8084), 40)},
		{Name: "overrides.prod-eu", Value: v(int64(8085), 42)},
	}
	if got := r.Trail["PORT"]; !reflect.DeepEqual(got, want) {
		t.Errorf("trail =\n%v\nwant\n%v", got, want)
	}
	// The parent sees neither the child's config nor the child's overrides.
	r, err = layer.Resolve(p, "api", "prod-us", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Values["PORT"]; got != int64(8084) {
		t.Errorf("PORT in prod-us = %#v, want 8084", got)
	}
	if got := len(r.Trail["PORT"]); got != 4 {
		t.Errorf("prod-us trail has %d layers, want 4: %v", got, r.Trail["PORT"])
	}
}

func TestExtendsChains(t *testing.T) {
	p := estate{
		envs: []*strata.Environment{
			env("base", "", nil, vals("A", "base", 1, "B", "base", 2, "C", "base", 3, "D", "base", 4)),
			env("mid", "base", nil, vals("B", "mid", 5, "C", "mid", 6)),
			env("leaf", "mid", nil, vals("C", "leaf", 7)),
			env("other", "", nil, vals("D", "other", 8)),
		},
		services: []*strata.Service{service("api")},
	}.project(t)
	p.Services[0].Overrides["base"] = vals("D", "override base", 9)
	cases := []struct {
		name, env string
		want      map[string]any
	}{
		{"a root environment has only its own config and its overrides", "base",
			map[string]any{"A": "base", "B": "base", "C": "base", "D": "override base"}},
		{"a child inherits what it does not set", "mid",
			map[string]any{"A": "base", "B": "mid", "C": "mid", "D": "override base"}},
		{"a grandchild takes each key from the nearest environment that sets it, and inherits overrides", "leaf",
			map[string]any{"A": "base", "B": "mid", "C": "leaf", "D": "override base"}},
		{"an unrelated environment sees none of it", "other", map[string]any{"D": "other"}},
	}
	for _, mode := range []string{"Resolve", "Resolver"} {
		rv := layer.NewResolver(p)
		for _, c := range cases {
			t.Run(mode+"/"+c.name, func(t *testing.T) {
				var r *layer.Resolved
				var err error
				if mode == "Resolve" {
					r, err = layer.Resolve(p, "api", c.env, nil)
				} else {
					r, err = rv.Resolve("api", c.env, nil)
				}
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(r.Values, c.want) {
					t.Errorf("values = %v, want %v", r.Values, c.want)
				}
				var keys []string
				for k := range c.want {
					keys = append(keys, k)
				}
				if !reflect.DeepEqual(r.Keys, sorted(keys)) {
					t.Errorf("keys = %q", r.Keys)
				}
			})
		}
	}
}

func sorted(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

func TestProjectAndEnvironmentConfigReachEveryService(t *testing.T) {
	p := estate{
		defaults: vals("LOG_LEVEL", "info", 3),
		envs:     []*strata.Environment{env("dev", "", nil, vals("FEATURE_X", true, 8))},
		services: []*strata.Service{service("api", key("PORT", strata.TypeInteger, 30, def(int64(8080), 31))), service("worker")},
	}.project(t)
	r, err := layer.Resolve(p, "worker", "dev", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"LOG_LEVEL": "info", "FEATURE_X": true}
	if !reflect.DeepEqual(r.Values, want) {
		t.Errorf("worker values = %v, want %v (the api's schema default must not leak)", r.Values, want)
	}
}

func TestSecrets(t *testing.T) {
	p := estate{
		envs: []*strata.Environment{
			env("prod-us", "", nil, vals("DATABASE_URL", "plain-in-parent", 10)),
			env("prod-eu", "prod-us", nil, nil),
		},
		services: []*strata.Service{service("api",
			key("DATABASE_URL", strata.TypeString, 30, secret),
			key("DB_PORT", strata.TypeInteger, 31, secret),
			key("DSN", strata.TypeString, 32, def("${config.DATABASE_URL}?sslmode=require", 33)),
		)},
	}.project(t)
	t.Run("at config time a secret is present, unknown and redacted, and comes from the environment's secrets", func(t *testing.T) {
		r, err := layer.Resolve(p, "api", "prod-eu", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Values["DATABASE_URL"]; got != "***" {
			t.Errorf("DATABASE_URL = %#v, want ***", got)
		}
		if !r.Secret["DATABASE_URL"] || !r.Sources["DATABASE_URL"].IsZero() {
			t.Errorf("secret = %v, source = %v", r.Secret["DATABASE_URL"], r.Sources["DATABASE_URL"])
		}
		if got, want := r.Source("DATABASE_URL"), "secrets of environment prod-eu"; got != want {
			t.Errorf("Source = %q, want %q", got, want)
		}
		if !r.Secret["DSN"] {
			t.Errorf("DSN is built from a secret and must be secret too")
		}
	})
	t.Run("a runtime without a secrets map (a plan) treats secrets as unknown, like config time", func(t *testing.T) {
		r, err := layer.Resolve(p, "api", "prod-eu", &layer.Runtime{Version: "1.0.0"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Values["DATABASE_URL"] != "***" || !r.Secret["DSN"] {
			t.Errorf("DATABASE_URL = %#v, DSN secret = %v", r.Values["DATABASE_URL"], r.Secret["DSN"])
		}
	})
	t.Run("a parent's plain value never reaches a secret key, and a missing secret leaves the key unset", func(t *testing.T) {
		r, err := layer.Resolve(p, "api", "prod-eu", &layer.Runtime{Secrets: map[string]string{}})
		if _, ok := r.Values["DATABASE_URL"]; ok {
			t.Errorf("DATABASE_URL = %#v, want unset", r.Values["DATABASE_URL"])
		}
		if err == nil || !strings.Contains(err.Error(), "no config key \"DATABASE_URL\"") {
			t.Errorf("err = %v, want DSN's reference to the missing secret named", err)
		}
	})
	t.Run("at deploy time the environment's secret is used, converted to the schema's type and redacted", func(t *testing.T) {
		rt := &layer.Runtime{Secrets: map[string]string{"DATABASE_URL": "postgres://db", "DB_PORT": "5432"}}
		r, err := layer.Resolve(p, "api", "prod-eu", rt)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Values["DB_PORT"]; got != int64(5432) {
			t.Errorf("DB_PORT = %#v, want 5432", got)
		}
		if got := r.Values["DSN"]; got != "postgres://db?sslmode=require" {
			t.Errorf("DSN = %#v", got)
		}
		red := r.Redacted()
		for _, k := range []string{"DATABASE_URL", "DB_PORT", "DSN"} {
			if red[k] != "***" {
				t.Errorf("Redacted()[%s] = %#v, want ***", k, red[k])
			}
		}
		if got, want := r.Trail["DATABASE_URL"], []layer.Layer{{Name: "secret", Value: strata.Value{V: "postgres://db"}}}; !reflect.DeepEqual(got, want) {
			t.Errorf("trail = %v, want only the secret layer", got)
		}
	})
	t.Run("a secret that does not fit the schema is named without its value", func(t *testing.T) {
		rt := &layer.Runtime{Secrets: map[string]string{"DATABASE_URL": "x", "DB_PORT": "hunter2"}}
		_, err := layer.Resolve(p, "api", "prod-eu", rt)
		if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "secret DB_PORT is not an integer") ||
			!strings.Contains(err.Error(), "strata.yaml:31:7") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestANullValueUnsetsWhatLowerLayersSaid(t *testing.T) {
	p := estate{
		defaults: vals("DEBUG_ADDR", ":6060", 3),
		envs:     []*strata.Environment{env("prod", "", nil, vals("DEBUG_ADDR", nil, 10))},
		services: []*strata.Service{service("api")},
	}.project(t)
	r, err := layer.Resolve(p, "api", "prod", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Values["DEBUG_ADDR"]; ok || len(r.Keys) != 0 {
		t.Errorf("values = %v, keys = %q; want DEBUG_ADDR unset", r.Values, r.Keys)
	}
}

func TestUnknownNamesAreNotFoundAndListTheKnownOnes(t *testing.T) {
	p, _ := layered(t, 1)
	cases := []struct{ name, service, env, want string }{
		{"an unknown service", "apo", "prod-eu", `unknown service "apo"; known: api; did you mean "api"?`},
		{"an unknown environment", "api", "prod-ue", `unknown environment "prod-ue"; known: prod-us, prod-eu; did you mean "prod-us"?`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, resolve := range []func() error{
				func() error { _, err := layer.Resolve(p, c.service, c.env, nil); return err },
				func() error { _, err := layer.NewResolver(p).Resolve(c.service, c.env, nil); return err },
			} {
				err := resolve()
				if strata.ErrorCode(err) != strata.ENOTFOUND || err.Error() != c.want {
					t.Errorf("err = %v (%s), want %s", err, strata.ErrorCode(err), c.want)
				}
			}
		})
	}
}
