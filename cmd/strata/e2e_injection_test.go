package main_test

// End-to-end tests of issue 10, point 1: a value interpolated into a step command is data,
// never shell code, wherever it was set (strata.yaml, `env create --label`, the HTTP API).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// injectionEstate interpolates a config value and a label into every kind of step command.
// Each value, as the file sets it, would make a pwned-* file in the scratch directory if a
// shell parsed it. deploy writes what it got, quoted and unquoted; the health command passes
// only when the interpolated value equals the one in $NOTE byte for byte; observe and destroy
// write what they got too.
const injectionEstate = `project: shop
environments:
  dev:
    labels: {tier: dev, team: "$(touch @SCRATCH@/pwned-file-label)"}
    config:
      NOTE: "` + "`touch @SCRATCH@/pwned-file-config`" + `; touch @SCRATCH@/pwned-file-semicolon"
services:
  api:
    build: printf '%s' "${release.version}" > "$STRATA_ARTIFACTS/version"
    deploy: |
      # the team's label isn't quoted below, on purpose
      printf '%s\n' "${config.NOTE}" '${env.labels.team}' ${env.labels.team} > "@SCRATCH@/deploy-$STRATA_ENV"
    health: {command: 'test "${config.NOTE}" = "$NOTE"', timeout: 10s}
    observe: printf '%s' "${release.version}"; printf '%s' "${env.labels.team}" > "@SCRATCH@/observe-$STRATA_ENV"
    destroy: printf '%s' "${env.labels.team}" > "@SCRATCH@/destroy-$STRATA_ENV"
    config:
      NOTE: {type: string}
`

