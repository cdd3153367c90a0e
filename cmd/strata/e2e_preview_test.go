package main_test

// End-to-end tests of issue 13 point 5 (previews that stand alone): `env create --set` gives
// a short-lived environment its own config, checked against the schemas and shown by
// `config --explain` as its own layer; `env destroy` and the TTL remove its secrets file and
// key; it inherits no deploy windows or approvals unless `--policy inherit`.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// previewEstate: staging needs an approval and is never inside its window, so only a
// preview that does not inherit them can be deployed to directly. api's deploy writes what
// it was given; worker's DB_PASS is a secret.
const previewEstate = `project: preview
environments:
  staging:
    policy:
      approvals: 1
      windows: ["Sat 00:00-00:01 UTC"]
services:
  api:
    deploy: echo "$PORT $LOG_LEVEL $MOTD" > "@SCRATCH@/seen-$STRATA_ENV"
    destroy: echo "api $STRATA_ENV" >> "@SCRATCH@/destroyed"
    config:
      PORT: {type: integer, default: 8080}
      LOG_LEVEL: {type: string, enum: [debug, info], default: info}
      MOTD: {type: string, default: hello}
  worker:
    deploy: 'true'
    config:
      PORT: {type: string, default: "9000"}
      DB_PASS: {type: string, secret: true}
`

func TestAPreviewGetsItsOwnConfigWithSet(t *testing.T) {
	t.Parallel()
	e := newEstate(t, previewEstate)
	e.release("api", "--version", "1")
	hostile := "it's $(touch pwned); `id` \"quoted\""
	var created struct {
		Set    map[string]string `json:"set"`
		Policy string            `json:"policy"`
	}
	jsonDoc(t, e.must(0, "env", "create", "pr-7", "--like", "staging", "--set", "PORT=9101", "--set", "MOTD="+hostile, "--as", "alice", "-o", "json"), &created)
	if created.Set["PORT"] != "9101" || created.Set["MOTD"] != hostile || created.Policy != "own" {
		t.Errorf("env create printed %+v", created)
	}

	t.Run("config --explain shows --set as its own layer with who set it", func(t *testing.T) {
		e := e.with(t)
		var doc struct {
			Values map[string]any `json:"values"`
			Trail  map[string][]struct {
				Layer, Source string
				Value         any
			} `json:"trail"`
		}
		jsonDoc(t, e.must(0, "config", "api", "--env", "pr-7", "--explain", "-o", "json"), &doc)
		if doc.Values["PORT"] != float64(9101) || doc.Values["MOTD"] != hostile {
			t.Errorf("values %v, want PORT 9101 (an integer) and MOTD as given", doc.Values)
		}
		trail := doc.Trail["PORT"]
		last := trail[len(trail)-1]
		if last.Layer != "env create pr-7 --set" || !strings.HasPrefix(last.Source, "--set by alice at ") {
			t.Errorf("PORT's trail %+v, want --set's layer last, set by alice", trail)
		}
		text := e.must(0, "config", "api", "--env", "pr-7", "--explain").stdout
		if !strings.Contains(text, "PORT=9101\n    from env create pr-7 --set (by alice at ") {
			t.Errorf("config --explain text:\n%s", text)
		}
	})

	t.Run("a deploy there gets the values as written, never run", func(t *testing.T) {
		e := e.with(t)
		e.deploy(0, "api@1", "--env", "pr-7")
		if got := strings.TrimSpace(e.read("seen-pr-7")); got != "9101 info "+hostile {
			t.Errorf("the step saw %q", got)
		}
		if _, err := os.Stat(filepath.Join(e.dir, "pwned")); err == nil {
			t.Error("a --set value was run as a command")
		}
	})
}

func TestEnvCreateSetRefusesWhatNoSchemaAllows(t *testing.T) {
	t.Parallel()
	e := newEstate(t, previewEstate)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"a key no schema declares", []string{"--set", "PROT=9101"}, "--set PROT: no service's schema declares PROT"},
		{"a value of the wrong type names the schema", []string{"--set", "PORT=high"}, "--set PORT=high: service api's schema (strata.yaml:"},
		{"a value outside the enum", []string{"--set", "LOG_LEVEL=loud"}, "wants one of debug, info"},
		{"a secret key", []string{"--set", "DB_PASS=hunter2"}, "is a secret"},
		{"a reference", []string{"--set", "MOTD=${config.DB_PASS}"}, "taken as written"},
		{"a control character", []string{"--set", "MOTD=a\x1b[2Jb"}, "--set MOTD"},
		{"no equals sign", []string{"--set", "PORT"}, "want KEY=VALUE"},
		{"an unknown policy", []string{"--policy", "strict"}, "--policy \"strict\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			r := e.must(2, append([]string{"env", "create", "pr-9", "--like", "staging"}, tt.args...)...)
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr does not say %q:\n%s", tt.want, r)
			}
			if strings.Contains(r.stderr, "hunter2") {
				t.Errorf("the secret value was echoed:\n%s", r)
			}
		})
	}
	if r := e.must(0, "env", "list"); strings.Contains(r.stdout, "pr-9") {
		t.Errorf("a refused create made pr-9:\n%s", r)
	}
}

func TestAPreviewInheritsNoWindowsOrApprovalsUnlessAsked(t *testing.T) {
	t.Parallel()
	e := newEstate(t, previewEstate)
	e.release("api", "--version", "1")
	e.must(0, "env", "create", "pr-1", "--like", "staging")
	e.deploy(0, "api@1", "--env", "pr-1")
	e.must(0, "env", "create", "pr-2", "--like", "staging", "--policy", "inherit")
	r := e.must(3, "deploy", "api@1", "--env", "pr-2")
	if !strings.Contains(r.stderr, "gate") {
		t.Errorf("deploy to a preview that inherits staging's policy: %s", r)
	}
}

func TestDestroyingAPreviewRemovesItsSecretsFileAndKey(t *testing.T) {
	t.Parallel()
	e := newEstate(t, previewEstate)
	e.release("api", "--version", "1")
	keyPath := func(env string) string {
		return filepath.Join(filepath.Dir(e.dir), "config", "strata", "keys", "preview", env+".key")
	}
	for _, env := range []string{"pr-1", "pr-2"} {
		ttl := "24h"
		if env == "pr-2" {
			ttl = "1ms" // expired by the time resume runs
		}
		e.must(0, "env", "create", env, "--like", "staging", "--ttl", ttl)
		e.must(0, "secret", "keygen", env)
		setSecret(t, e, env, "DB_PASS", "s3cret-"+env)
		e.deploy(0, "api@1", "--env", env)
		for _, path := range []string{filepath.Join(e.dir, "secrets", env+".age.yaml"), keyPath(env)} {
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
	}
	e.must(0, "env", "destroy", "pr-1")
	e.must(0, "resume")
	if got := e.read("destroyed"); got != "api pr-1\napi pr-2\n" {
		t.Errorf("destroy steps ran as %q", got)
	}
	for _, env := range []string{"pr-1", "pr-2"} {
		for _, path := range []string{filepath.Join(e.dir, "secrets", env+".age.yaml"), keyPath(env)} {
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("%s outlived its environment (%v)", path, err)
			}
		}
	}
	e.must(0, "drift") // destroyed previews are no orphans
}
