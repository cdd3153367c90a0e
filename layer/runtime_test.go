package layer_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
)

// outputsEstate: api depends on db; cache is a service api does not depend on.
func outputsEstate(t *testing.T) *strata.Project {
	t.Helper()
	api := service("api", key("TOKEN", strata.TypeString, 30, secret))
	api.DependsOn = []string{"db"}
	return estate{
		envs:     []*strata.Environment{env("dev", "", map[string]string{"tier": "dev"}, nil)},
		services: []*strata.Service{api, service("db"), service("cache")},
	}.project(t)
}

func TestDeployRuntime(t *testing.T) {
	p := outputsEstate(t)
	tests := []struct {
		name    string
		running map[string]*strata.Deployment
		want    map[string]map[string]string
	}{
		{"a dependency that runs gives what it wrote",
			map[string]*strata.Deployment{"db": {Outputs: map[string]string{"URL": "postgres://db"}}},
			map[string]map[string]string{"db": {"URL": "postgres://db"}}},
		{"a dependency that runs and wrote nothing is there, with no keys",
			map[string]*strata.Deployment{"db": {}},
			map[string]map[string]string{"db": {}}},
		{"a dependency that runs nowhere there is absent",
			map[string]*strata.Deployment{},
			map[string]map[string]string{}},
		{"a service that is no dependency is not read",
			map[string]*strata.Deployment{"cache": {Outputs: map[string]string{"URL": "redis://"}}},
			map[string]map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := layer.DeployRuntime(p.Service("api"), "1.2", func(s string) *strata.Deployment { return tt.running[s] })
			if rt.Version != "1.2" || rt.Secrets != nil {
				t.Errorf("version %q, secrets %v; want 1.2 and none", rt.Version, rt.Secrets)
			}
			if len(rt.Outputs) != len(tt.want) {
				t.Fatalf("outputs %v, want %v", rt.Outputs, tt.want)
			}
			for svc, keys := range tt.want {
				got, ok := rt.Outputs[svc]
				if !ok || got == nil || len(got) != len(keys) {
					t.Errorf("outputs of %s: %v (present: %v), want %v", svc, got, ok, keys)
				}
				for k, v := range keys {
					if got[k] != v {
						t.Errorf("outputs of %s: %s = %q, want %q", svc, k, got[k], v)
					}
				}
			}
		})
	}
}

func TestAStepIsInterpolatedWithTheRuntimeItsConfigWasResolvedWith(t *testing.T) {
	p := outputsEstate(t)
	rt := layer.DeployRuntime(p.Service("api"), "1.2", func(s string) *strata.Deployment {
		return &strata.Deployment{Outputs: map[string]string{"URL": "http://db:5432"}}
	})
	rt.Secrets = map[string]string{"TOKEN": "s3cret"}
	r, err := layer.Resolve(p, "api", "dev", rt)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a URL reads the outputs and the version", func(t *testing.T) {
		got, err := layer.Expand(p, r, "${outputs.db.URL}/health?v=${release.version}", at(40))
		if want := "http://db:5432/health?v=1.2"; err != nil || got != want {
			t.Errorf("Expand = %q, %v; want %q", got, err, want)
		}
	})
	t.Run("a command reads them through its variables", func(t *testing.T) {
		cmd, err := layer.ExpandCommand(p, r, `curl "${outputs.db.URL}"`, at(41))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Join(cmd.Env, " "), layer.CommandVar+"1=http://db:5432"; got != want || strings.Contains(cmd.Text, "db:5432") {
			t.Errorf("command %q with %q; want the URL in %s only", cmd.Text, got, want)
		}
	})
	t.Run("the runtime handed out holds no secret", func(t *testing.T) {
		got := r.Runtime()
		if got.Secrets != nil || got.Version != "1.2" || got.Outputs["db"]["URL"] != "http://db:5432" {
			t.Errorf("Runtime() = %+v; want version and outputs, no secrets", got)
		}
	})
	t.Run("a configuration kept and laid on Kept is interpolated with its runtime", func(t *testing.T) {
		k := layer.Kept("api", "dev", rt)
		got, err := layer.Expand(p, k, "${outputs.db.URL}", at(42))
		if err != nil || got != "http://db:5432" || k.Runtime().Secrets != nil {
			t.Errorf("Expand = %q, %v; want db's URL", got, err)
		}
	})
	t.Run("at config time outputs are left as written", func(t *testing.T) {
		c, err := layer.Resolve(p, "api", "dev", nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := layer.Expand(p, c, "${outputs.db.URL}/health", at(43))
		if err != nil || got != "${outputs.db.URL}/health" || c.Runtime() != nil {
			t.Errorf("Expand = %q, %v; want the reference as written", got, err)
		}
	})
}

