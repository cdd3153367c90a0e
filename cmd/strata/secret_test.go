package main_test

// End-to-end tests of issue 5's secrets: keygen, set, list, rm and rotate from the CLI, and
// deployments that get each environment's own secrets and never show them anywhere.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"go.yaml.in/yaml/v3"
)

// secretEstate's api gets PASSWORD from the secrets files, CI_TOKEN from the variable
// E2E_CI_TOKEN and TLS_KEY from the file tls.key. Its deploy step leaves a marker, writes the
// sha256 of what it got (so the test knows the values arrived), and then does its worst to
// print them: split across two writes, on stderr, and the whole $STRATA_CONFIG. Its health
// check prints the password too. web prints the password and fails.
const secretEstate = `project: vault
environments:
  dev: {}
  prod:
    labels: {tier: prod}
  prod-eu:
    extends: prod
services:
  api:
    deploy: sh ./deploy.sh
    health: {command: 'echo "health sees $PASSWORD"', timeout: 5s}
    config:
      PORT: {type: integer, default: 8080}
      PASSWORD: {type: string, secret: true}
      CI_TOKEN: {type: string, secret: true, from: "env:E2E_CI_TOKEN"}
      TLS_KEY: {type: string, secret: true, from: "file:tls.key"}
  web:
    deploy: 'echo "web got $PASSWORD"; echo "failing with $PASSWORD" >&2; exit 3'
    config:
      PASSWORD: {type: string, secret: true}
`

const secretDeploy = `touch "@SCRATCH@/deployed-$STRATA_ENV"
for k in PASSWORD CI_TOKEN TLS_KEY; do
  eval "v=\$$k"
  printf %s "$v" | sha256sum | cut -d' ' -f1 > "@SCRATCH@/$STRATA_ENV.$k.sha"
done
printf %s "${PASSWORD%????}"; sleep 0.2; printf '%s\n' "${PASSWORD#${PASSWORD%????}}"
printf 'token %s and tls %s\n' "$CI_TOKEN" "$TLS_KEY" >&2
cat "$STRATA_CONFIG"; echo
`

// secretCase is an estate with its own key directory that records every byte its strata
// processes wrote.
type secretCase struct {
	*estate
	keys       string
	transcript bytes.Buffer
}

func newSecretCase(t *testing.T) *secretCase {
	t.Helper()
	c := &secretCase{estate: newEstate(t, secretEstate), keys: filepath.Join(t.TempDir(), "keys")}
	c.write("deploy.sh", strings.ReplaceAll(secretDeploy, "@SCRATCH@", c.scratch))
	c.env = append(c.env, "STRATA_KEYS="+c.keys)
	return c
}

