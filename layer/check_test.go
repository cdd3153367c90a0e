package layer_test

import (
	"reflect"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
)

func TestCheck(t *testing.T) {
	cases := []struct {
		name  string
		build func(t *testing.T) *strata.Project
		want  []string
	}{
		{"a good estate has no problems", func(t *testing.T) *strata.Project {
			p, _ := layered(t, 6)
			return p
		}, nil},
		{"a bad project-wide default is reported once, not once per environment and service", func(t *testing.T) *strata.Project {
			return estate{
				defaults: vals("PORT", "eighty", 3),
				envs:     []*strata.Environment{env("a", "", nil, nil), env("b", "a", nil, nil), env("c", "", nil, nil)},
				services: []*strata.Service{service("api", key("PORT", strata.TypeInteger, 30)), service("web", key("PORT", strata.TypeInteger, 40))},
			}.project(t)
		}, []string{
			`strata.yaml:3:7: config PORT is "eighty", not an integer: the schema of service api (strata.yaml:30:7) wants a whole number such as 8080`,
			`strata.yaml:3:7: config PORT is "eighty", not an integer: the schema of service web (strata.yaml:40:7) wants a whole number such as 8080`,
		}},
		{"a label some environments lack is reported once, naming them", func(t *testing.T) *strata.Project {
			return estate{
				defaults: vals("HOST", "api.${env.labels.region}.example.com", 3),
				envs: []*strata.Environment{env("dev", "", nil, nil), env("eu", "", map[string]string{"region": "eu"}, nil),
					env("qa", "", nil, nil)},
				services: []*strata.Service{service("api"), service("web")},
			}.project(t)
		}, []string{
			`strata.yaml:3:7: config HOST: ${env.labels.region}: the environment has no label "region" (environments dev, qa)`,
		}},
		{"bad references in steps and health checks are found at their positions", func(t *testing.T) *strata.Project {
			api := service("api", key("PORT", strata.TypeInteger, 30, def(int64(8080), 31)))
			api.Deploy = &strata.Step{Run: "./deploy.sh ${release.version} ${config.PORT}", Pos: at(33)}
			api.Build = &strata.Step{Run: "make ${service.nmae}", Pos: at(32)}
			api.Health = &strata.Health{HTTP: "http://127.0.0.1:${config.PROT}/healthz", Pos: at(34)}
			return estate{envs: []*strata.Environment{env("dev", "", nil, nil)}, services: []*strata.Service{api}}.project(t)
		}, []string{
			"strata.yaml:32:7: build: unknown reference ${service.nmae}; references are ${env.name}, ${env.labels.KEY}, ${service.name}, ${release.version}, ${config.KEY} and ${outputs.SERVICE.KEY}; write $${ for a literal ${",
			`strata.yaml:34:7: health.http: ${config.PROT}: service api has no config key "PROT"; did you mean "PORT"? (environment dev)`,
		}},
		{"a build step runs in no environment, so environment references in it are errors, once", func(t *testing.T) *strata.Project {
			api := service("api")
			api.Build = &strata.Step{Run: "go build -ldflags=-X=main.v=${release.version} -o ${service.name}-${env.name}", Pos: at(32)}
			return estate{envs: []*strata.Environment{env("dev", "", nil, nil), env("qa", "", nil, nil)}, services: []*strata.Service{api}}.project(t)
		}, []string{
			"strata.yaml:32:7: build: ${env.name}: this runs once per release, in no environment, so only ${service.name} and ${release.version} have values here",
		}},
		{"a cycle is reported once although every service sees it", func(t *testing.T) *strata.Project {
			return estate{
				envs:     []*strata.Environment{env("dev", "", nil, vals("A", "${config.B}", 10, "B", "${config.A}", 11)), env("qa", "dev", nil, nil)},
				services: []*strata.Service{service("api"), service("web")},
			}.project(t)
		}, []string{"strata.yaml:10:7: config cycle: A -> B -> A; break it by giving one of these keys a plain value"}},
		{"a plain value for a secret key is a warning", func(t *testing.T) *strata.Project {
			api := service("api", key("TOKEN", strata.TypeString, 30, secret))
			api.Overrides["dev"] = vals("TOKEN", "oops", 41)
			return estate{envs: []*strata.Environment{env("dev", "", nil, nil)}, services: []*strata.Service{api}}.project(t)
		}, []string{"strata.yaml:41:7: warning: overrides.dev TOKEN is secret in the schema of service api, so this plain value is ignored; store it with `strata secret set ENV TOKEN`"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, pr := range layer.Check(c.build(t)) {
				got = append(got, pr.Error())
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("Check =\n%q\nwant\n%q", got, c.want)
			}
		})
	}
}
