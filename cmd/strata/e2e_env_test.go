package main_test

import (
	"os"
	"strings"
	"testing"
	"time"
)

// envE2EEstate: api depends on db; each destroy step appends to one file, so its order is
// the order destroys ran. api's deploy records its config and a label it reads through
// ${env.labels.tier}.
const envE2EEstate = `project: shop
environments:
  staging:
    labels: {tier: staging}
    config: {LOG_LEVEL: debug}
  prod:
    labels: {tier: prod}
services:
  db:
    deploy: echo "URL=db.$STRATA_ENV" >> "$STRATA_OUTPUTS"
    destroy: echo "db $STRATA_ENV" >> "@SCRATCH@/destroyed"
  api:
    deploy: echo "$LOG_LEVEL ${env.labels.tier} $DB" > "@SCRATCH@/seen-$STRATA_ENV"
    destroy: echo "api $STRATA_ENV" >> "@SCRATCH@/destroyed"
    depends_on: [db]
    config:
      LOG_LEVEL: {type: string, default: info}
      DB: {type: string, default: "${outputs.db.URL}"}
`

type envCreateDoc struct {
	Name    string            `json:"name"`
	Like    string            `json:"like"`
	Labels  map[string]string `json:"labels"`
	Expires *time.Time        `json:"expires"`
}

type envListDoc struct {
	Name      string            `json:"name"`
	Labels    map[string]string `json:"labels"`
	Extends   string            `json:"extends"`
	Ephemeral bool              `json:"ephemeral"`
	Expires   *time.Time        `json:"expires"`
}

func TestAShortLivedEnvironmentFromCreateToDestroy(t *testing.T) {
	t.Parallel()
	e := newEstate(t, envE2EEstate)
	e.release("db", "--version", "1")
	e.release("api", "--version", "2")

	before := time.Now()
	r := e.must(0, "env", "create", "pr-42", "--like", "staging", "--ttl", "24h", "--label", "tier=preview", "--label", "pr=42", "-o", "json")
	var created envCreateDoc
	jsonDoc(t, r, &created)
	if created.Name != "pr-42" || created.Like != "staging" || created.Labels["tier"] != "preview" || created.Labels["pr"] != "42" {
		t.Errorf("env create printed %+v", created)
	}
	if created.Expires == nil || created.Expires.Before(before.Add(24*time.Hour-time.Minute)) || created.Expires.After(time.Now().Add(24*time.Hour)) {
		t.Errorf("expires %v, want about 24h from now", created.Expires)
	}

	// Deploy to it: it inherits staging's config and sees its own label.
	e.deploy(0, "db", "--env", "pr-42")
	e.deploy(0, "api", "--env", "pr-42")
	if got, want := e.read("seen-pr-42"), "debug preview db.pr-42\n"; got != want {
		t.Errorf("api's deploy step saw %q, want %q", got, want)
	}

	r = e.must(0, "env", "list", "-o", "json")
	var envs []envListDoc
	jsonDoc(t, r, &envs)
	if len(envs) != 3 || envs[2].Name != "pr-42" || !envs[2].Ephemeral || envs[2].Extends != "staging" || envs[2].Expires == nil || envs[2].Labels["tier"] != "preview" {
		t.Errorf("env list: want staging, prod and the short-lived pr-42 with its expiry\n%s", r)
	}
	if envs[0].Ephemeral {
		t.Errorf("staging is listed as short-lived")
	}
	r = e.must(0, "env", "list")
	if !strings.Contains(r.stdout, "pr-42") || !strings.Contains(r.stdout, "(in 24h)") {
		t.Errorf("env list text: want pr-42 with its expiry\n%s", r)
	}

	r = e.must(0, "status")
	if !strings.Contains(r.stdout, "pr-42 (expires in 24h)") {
		t.Errorf("status: want a row for pr-42 marked with its expiry\n%s", r)
	}
	r = e.must(0, "status", "-o", "json")
	if !strings.Contains(r.stdout, `"environment": "pr-42"`) {
		t.Errorf("status JSON: want cells of pr-42\n%s", r)
	}

	// Destroy: api before db (reverse dependency order), then it is gone.
	r = e.must(0, "env", "destroy", "pr-42")
	if got, want := e.read("destroyed"), "api pr-42\ndb pr-42\n"; got != want {
		t.Errorf("destroy steps ran as %q, want %q", got, want)
	}
	r = e.must(0, "env", "list", "-o", "json")
	envs = nil
	jsonDoc(t, r, &envs)
	if len(envs) != 2 {
		t.Errorf("after destroy: want staging and prod only\n%s", r)
	}
	e.must(2, "deploy", "api", "--env", "pr-42")

	r = e.must(0, "audit", "--env", "pr-42", "-o", "json")
	for _, action := range []string{`"env.create"`, `"destroy"`, `"env.destroy"`} {
		if !strings.Contains(r.stdout, action) {
			t.Errorf("audit of pr-42 lacks %s\n%s", action, r)
		}
	}
}