// randomValue is a value no output could hold by chance.
func randomValue(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// sh runs strata with stdin, keeps its output in the transcript, and wants exit want.
func (c *secretCase) sh(stdin string, want int, args ...string) result {
	c.t.Helper()
	cmd := c.command(args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{args: args, stdout: out.String(), stderr: errb.String()}
	if x, ok := err.(interface{ ExitCode() int }); ok {
		r.code = x.ExitCode()
	} else if err != nil {
		c.t.Fatalf("strata %v: %v", args, err)
	}
	c.transcript.WriteString(r.stdout + r.stderr)
	if r.code != want {
		c.t.Fatalf("want exit %d, got\n%s", want, r)
	}
	return r
}

// do runs strata with no stdin.
func (c *secretCase) do(want int, args ...string) result {
	c.t.Helper()
	return c.sh("", want, args...)
}

// keyFile is the identity file of env.
func (c *secretCase) keyFile(env string) string { return filepath.Join(c.keys, "vault", env+".key") }

// secretsFile is the secrets file of env.
func (c *secretCase) secretsFile(env string) string {
	return filepath.Join(c.dir, "secrets", env+".age.yaml")
}

func wantIn(t *testing.T, r result, s ...string) {
	t.Helper()
	for _, x := range s {
		if !strings.Contains(r.stdout+r.stderr, x) {
			t.Errorf("output does not mention %q:\n%s", x, r)
		}
	}
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestSecretValuesReachTheStepButNeverTheTerminalOrTheStore(t *testing.T) {
	t.Parallel()
	c := newSecretCase(t)
	pwDev, pwProd := randomValue(t, "pwdev-"), randomValue(t, "pwprod-")
	token, tls := randomValue(t, "tok-"), randomValue(t, "tls-")
	secrets := []string{pwDev, pwProd, token, tls}
	c.write("tls.key", tls+"\n")
	c.env = append(c.env, "E2E_CI_TOKEN="+token)

	c.do(0, "secret", "keygen", "dev")
	c.do(0, "secret", "keygen", "prod", "-o", "json")
	c.sh(pwDev+"\n", 0, "secret", "set", "dev", "PASSWORD")
	c.sh(pwProd, 0, "secret", "set", "prod", "PASSWORD", "-o", "json")
	for _, o := range []string{"text", "json"} {
		c.do(0, "secret", "list", "dev", "-o", o)
		c.do(0, "config", "api", "--env", "dev", "-o", o)
		c.do(0, "config", "api", "--env", "prod", "--explain", "-o", o)
	}
	c.do(0, "release", "api", "--version", "1.0")
	c.do(0, "release", "web", "--version", "1.0", "-o", "json")

	d1 := c.do(0, "deploy", "api", "--env", "dev")
	var d2 deployment
	jsonDoc(t, c.do(0, "deploy", "api", "--env", "prod", "-o", "json"), &d2)
	c.do(1, "deploy", "web", "--env", "dev")
	c.do(1, "deploy", "web", "--env", "prod", "-o", "json")

	for env, want := range map[string]map[string]string{
		"dev":  {"PASSWORD": pwDev, "CI_TOKEN": token, "TLS_KEY": tls},
		"prod": {"PASSWORD": pwProd, "CI_TOKEN": token, "TLS_KEY": tls},
	} {
		for k, v := range want {
			if got := strings.TrimSpace(c.read(env + "." + k + ".sha")); got != sha(v) {
				t.Errorf("the %s step did not get %s (sha %q, want %q)", env, k, got, sha(v))
			}
		}
	}
	if !strings.Contains(d1.stderr, "***") {
		t.Errorf("the step output shows no redaction:\n%s", d1)
	}

	var hist []deployment
	jsonDoc(t, c.do(0, "history", "-o", "json"), &hist)
	c.do(0, "history")
	c.do(0, "status")
	c.do(0, "status", "-o", "json")
	c.do(0, "audit")
	c.do(0, "audit", "-o", "json")
	logs := ""
	for _, d := range hist {
		logs += c.do(0, "logs", d.ID).stdout
		c.do(0, "logs", d.ID, "-o", "json")
	}
	if !strings.Contains(logs, "***") || !strings.Contains(logs, "health sees ***") {
		t.Errorf("stored logs show no redaction:\n%s", logs)
	}

	where := map[string][]byte{"the terminal": c.transcript.Bytes()}
	filepath.WalkDir(filepath.Join(c.dir, ".strata"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			where[path] = b
		}
		return nil
	})
	for _, f := range []string{"secrets/dev.age.yaml", "secrets/prod.age.yaml"} {
		b, _ := os.ReadFile(filepath.Join(c.dir, f))
		where[f] = b
	}
	if _, ok := where[filepath.Join(c.dir, ".strata", "state.db")]; !ok {
		t.Fatalf("no store file to search; searched %d files", len(where))
	}
	for name, b := range where {
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds the secret value %s", name, s)
			}
		}
	}
}

