package main_test

// End-to-end tests of issue 13 point 4 (retire): an environment removed from strata.yaml
// while services still run there is an orphan, reported by drift and marked by status,
// until `strata env retire` destroys what runs there, with the config it ran with.

import (
	"os"
	"strings"
	"testing"
)

// retireEstate has prod-us and prod-ap; api depends on db. Destroy steps append what they
// destroy, with the config they were given, to "destroyed".
const retireEstate = `project: retire
environments:
  prod-us: {}
  prod-ap:
    config: {REGION: ap-south}
services:
  db:
    deploy: 'true'
    destroy: echo "db $STRATA_ENV $REGION" >> "@SCRATCH@/destroyed"
  api:
    deploy: 'true'
    destroy: echo "api $STRATA_ENV $REGION $MOTD" >> "@SCRATCH@/destroyed"
    depends_on: [db]
    config:
      REGION: {type: string, default: none}
      MOTD: {type: string, default: "it's $(touch pwned) ;"}
`

func TestAnEnvironmentRemovedFromTheFileIsAnOrphanUntilRetired(t *testing.T) {
	t.Parallel()
	e := newEstate(t, retireEstate)
	e.release("db", "--version", "1")
	e.release("api", "--version", "1")
	for _, env := range []string{"prod-us", "prod-ap"} {
		e.deploy(0, "db@1", "--env", env)
		e.deploy(0, "api@1", "--env", env)
	}
	e.must(2, "env", "retire", "prod-ap") // still declared: nothing changes
	e.write("strata.yaml", strings.Replace(strings.ReplaceAll(retireEstate, "@SCRATCH@", e.scratch), "  prod-ap:\n    config: {REGION: ap-south}\n", "", 1))

	t.Run("drift reports it as kind orphan, with exit 1", func(t *testing.T) {
		e := e.with(t)
		var doc struct {
			Drift []struct{ Service, Environment, Kind, Detail string } `json:"drift"`
		}
		jsonDoc(t, e.must(1, "drift", "-o", "json"), &doc)
		var got []string
		for _, it := range doc.Drift {
			if it.Kind == "orphan" {
				got = append(got, it.Service+"/"+it.Environment)
				if !strings.Contains(it.Detail, "strata env retire prod-ap") {
					t.Errorf("orphan detail %q does not say how to retire it", it.Detail)
				}
			}
		}
		if strings.Join(got, " ") != "api/prod-ap db/prod-ap" || len(doc.Drift) != 2 {
			t.Errorf("drift %+v, want the orphan api and db in prod-ap only", doc.Drift)
		}
		e.must(1, "drift", "--env", "prod-ap")
	})

	t.Run("status marks it", func(t *testing.T) {
		e := e.with(t)
		var doc struct {
			Orphans []struct {
				Environment string       `json:"environment"`
				Running     []deployment `json:"running"`
			} `json:"orphans"`
		}
		jsonDoc(t, e.must(0, "status", "-o", "json"), &doc)
		if len(doc.Orphans) != 1 || doc.Orphans[0].Environment != "prod-ap" || len(doc.Orphans[0].Running) != 2 {
			t.Errorf("status orphans %+v, want prod-ap running api and db", doc.Orphans)
		}
		if text := e.must(0, "status").stdout; !strings.Contains(text, "prod-ap (orphan") {
			t.Errorf("status text does not mark prod-ap:\n%s", text)
		}
	})

	t.Run("env retire destroys with the config it ran with, and ends the report", func(t *testing.T) {
		e := e.with(t)
		var doc struct {
			Name      string   `json:"name"`
			Destroyed []string `json:"destroyed"`
			By        string   `json:"by"`
		}
		jsonDoc(t, e.must(0, "env", "retire", "prod-ap", "-o", "json", "--as", "ops"), &doc)
		if doc.Name != "prod-ap" || strings.Join(doc.Destroyed, ",") != "api,db" || doc.By != "ops" {
			t.Errorf("retire printed %+v, want api then db destroyed by ops", doc)
		}
		want := "api prod-ap ap-south it's $(touch pwned) ;\ndb prod-ap ap-south\n"
		if got := e.read("destroyed"); got != want {
			t.Errorf("destroy steps ran as %q, want %q (reverse dependency order, the kept config)", got, want)
		}
		if _, err := os.Stat(e.dir + "/pwned"); err == nil {
			t.Error("a config value was run as a command")
		}
		e.must(0, "drift")
		if r := e.must(0, "status", "-o", "json"); strings.Contains(r.stdout, "orphans") {
			t.Errorf("status still marks an orphan:\n%s", r)
		}
		if h := e.history("--env", "prod-ap"); len(h) != 2 {
			t.Errorf("history of the retired prod-ap holds %d deployments, want 2", len(h))
		}
		r := e.must(2, "env", "retire", "prod-ap")
		if !strings.Contains(r.stderr, "retired by ops") {
			t.Errorf("a second retire: %s", r)
		}
	})
}

func TestEnvRetireRefusesWhatIsNoOrphan(t *testing.T) {
	t.Parallel()
	e := newEstate(t, retireEstate)
	e.must(0, "env", "create", "pr-1", "--like", "prod-us")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"a declared environment", []string{"env", "retire", "prod-us"}, "is declared in"},
		{"a short-lived environment", []string{"env", "retire", "pr-1"}, "strata env destroy pr-1"},
		{"a name nothing ran in", []string{"env", "retire", "nowhere"}, "is not an orphan"},
		{"no name", []string{"env", "retire"}, "one NAME"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.with(t).must(2, tt.args...)
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr does not say %q:\n%s", tt.want, r)
			}
		})
	}
}