func TestAnOutputThatIsNotThereSaysWhyAndWhatToDo(t *testing.T) {
	p := outputsEstate(t)
	tests := []struct {
		name    string
		running map[string]*strata.Deployment
		text    string
		want    string
	}{
		{"a dependency not deployed there", nil, `./check.sh "${outputs.db.URL}"`,
			"strata.yaml:60:7: ${outputs.db.URL}: db has not been deployed to dev yet, so it has written no outputs there; " +
				"deploy db to dev first (`strata deploy db --env dev`)"},
		{"a dependency that did not write the key", map[string]*strata.Deployment{"db": {Outputs: map[string]string{"HOST": "db"}}},
			`./check.sh "${outputs.db.URL}"`,
			`strata.yaml:60:7: ${outputs.db.URL}: service db wrote no output "URL" (its deploy step appends KEY=value lines to $STRATA_OUTPUTS) (environment dev)`},
		{"a service that is not a dependency", map[string]*strata.Deployment{"cache": {Outputs: map[string]string{"URL": "redis://"}}},
			`./check.sh "${outputs.cache.URL}"`,
			"strata.yaml:60:7: ${outputs.cache.URL}: cache is not in the depends_on of api, whose steps read the outputs of its dependencies only; " +
				"add cache to services.api.depends_on, so that it deploys to dev first"},
		{"the service itself", nil, `./check.sh "${outputs.api.URL}"`,
			"strata.yaml:60:7: ${outputs.api.URL}: api cannot read its own outputs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := layer.DeployRuntime(p.Service("api"), "1", func(s string) *strata.Deployment { return tt.running[s] })
			r, err := layer.Resolve(p, "api", "dev", rt)
			if err != nil {
				t.Fatal(err)
			}
			_, err = layer.ExpandCommand(p, r, tt.text, at(60))
			if strata.ErrorCode(err) != strata.EINVALID || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("err = %v\nwant an invalid error starting %s", err, tt.want)
			}
		})
	}
}

func TestAHostileOutputReachesEveryShellByteForByte(t *testing.T) {
	p := outputsEstate(t)
	for _, shell := range shells(t) {
		for _, v := range append(slices.Clone(hostile), "; rm -rf pwned-not\n`touch pwned`\n$(touch pwned)") {
			t.Run(filepath.Base(shell)+"/"+v, func(t *testing.T) {
				rt := layer.DeployRuntime(p.Service("api"), "1", func(string) *strata.Deployment {
					return &strata.Deployment{Outputs: map[string]string{"X": v}}
				})
				r, err := layer.Resolve(p, "api", "dev", rt)
				if err != nil {
					t.Fatal(err)
				}
				cmd, err := layer.ExpandCommand(p, r, `printf '%s' "${outputs.db.X}"`, at(70))
				if err != nil {
					t.Fatal(err)
				}
				if got, pwned := runWith(t, shell, cmd); got != v || pwned {
					t.Errorf("printed %q (pwned: %v), want %q (command %q)", got, pwned, v, cmd.Text)
				}
			})
		}
	}
}