func TestAMissingSecretBlocksTheDeployBeforeAnyStepRuns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		setup    func(c *secretCase)
		mentions []string
	}{
		{"no key at all", func(c *secretCase) {}, []string{"dev", "PASSWORD", "strata secret set dev PASSWORD"}},
		{"a key but no value", func(c *secretCase) { c.do(0, "secret", "keygen", "dev") }, []string{"dev", "PASSWORD"}},
		{"an unset env: source", func(c *secretCase) {
			c.do(0, "secret", "keygen", "dev")
			c.sh("pw", 0, "secret", "set", "dev", "PASSWORD")
			c.env = append(c.env, "E2E_CI_TOKEN=")
		}, []string{"dev", "CI_TOKEN", "E2E_CI_TOKEN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newSecretCase(t)
			c.write("tls.key", "tls\n")
			c.env = append(c.env, "E2E_CI_TOKEN=token")
			tt.setup(c)
			c.do(0, "release", "api", "--version", "1")
			r := c.do(2, "deploy", "api", "--env", "dev")
			wantIn(t, r, tt.mentions...)
			if _, err := os.Stat(c.path("deployed-dev")); err == nil {
				t.Error("the deploy step ran")
			}
			if h := c.history(); len(h) != 0 {
				t.Errorf("a blocked deploy recorded deployments: %+v", h)
			}
		})
	}
}

func TestADevDeployNeverNeedsProdsIdentity(t *testing.T) {
	t.Parallel()
	c := newSecretCase(t)
	c.write("tls.key", "tls\n")
	c.env = append(c.env, "E2E_CI_TOKEN=token")
	for _, env := range []string{"dev", "prod"} {
		c.do(0, "secret", "keygen", env)
		c.sh("pw-"+env, 0, "secret", "set", env, "PASSWORD")
	}
	// prod's identity is not on this machine: in its place is something no one can read.
	os.Remove(c.keyFile("prod"))
	if err := os.Mkdir(c.keyFile("prod"), 0); err != nil {
		t.Fatal(err)
	}
	c.do(0, "release", "api", "--version", "1")
	c.do(0, "deploy", "api", "--env", "dev")
	r := c.do(2, "deploy", "api", "--env", "prod")
	wantIn(t, r, "prod", c.keyFile("prod"))
	if _, err := os.Stat(c.path("deployed-prod")); err == nil {
		t.Error("the prod deploy step ran")
	}
}

func TestAWrongIdentityIsRefusedBeforeAnythingIsWritten(t *testing.T) {
	t.Parallel()
	c := newSecretCase(t)
	c.write("tls.key", "tls\n")
	c.env = append(c.env, "E2E_CI_TOKEN=token")
	c.do(0, "secret", "keygen", "dev")
	c.sh("pw", 0, "secret", "set", "dev", "PASSWORD")
	c.do(0, "release", "api", "--version", "1")
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(c.keyFile("dev"), []byte(other.String()+"\n"), 0o600)
	before, _ := os.ReadFile(c.secretsFile("dev"))

	wantIn(t, c.do(2, "deploy", "api", "--env", "dev"), "dev", "does not match", c.keyFile("dev"))
	wantIn(t, c.do(2, "secret", "rotate", "dev"), "does not match")
	wantIn(t, c.sh("pw2", 2, "secret", "set", "dev", "PASSWORD"), "does not match")
	if h := c.history(); len(h) != 0 {
		t.Errorf("deployments were recorded: %+v", h)
	}
	if _, err := os.Stat(c.path("deployed-dev")); err == nil {
		t.Error("the deploy step ran")
	}
	if after, _ := os.ReadFile(c.secretsFile("dev")); !bytes.Equal(before, after) {
		t.Error("the secrets file changed")
	}
}

