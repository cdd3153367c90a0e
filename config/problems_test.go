package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/config"
)

// head is a small valid estate that cases extend; its lines are 1-12.
const head = `project: shop
environments:
  dev:
    labels: {tier: dev}
services:
  api:
    deploy: ./deploy.sh
    config:
      PORT: {type: integer, default: 8080}
pipeline:
  - stage: dev
    environments: [dev]
`

func TestProblemsNameTheirPlace(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		at   string // file:line:col of the problem
		want string // a fragment of its message
	}{
		{"a YAML syntax error names its line", "project: shop\nenvironments:\n  dev: [tier\n", "strata.yaml:2:1", "YAML syntax error"},
		{"a tab in the indentation is a syntax error", "project: shop\n\tenvironments: {}\n", "strata.yaml:2:1", "YAML syntax error"},
		{"a second document is an error", head + "---\nproject: other\n", "strata.yaml:14:1", "a second YAML document"},
		{"a duplicate key names both lines", head + "project: again\n", "strata.yaml:13:1", `duplicate key "project" in the file (first at strata.yaml:1:1)`},
		{"an unknown top-level key suggests the right one", head + "enviroments: {}\n", "strata.yaml:13:1", `unknown key "enviroments" in the top level of strata.yaml; did you mean "environments"?`},
		{"a list where a mapping belongs says what is expected", "project: shop\nenvironments: [dev]\n", "strata.yaml:2:15", "environments should be a mapping (key: value), found a list"},
		{"a missing project name is an error", "environments: {}\n", "strata.yaml:1:1", "no project name"},
		{"a service needs a deploy step", strings.Replace(head, "pipeline:", "  worker:\n    build: make\npipeline:", 1), "strata.yaml:10:3", `service "worker" has no deploy step`},
		{"a stage needs environments", head + "  - stage: prod\n", "strata.yaml:13:5", `stage "prod" has no environments`},
		{"a stage needs a name", head + "  - environments: [dev]\n", "strata.yaml:13:5", "a pipeline stage has no name"},
		{"a bad environment name says the rule", strings.Replace(head, "  dev:\n", "  Dev_1:\n", 1), "strata.yaml:3:3", `environment name "Dev_1" is not valid; names are lower-case`},
		{"extends of an unknown environment suggests one", head + "environments:\n", "strata.yaml:13:1", `duplicate key "environments"`},
		{"an unknown extends suggests the right name", strings.Replace(head, "    labels: {tier: dev}\n", "    labels: {tier: dev}\n  qa:\n    extends: deb\n", 1), "strata.yaml:6:14", `extends the unknown environment "deb"; did you mean "dev"?`},
		{"an extends cycle is named", strings.Replace(head, "    labels: {tier: dev}\n", "    extends: qa\n  qa:\n    extends: dev\n", 1), "strata.yaml:4:14", "extends cycle: dev -> qa -> dev"},
		{"an environment value that breaks a schema names both places", strings.Replace(head, "    labels: {tier: dev}\n", "    config: {PORT: abc}\n", 1), "strata.yaml:4:20", `PORT is "abc" here but api's schema (strata.yaml:9:7) wants an integer`},
		{"a default that breaks an enum names both places", "project: shop\ndefaults:\n  config: {LEVEL: loud}\n" + strings.Replace(head[len("project: shop\n"):], "pipeline:", "      LEVEL: {enum: [debug, info]}\npipeline:", 1), "strata.yaml:3:19", "wants one of debug, info"},
		{"an interpolated value is left for the layer package", strings.Replace(head, "    labels: {tier: dev}\n", "    labels: {tier: dev}\n    config: {PORT: \"${config.BASE}\"}\n", 1) + "  - stage: bad\n    environments: [nope]\n", "strata.yaml:15:20", `unknown environment "nope"`},
		{"a NaN config value is refused before it reaches JSON", strings.Replace(head, "    labels: {tier: dev}\n", "    config: {RATIO: .nan}\n", 1), "strata.yaml:4:21", `RATIO .nan is not a finite number; write a number such as 1.5, or quote it`},
		{"an infinite schema default is refused", strings.Replace(head, "default: 8080", "default: -.inf", 1), "strata.yaml:9:38", `-.inf is not a finite number`},
		{"a project name that climbs out of the keys directory is refused", strings.Replace(head, "project: shop", "project: ../../etc", 1), "strata.yaml:1:10", `project name "../../etc" cannot name a directory of keys`},
		{"a project name of two dots is refused", strings.Replace(head, "project: shop", "project: ..", 1), "strata.yaml:1:10", `project name ".." cannot name a directory`},
		{"a config key Strata's own step variables use is refused", strings.Replace(head, "    labels: {tier: dev}\n", "    config: {STRATA_ENV: prod}\n", 1), "strata.yaml:4:14", `config key "STRATA_ENV" in config of environment "dev" begins with STRATA_, which Strata's own step variables use`},
		{"a schema key of an interpolation variable's name is refused", strings.Replace(head, "PORT: {type", "STRATA_I_1: {type", 1), "strata.yaml:9:7", `config key "STRATA_I_1" in config schema of service "api" begins with STRATA_`},
		{"a misspelt webhook event is refused with the right one", head + "notify:\n  - {url: \"https://hooks.example.com/x\", events: [faild]}\n", "strata.yaml:14:51", `notify: unknown event "faild"; known: waiting, succeeded, failed, rolled_back, unhealthy, recovered, flag, switch; did you mean "failed"?`},
		{"a schema default must fit its type", strings.Replace(head, "default: 8080", "default: eighty", 1), "strata.yaml:9:38", `default of PORT is "eighty" but its schema wants an integer`},
		{"an unknown type suggests one", strings.Replace(head, "type: integer", "type: interger", 1), "strata.yaml:9:20", `type "interger" is not a config type; did you mean "integer"?`},
		{"overrides of an unknown environment suggest one", strings.Replace(head, "    config:\n", "    overrides:\n      deb: {PORT: 1}\n    config:\n", 1), "strata.yaml:9:7", `overrides of service "api" name the unknown environment "deb"; did you mean "dev"?`},
		{"a literal override must fit the schema", strings.Replace(head, "    config:\n", "    overrides:\n      dev: {PORT: true}\n    config:\n", 1), "strata.yaml:9:19", `PORT is true here but api's schema (strata.yaml:11:7) wants an integer`},
		{"depends_on an unknown service suggests one", strings.Replace(head, "    deploy: ./deploy.sh\n", "    deploy: ./deploy.sh\n    depends_on: [apx]\n", 1), "strata.yaml:8:18", `depends on the unknown service "apx"; did you mean "api"?`},
		{"depends_on itself is an error", strings.Replace(head, "    deploy: ./deploy.sh\n", "    deploy: ./deploy.sh\n    depends_on: [api]\n", 1), "strata.yaml:8:18", `service "api" depends on itself`},
		{"a depends_on cycle is named", strings.Replace(head, "    deploy: ./deploy.sh\n", "    deploy: ./deploy.sh\n    depends_on: [db]\n  db:\n    deploy: x\n    depends_on: [api]\n", 1), "strata.yaml:11:18", "depends_on cycle: api -> db -> api"},
		{"a malformed secret source says what would be right", strings.Replace(head, "    labels: {tier: dev}\n", "    labels: {tier: dev}\n    secrets: {TOKEN: \"vault:secret#token\"}\n", 1) + "", "strata.yaml:5:22", `secret source of TOKEN: "vault:secret#token" names no mount and path; write vault:MOUNT/PATH#KEY`},
		{"an unknown secret source kind lists the kinds", strings.Replace(head, "    labels: {tier: dev}\n", "    labels: {tier: dev}\n    secrets: {TOKEN: \"aws:x\"}\n", 1), "strata.yaml:5:22", `unknown secret source "aws"; write sops:PATH#KEY, vault:MOUNT/PATH#KEY or exec:COMMAND`},
		{"a secret source for a key no service declares secret is named", strings.Replace(head, "    labels: {tier: dev}\n", "    labels: {tier: dev}\n    secrets: {PORT: \"exec:echo 1\"}\n", 1), "strata.yaml:5:21", `unknown secret key "PORT"`},
		{"a bad duration gives an example", strings.Replace(head, "    deploy: ./deploy.sh\n", "    deploy: {run: ./deploy.sh, timeout: 30}\n", 1), "strata.yaml:7:41", `timeout "30" is not a duration (a unit is needed: 30s?); write e.g. "10m"`},
		{"a bad health interval gives an example", strings.Replace(head, "    deploy: ./deploy.sh\n", "    deploy: ./deploy.sh\n    health: {command: \"true\", interval: fast}\n", 1), "strata.yaml:8:41", `interval "fast" is not a duration`},
		{"a bad soak gives an example", strings.Replace(head, "    labels: {tier: dev}\n", "    policy: {soak: forever}\n", 1), "strata.yaml:4:20", `soak "forever" is not a duration; write e.g. "30m"`},
		{"a bad deploy window says what a good one looks like", strings.Replace(head, "    labels: {tier: dev}\n", "    policy: {windows: [\"Mon-Fry 09:00-17:00 UTC\"]}\n", 1), "strata.yaml:4:24", `unknown day "Fry"`},
		{"negative approvals are an error", strings.Replace(head, "    labels: {tier: dev}\n", "    policy: {approvals: -1}\n", 1), "strata.yaml:4:25", "approvals is -1"},
		{"fractional approvals are an error", strings.Replace(head, "    labels: {tier: dev}\n", "    policy: {approvals: 1.5}\n", 1), "strata.yaml:4:25", "approvals should be a whole number"},
		{"an unterminated ${ is an error", strings.Replace(head, "./deploy.sh", "./deploy.sh ${env.name", 1), "strata.yaml:7:13", `unterminated "${"`},
		{"an unknown namespace is an error", strings.Replace(head, "./deploy.sh", "./deploy.sh ${enviro.name}", 1), "strata.yaml:7:13", `unknown namespace "enviro"`},
		{"a shell variable in braces says how to escape it", strings.Replace(head, "./deploy.sh", "./deploy.sh ${HOME}", 1), "strata.yaml:7:13", "write $${HOME}"},
		{"outputs of an unknown service is an error", strings.Replace(head, "./deploy.sh", "./deploy.sh ${outputs.db.URL}", 1), "strata.yaml:7:13", `names the unknown service "db"`},
		{"outputs of a service it does not depend on say to add it", strings.Replace(head, "    deploy: ./deploy.sh\n", "    deploy: ./deploy.sh ${outputs.db.URL}\n  db:\n    deploy: x\n", 1), "strata.yaml:7:13", `service "api" does not depend on "db", so "db"'s outputs are not read; add db to services.api.depends_on`},
		{"a health URL reading a non-dependency's outputs is an error", strings.Replace(head, "    deploy: ./deploy.sh\n", "    deploy: ./deploy.sh\n    health: {http: \"${outputs.db.URL}/health\"}\n  db:\n    deploy: x\n", 1), "strata.yaml:8:20", `add db to services.api.depends_on`},
		{"a schema default reading a non-dependency's outputs is an error", strings.Replace(head, "default: 8080}", "default: 8080}\n      DB: {default: \"${outputs.db.URL}\"}\n  db:\n    deploy: x", 1), "strata.yaml:10:21", `add db to services.api.depends_on`},
		{"a service reading its own outputs is an error", strings.Replace(head, "./deploy.sh", "./deploy.sh ${outputs.api.URL}", 1), "strata.yaml:7:13", `service "api" reads its own outputs`},
		{"a build reading outputs is an error", strings.Replace(head, "    deploy: ./deploy.sh\n", "    depends_on: [db]\n    build: make ${outputs.db.URL}\n    deploy: ./deploy.sh\n  db:\n    deploy: x\n", 1), "strata.yaml:8:12", `a build runs once, in no environment`},
		{"a duplicate stage names both places", head + "  - stage: dev\n    environments: [dev]\n", "strata.yaml:13:5", `stage "dev" is defined twice: here and at strata.yaml:11:5`},
		{"an unknown environment in a stage suggests one", strings.Replace(head, "[dev]", "[deb]", 1), "strata.yaml:12:20", `stage "dev" names the unknown environment "deb"; did you mean "dev"?`},
		{"a selector that selects nothing shows the label's values", strings.Replace(head, "[dev]", "{tier: dve}", 1), "strata.yaml:12:19", `selects no environment; tier is one of: dev; did you mean "dev"?`},
		{"negative waves are an error", head + "    waves: -1\n", "strata.yaml:13:12", "waves is -1"},
		{"waves naming an environment outside the stage are an error", head + "    waves: [[dev], [qa]]\n", "strata.yaml:13:21", `name "qa", which is not in the stage`},
		{"waves leaving out an environment are an error", strings.Replace(head, "    labels: {tier: dev}\n", "    labels: {tier: dev}\n  qa: {}\n", 1) + "  - stage: more\n    environments: [dev, qa]\n    waves: [[qa]]\n", "strata.yaml:16:12", "leave out dev"},
		{"a secret with a default is an error", strings.Replace(head, "pipeline:", "      DB: {secret: true, default: x}\npipeline:", 1), "strata.yaml:10:26", "secret DB has a default"},
		{"from without secret is an error", strings.Replace(head, "pipeline:", "      DB: {from: \"env:DB\"}\npipeline:", 1), "strata.yaml:10:18", "from is set but DB is not a secret"},
		{"an include of a missing file names the include", head + "include: [nope.yaml]\n", "strata.yaml:13:11", "included file nope.yaml does not exist"},
		{"a glob that matches nothing is an error", head + "include: [\"envs/*.yaml\"]\n", "strata.yaml:13:11", `include "envs/*.yaml" matches no file`},
		{"an unknown health key suggests one", strings.Replace(head, "    deploy: ./deploy.sh\n", "    deploy: ./deploy.sh\n    health: {htpp: \"http://x/\"}\n", 1), "strata.yaml:8:14", `unknown key "htpp" in health of service "api"; did you mean "http"?`},
		{"a bad rollback suggests one", strings.Replace(head, "    deploy: ./deploy.sh\n", "    deploy: ./deploy.sh\n    rollback: previos\n", 1), "strata.yaml:8:15", `did you mean "previous"?`},
		{"a config value that is a list is an error", strings.Replace(head, "    labels: {tier: dev}\n", "    config: {PORT: [1]}\n", 1), "strata.yaml:4:20", "PORT should be a single value"},
		{"a config key that is no variable name is an error", strings.Replace(head, "    labels: {tier: dev}\n", "    config: {log-level: x}\n", 1), "strata.yaml:4:14", `config key "log-level" in config of environment "dev" is not a valid name`},
		{"a null config value is an error", strings.Replace(head, "    labels: {tier: dev}\n", "    config:\n      PORT:\n", 1), "strata.yaml:5:12", "PORT has no value"},
		{"a custom tag is an error", strings.Replace(head, "    labels: {tier: dev}\n", "    config: {BIG: !mine 1}\n", 1), "strata.yaml:4:19", "tag !mine"},
		{"an empty health contains says why it would be useless", strings.Replace(head, "    deploy: ./deploy.sh\n", "    deploy: ./deploy.sh\n    health: {http: \"http://127.0.0.1:8080/\", contains: \"\"}\n", 1), "strata.yaml:8:56", `health contains of service "api" is empty`},
		{"a health status that is no HTTP status gives an example", strings.Replace(head, "    deploy: ./deploy.sh\n", "    deploy: ./deploy.sh\n    health: {http: \"http://127.0.0.1:8080/\", status: 99}\n", 1), "strata.yaml:8:54", "status: 200"},
		{"a health status that is no number says so", strings.Replace(head, "    deploy: ./deploy.sh\n", "    deploy: ./deploy.sh\n    health: {http: \"http://127.0.0.1:8080/\", status: ok}\n", 1), "strata.yaml:8:54", "status"},
		{"contains on a command check is refused", strings.Replace(head, "    deploy: ./deploy.sh\n", "    deploy: ./deploy.sh\n    health: {command: \"true\", contains: ok}\n", 1), "strata.yaml:8:5", "only an http check reads"},
		{"an unknown reference in health contains names it", strings.Replace(head, "    deploy: ./deploy.sh\n", "    deploy: ./deploy.sh\n    health: {http: \"http://127.0.0.1:8080/\", contains: \"v${release.verison}\"}\n", 1), "strata.yaml:8:56", "release.verison"},
		{"a notify URL must be http", head + "notify: [\"ftp://x\"]\n", "strata.yaml:13:10", "is not an http(s) URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, probs, err := config.Parse("strata.yaml", []byte(c.yaml), t.TempDir())
			if err == nil || p != nil {
				t.Fatalf("got no error (project %v); want %s: %s", p != nil, c.at, c.want)
			}
			if got := strata.ErrorCode(err); got != strata.EINVALID {
				t.Errorf("error code %q, want %q", got, strata.EINVALID)
			}
			for _, pr := range probs {
				if pr.Pos.String() == c.at && strings.Contains(pr.Message, c.want) && !pr.Warning {
					return
				}
			}
			t.Errorf("no problem at %s containing %q; got:\n%s", c.at, c.want, err)
		})
	}
}