// pwned lists the marker files a value that ran as code made.
func (e *estate) pwned() []string {
	e.t.Helper()
	m, err := filepath.Glob(e.path("pwned-*"))
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// wantSteps checks what the deploy, observe and destroy steps of env got, given team, the
// environment's team label.
func (e *estate) wantDeployed(env, team string) {
	e.t.Helper()
	note := strings.ReplaceAll("`touch @SCRATCH@/pwned-file-config`; touch @SCRATCH@/pwned-file-semicolon", "@SCRATCH@", e.scratch)
	want := note + "\n" + team + "\n" + strings.Join(strings.Fields(team), "\n") + "\n"
	if got := e.read("deploy-" + env); got != want {
		e.t.Errorf("the deploy step in %s printed\n%q\nwant\n%q", env, got, want)
	}
}

func TestInterpolatedValuesNeverRunAsShellCode(t *testing.T) {
	t.Parallel()
	e := newEstate(t, injectionEstate)
	fileTeam := "$(touch " + e.scratch + "/pwned-file-label)"
	e.release("api", "--version", "1")

	t.Run("values from strata.yaml reach deploy, health and observe as data", func(t *testing.T) {
		e := e.with(t)
		e.deploy(0, "api@1", "--env", "dev")
		e.wantDeployed("dev", fileTeam)
		r := e.must(0, "drift", "-o", "json")
		if strings.Contains(r.stdout, `"kind":"version"`) {
			t.Errorf("observe reported another version than 1:\n%s", r)
		}
		if got := e.read("observe-dev"); got != fileTeam {
			t.Errorf("the observe step got %q, want %q", got, fileTeam)
		}
		if p := e.pwned(); len(p) > 0 {
			t.Errorf("values ran as code: %v", p)
		}
	})

	t.Run("config --explain still shows the value as it is", func(t *testing.T) {
		e := e.with(t)
		r := e.must(0, "config", "api", "--env", "dev", "--explain", "-o", "json")
		var doc struct{ Values map[string]any }
		jsonDoc(t, r, &doc)
		want := strings.ReplaceAll("`touch @SCRATCH@/pwned-file-config`; touch @SCRATCH@/pwned-file-semicolon", "@SCRATCH@", e.scratch)
		if got := doc.Values["NOTE"]; got != want {
			t.Errorf("NOTE = %q, want %q", got, want)
		}
	})

	t.Run("a label given to env create reaches deploy and destroy as data", func(t *testing.T) {
		e := e.with(t)
		team := "`touch " + e.scratch + "/pwned-cli-backtick`$(touch " + e.scratch + "/pwned-cli-dollar)'\"; touch " + e.scratch + "/pwned-cli-semicolon"
		e.must(0, "env", "create", "pr-1", "--like", "dev", "--label", "team="+team)
		e.deploy(0, "api@1", "--env", "pr-1")
		e.wantDeployed("pr-1", team)
		e.must(0, "env", "destroy", "pr-1")
		if got := e.read("destroy-pr-1"); got != team {
			t.Errorf("the destroy step got %q, want %q", got, team)
		}
		if p := e.pwned(); len(p) > 0 {
			t.Errorf("a label ran as code: %v", p)
		}
	})

	t.Run("a label a scoped deployer plants over the API reaches the server's steps as data", func(t *testing.T) {
		e := e.with(t)
		bot := createToken(t, e, "dev-bot", "--role", "deployer", "--envs", "tier=dev").Token
		url := serve(t, e)
		remote := e.as(url, bot)

		team := "$(touch " + e.scratch + "/pwned-api-cli)"
		remote.must(0, "env", "create", "pr-2", "--like", "dev", "--label", "team="+team)
		remote.deploy(0, "api@1", "--env", "pr-2")
		e.wantDeployed("pr-2", team)

		// The same through a plain HTTP request, as any client of the API could send it.
		// A label value is one printable line (strata.CheckLine): a newline is refused
		// before anything is made; backticks, quotes and $ are data.
		create := func(name, team string) int {
			body, _ := json.Marshal(map[string]any{"name": name, "like": "dev", "labels": map[string]string{"team": team}})
			req, err := http.NewRequest("POST", url+"/api/v1/environments", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+bot)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if got := create("pr-4", "x\n`touch "+e.scratch+"/pwned-api-newline`\ny"); got != http.StatusBadRequest {
			t.Errorf("POST /api/v1/environments with a newline in a label: %d, want 400", got)
		}
		team = "x `touch " + e.scratch + "/pwned-api-raw` '\"; y"
		if got := create("pr-3", team); got/100 != 2 {
			t.Fatalf("POST /api/v1/environments: %d", got)
		}
		remote.deploy(0, "api@1", "--env", "pr-3")
		e.wantDeployed("pr-3", team)
		remote.must(0, "env", "destroy", "pr-3")
		if got := e.read("destroy-pr-3"); got != team {
			t.Errorf("the destroy step got %q, want %q", got, team)
		}
		if p := e.pwned(); len(p) > 0 {
			t.Errorf("a label sent over the API ran as code on the server: %v", p)
		}
	})
}

func TestACommandThatCannotCarryAValueIsRefusedByValidate(t *testing.T) {
	t.Parallel()
	e := newEstate(t, `project: shop
environments:
  dev: {}
services:
  api:
    deploy: |
      cat <<'EOF' > "$STRATA_ARTIFACTS/env"
      ${env.name}
      EOF
`)
	r := e.must(2, "validate")
	want := "strata.yaml:6:5: deploy: ${env.name}: the shell expands nothing in a here-document whose delimiter is quoted (<<'EOF')"
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr should contain %s\n%s", want, r)
	}
	if _, err := os.Stat(filepath.Join(e.dir, ".strata")); err == nil {
		t.Errorf("validate left a .strata directory behind")
	}
}

// TestHostileFilesCannotExhaustTheMachine is issue 10, point 5: each file ends `strata
// validate` with exit 2 and an error that says where, without hanging, growing without
// bound, or printing a file that is not Strata's.
func TestHostileFilesCannotExhaustTheMachine(t *testing.T) {
	t.Parallel()
	var doubling strings.Builder
	doubling.WriteString("project: shop\nenvironments:\n  dev:\n    config:\n      K0: \"xxxxxxxxxxxxxxxx\"\n")
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&doubling, "      K%d: \"${config.K%d}${config.K%d}\"\n", i, i-1, i-1)
	}
	doubling.WriteString("services:\n  api: {deploy: \"true\"}\n")
	cases := []struct {
		name  string
		yaml  string
		want  string
		never string
	}{
		{"forty keys that each double the one before stop at the cap, naming the key",
			doubling.String(), "strata.yaml:18:12: config K13: the value would be longer than 64 KiB once interpolated", ""},
		{"an include of every file on the machine is refused at once",
			"project: shop\ninclude: \"/**/*\"\n", `strata.yaml:2:10: include "/**/*" is an absolute path`, ""},
		{"an include of the password file does not print it",
			"project: shop\ninclude: ../../../../etc/passwd\n", `strata.yaml:2:10: include "../../../../etc/passwd" leaves the project directory`, "root:"},
		{"a 10 kB environment name gets the name rule",
			"project: shop\nenvironments:\n  " + strings.Repeat("x", 10000) + ": {}\n",
			"strata.yaml:3:3: environment name \"xxxx", "YAML syntax error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEstate(t, c.yaml)
			r := e.must(2, "validate")
			if !strings.Contains(r.stderr, c.want) {
				t.Errorf("stderr should contain %s\n%.2000s", c.want, r)
			}
			if c.never != "" && strings.Contains(r.stderr+r.stdout, c.never) {
				t.Errorf("the output holds %q:\n%.2000s", c.never, r)
			}
		})
	}
	t.Run("a strata.yaml over 8 MiB is refused before it is read", func(t *testing.T) {
		e := newEstate(t, "")
		if err := os.Truncate(filepath.Join(e.dir, "strata.yaml"), 8<<20+1); err != nil {
			t.Fatal(err)
		}
		r := e.must(2, "validate")
		if want := "strata.yaml: it is 8.0 MiB, more than the 8 MiB a configuration file may have"; !strings.Contains(r.stderr, want) {
			t.Errorf("stderr should contain %s\n%s", want, r)
		}
	})
	t.Run("a 10 kB name given to env create gets the name rule", func(t *testing.T) {
		e := newEstate(t, injectionEstate)
		r := e.must(2, "env", "create", strings.Repeat("y", 10000), "--like", "dev")
		if want := "environment name \"yyyy"; !strings.Contains(r.stderr, want) || len(r.stderr) > 2000 {
			t.Errorf("stderr should contain %s and not the whole name\n%.2000s", want, r)
		}
	})
}