func TestAFailedDestroyKeepsTheEnvironmentToRetry(t *testing.T) {
	t.Parallel()
	e := newEstate(t, strings.Replace(envE2EEstate, `destroy: echo "db $STRATA_ENV"`, `destroy: test -f "@SCRATCH@/ok" && echo "db $STRATA_ENV"`, 1))
	e.release("db", "--version", "1")
	e.must(0, "env", "create", "tmp", "--like", "prod")
	e.deploy(0, "db", "--env", "tmp")
	r := e.must(1, "env", "destroy", "tmp")
	if !strings.Contains(r.stderr, "env destroy tmp` again") {
		t.Errorf("want advice to run it again\n%s", r)
	}
	if r := e.must(0, "env", "list"); !strings.Contains(r.stdout, "tmp") {
		t.Fatalf("tmp was forgotten although its destroy failed\n%s", r)
	}
	if err := os.WriteFile(e.path("ok"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	e.must(0, "env", "destroy", "tmp")
	if r := e.must(0, "env", "list"); strings.Contains(r.stdout, "tmp") {
		t.Errorf("tmp is still listed\n%s", r)
	}
}

func TestResumeDestroysExpiredEnvironments(t *testing.T) {
	t.Parallel()
	e := newEstate(t, envE2EEstate)
	e.release("db", "--version", "1")
	var brief envCreateDoc
	jsonDoc(t, e.must(0, "env", "create", "brief", "--like", "staging", "--ttl", "1s", "-o", "json"), &brief)
	e.must(0, "env", "create", "lasting", "--like", "staging", "--ttl", "1h")
	e.deploy(0, "db", "--env", "brief")
	if brief.Expires == nil {
		t.Fatalf("env create printed no expiry: %+v", brief)
	}
	waitFor(t, 30*time.Second, "brief's time to live to run out", func() bool { return !time.Now().Before(*brief.Expires) })
	r := e.must(0, "status")
	if !strings.Contains(r.stdout, "brief (expired)") {
		t.Errorf("status: want brief marked expired\n%s", r)
	}
	r = e.must(0, "resume")
	if !strings.Contains(r.stdout, "destroyed expired environment brief (db)") {
		t.Errorf("resume: want brief reported destroyed\n%s", r)
	}
	if got := e.read("destroyed"); got != "db brief\n" {
		t.Errorf("destroy steps ran as %q, want db in brief", got)
	}
	r = e.must(0, "env", "list")
	if strings.Contains(r.stdout, "brief") || !strings.Contains(r.stdout, "lasting") {
		t.Errorf("env list after resume: want lasting only\n%s", r)
	}
}

func TestEnvCreateAndDestroyRefuseBadInput(t *testing.T) {
	t.Parallel()
	e := newEstate(t, envE2EEstate)
	e.must(0, "env", "create", "taken", "--like", "staging")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"an unknown parent lists the known environments", []string{"env", "create", "x", "--like", "stagng"}, `did you mean "staging"?; a short-lived environment is made like a declared one: staging, prod`},
		{"no parent says --like is required", []string{"env", "create", "x"}, "--like is required"},
		{"a bad ttl shows good ones", []string{"env", "create", "x", "--like", "prod", "--ttl", "tomorrow"}, `want a positive duration such as "24h", "30m"`},
		{"a negative ttl is refused", []string{"env", "create", "x", "--like", "prod", "--ttl", "-1h"}, `want a positive duration`},
		{"a label without = says k=v", []string{"env", "create", "x", "--like", "prod", "--label", "owner"}, "want k=v"},
		{"a bad name says the rule", []string{"env", "create", "Bad_Name!", "--like", "prod"}, "names are lower-case letters"},
		{"a declared name is refused", []string{"env", "create", "prod", "--like", "staging"}, `"prod" is declared in`},
		{"a name taken by a short-lived one is refused", []string{"env", "create", "taken", "--like", "staging"}, "exists already"},
		{"no name is a usage error", []string{"env", "create", "--like", "staging"}, "takes one NAME"},
		{"destroying a declared environment says it lives in strata.yaml", []string{"env", "destroy", "staging"}, "is declared in"},
		{"destroying an unknown environment names the short-lived ones", []string{"env", "destroy", "nope"}, "there are: taken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.must(2, tt.args...)
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("want stderr to say %q\n%s", tt.want, r)
			}
		})
	}
	if r := e.must(0, "env", "list"); strings.Count(r.stdout, "\n") != 4 {
		t.Errorf("refused creates changed the environments\n%s", r)
	}
}