func TestTheSecretCommands(t *testing.T) {
	t.Parallel()
	c := newSecretCase(t)
	c.write("tls.key", "tls\n")
	c.env = append(c.env, "E2E_CI_TOKEN=token")

	c.do(0, "secret", "keygen", "dev")
	wantIn(t, c.do(2, "secret", "keygen", "dev"), "has a key already", "rotate")
	if info, err := os.Stat(c.keyFile("dev")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("identity file: %v, %v; want mode 0600", info, err)
	}
	wantIn(t, c.sh("x", 2, "secret", "set", "dev", "PORT"), "PORT", "not a config key marked `secret: true`", "PASSWORD")
	wantIn(t, c.sh("x", 2, "secret", "set", "dev", "CI_TOKEN"), "from: env:E2E_CI_TOKEN")
	wantIn(t, c.sh("", 2, "secret", "set", "dev", "PASSWORD"), "no value")
	wantIn(t, c.sh("x", 2, "secret", "set", "nowhere", "PASSWORD"), "unknown environment", "dev, prod, prod-eu")
	wantIn(t, c.sh("x", 2, "secret", "set", "prod", "PASSWORD"), "strata secret keygen prod")
	wantIn(t, c.do(2, "secret", "set", "dev", "PASSWORD", "the-value"), "ENV and KEY")

	c.sh("first-value\n", 0, "secret", "set", "dev", "PASSWORD", "--as", "alice")
	var list struct {
		Recipient string `json:"recipient"`
		Secrets   []struct {
			Key   string `json:"key"`
			SetBy string `json:"set_by"`
		} `json:"secrets"`
		Missing []string `json:"missing"`
	}
	r := c.do(0, "secret", "list", "dev", "-o", "json")
	jsonDoc(t, r, &list)
	if len(list.Secrets) != 1 || list.Secrets[0].Key != "PASSWORD" || list.Secrets[0].SetBy != "alice" || len(list.Missing) != 0 {
		t.Errorf("secret list = %+v", list)
	}
	wantIn(t, c.do(0, "secret", "list", "prod"), "no key yet")

	oldID, _ := os.ReadFile(c.keyFile("dev"))
	c.do(0, "secret", "rotate", "dev")
	ids, err := age.ParseIdentities(bytes.NewReader(oldID))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Recipient string `yaml:"recipient"`
		Values    map[string]struct {
			Ciphertext string `yaml:"ciphertext"`
		} `yaml:"values"`
	}
	b, _ := os.ReadFile(c.secretsFile("dev"))
	if err := yaml.Unmarshal(b, &file); err != nil || len(file.Values) != 1 {
		t.Fatalf("secrets file after rotate: %v\n%s", err, b)
	}
	if file.Recipient == list.Recipient {
		t.Error("rotate kept the recipient")
	}
	raw, _ := base64.StdEncoding.DecodeString(file.Values["PASSWORD"].Ciphertext)
	if rd, err := age.Decrypt(bytes.NewReader(raw), ids...); err == nil {
		io.ReadAll(rd)
		t.Error("the old identity still opens the rotated file")
	}
	c.do(0, "release", "api", "--version", "1")
	c.do(0, "deploy", "api", "--env", "dev")
	if got := strings.TrimSpace(c.read("dev.PASSWORD.sha")); got != sha("first-value") {
		t.Error("after rotate the step did not get the value set before it")
	}

	c.do(0, "secret", "rm", "dev", "PASSWORD")
	wantIn(t, c.do(2, "secret", "rm", "dev", "PASSWORD"), "no secret PASSWORD")
	jsonDoc(t, c.do(0, "secret", "list", "dev", "-o", "json"), &list)
	if len(list.Secrets) != 0 || len(list.Missing) != 1 {
		t.Errorf("after rm: %+v", list)
	}

	var events []struct {
		Action      string         `json:"action"`
		Environment string         `json:"environment"`
		Actor       string         `json:"actor"`
		Detail      map[string]any `json:"detail"`
	}
	jsonDoc(t, c.do(0, "audit", "-o", "json"), &events)
	var seen []string
	for _, e := range events {
		if strings.HasPrefix(e.Action, "secret.") {
			seen = append(seen, e.Action)
			if e.Environment != "dev" {
				t.Errorf("%s recorded for environment %q", e.Action, e.Environment)
			}
			if (e.Action == "secret.set" || e.Action == "secret.rm") && e.Detail["key"] != "PASSWORD" {
				t.Errorf("%s detail %v does not name the key", e.Action, e.Detail)
			}
		}
	}
	if got, want := strings.Join(seen, " "), "secret.keygen secret.set secret.rotate secret.rm"; got != want {
		t.Errorf("audit events %q, want %q", got, want)
	}
	if strings.Contains(c.transcript.String(), "first-value") {
		t.Error("a command printed the value")
	}
}
