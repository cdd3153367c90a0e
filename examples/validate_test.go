package examples_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-dev/strata/config"
	"github.com/strata-dev/strata/examples"
	"github.com/strata-dev/strata/layer"
)

// TestEstatesValidate loads each example estate as `strata validate` would and resolves every
// service in every environment: an example must teach nothing that fails, warns or is unused.
func TestEstatesValidate(t *testing.T) {
	starter := t.TempDir()
	if err := os.WriteFile(filepath.Join(starter, config.FileName), examples.Starter, 0o644); err != nil {
		t.Fatal(err)
	}
	shop := t.TempDir()
	if err := examples.CopyShop(shop); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		dir          string
		envs, stages int
	}{
		{"the starter that init writes loads without a problem", starter, 3, 3},
		{"the shop the demo runs loads without a problem", shop, 5, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, probs, err := config.Load(tt.dir)
			for _, pr := range probs {
				t.Errorf("%v", pr)
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, pr := range layer.Check(p) {
				t.Errorf("%v", pr)
			}
			if got := len(p.Environments); got != tt.envs {
				t.Errorf("%d environments, want %d", got, tt.envs)
			}
			if got := len(p.Pipeline); got != tt.stages {
				t.Errorf("%d stages, want %d", got, tt.stages)
			}
			for _, s := range p.Services {
				for _, e := range p.Environments {
					if _, err := layer.Resolve(p, s.Name, e.Name, nil); err != nil {
						t.Errorf("resolve %s in %s: %v", s.Name, e.Name, err)
					}
				}
			}
		})
	}
}

// TestShopConfigLayers pins down what the shop teaches about layering: each value below
// comes from a different layer, and interpolation resolves for the target environment.
func TestShopConfigLayers(t *testing.T) {
	dir := t.TempDir()
	if err := examples.CopyShop(dir); err != nil {
		t.Fatal(err)
	}
	p, _, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	rt := &layer.Runtime{
		Version: "1.2.3",
		Outputs: map[string]map[string]string{
			"migrations": {"DB_URL": "file:///run/db"},
			"api":        {"URL": "http://127.0.0.1:17131"},
		},
	}
	tests := []struct {
		name, service, env, key string
		want                    any
	}{
		{"dev keeps the schema default port", "api", "dev", "PORT", int64(17101)},
		{"an environment's own config beats defaults.config", "api", "dev", "LOG_LEVEL", "debug"},
		{"a service override for the environment sets its port", "api", "prod-eu", "PORT", int64(17131)},
		{"a replica inherits its parent's service overrides", "api", "prod-ap", "CACHE_TTL", int64(300)},
		{"a replica inherits its parent's config", "api", "prod-eu", "LOG_LEVEL", "warn"},
		{"a replica's own config wins", "api", "prod-eu", "CURRENCY", "EUR"},
		{"the schema default applies where nothing else says", "api", "staging", "CURRENCY", "USD"},
		{"a label reference resolves in the target environment", "api", "prod-eu", "REGION", "eu-west"},
		{"a dependency's output reaches the api", "api", "prod-us", "DB_URL", "file:///run/db"},
		{"web is given the api's URL", "web", "prod-eu", "API_URL", "http://127.0.0.1:17131"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := layer.Resolve(p, tt.service, tt.env, rt)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Values[tt.key]; got != tt.want {
				t.Errorf("%s of %s in %s = %#v (from %s), want %#v", tt.key, tt.service, tt.env, got, r.Sources[tt.key], tt.want)
			}
		})
	}
	t.Run("every (service, environment) has its own port in 17100-17199", func(t *testing.T) {
		seen := map[int64]string{}
		for _, s := range []string{"api", "web"} {
			for _, e := range p.Environments {
				r, err := layer.Resolve(p, s, e.Name, rt)
				if err != nil {
					t.Fatal(err)
				}
				port, _ := r.Values["PORT"].(int64)
				if port < 17100 || port > 17199 {
					t.Errorf("%s in %s listens on %d", s, e.Name, port)
				}
				if other, dup := seen[port]; dup {
					t.Errorf("%s in %s and %s share port %d", s, e.Name, other, port)
				}
				seen[port] = s + " in " + e.Name
			}
		}
	})
}