func TestTheContractMisspeltKey(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/contract/strata.yaml")
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(data), "\n  stage:\n", "\n  stage:\n    lables: {tier: staging}\n", 1)
	if err := os.WriteFile(filepath.Join(dir, "strata.yaml"), []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = config.Load(dir)
	want := filepath.Join(dir, "strata.yaml") + `:11:5: unknown key "lables" in environment "stage"; did you mean "labels"? (known keys: config, extends, flags, labels, policy, runs_on, secrets)`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v\nwant it to contain %s", err, want)
	}
}

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	yaml := strings.Replace(head, "    labels: {tier: dev}\n", "    lables: {tier: dev}\n    policy: {soak: 3}\n", 1) + "  - stage: dev\n"
	_, probs, err := config.Parse("strata.yaml", []byte(yaml), t.TempDir())
	if err == nil {
		t.Fatal("got no error")
	}
	var errs int
	for i, p := range probs {
		if !p.Warning {
			errs++
		}
		if i > 0 && p.Pos.Line < probs[i-1].Pos.Line {
			t.Errorf("problems out of order: %s after %s", p, probs[i-1])
		}
	}
	if errs < 3 {
		t.Errorf("got %d errors, want at least 3 (unknown key, soak, duplicate stage):\n%v", errs, err)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != errs {
		t.Errorf("the error joins %d lines, want one per error (%d)", n, errs)
	}
}

func TestAMissingProjectFileSaysToRunInit(t *testing.T) {
	dir := t.TempDir()
	_, _, err := config.Load(dir)
	if err == nil || strata.ErrorCode(err) != strata.EINVALID || !strings.Contains(err.Error(), "run `strata init`") {
		t.Fatalf("got %v, want an invalid error that says to run strata init", err)
	}
}

func TestAnEnvironmentInNoStageIsOnlyAWarning(t *testing.T) {
	yaml := strings.Replace(head, "    labels: {tier: dev}\n", "    labels: {tier: dev}\n  lonely: {}\n", 1)
	p, probs, err := config.Parse("strata.yaml", []byte(yaml), t.TempDir())
	if err != nil || p == nil {
		t.Fatalf("got %v, want a project", err)
	}
	if len(probs) != 1 || !probs[0].Warning || probs[0].Pos.String() != "strata.yaml:5:3" || !strings.Contains(probs[0].Message, `"lonely" is in no pipeline stage`) ||
		!strings.Contains(probs[0].Message, "`strata promote SERVICE@VERSION --to env:lonely`") {
		t.Fatalf("got %v, want one warning at strata.yaml:5:3 about lonely", probs)
	}
}
