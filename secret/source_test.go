package secret_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/strata-dev/strata/secret"
)

func TestParseSource(t *testing.T) {
	cases := []struct {
		name, ref string
		want      secret.Source
		err       string
	}{
		{"a sops file and a dotted key", "sops:secrets/prod.yaml#db.password", secret.Source{Kind: "sops", Path: "secrets/prod.yaml", Key: "db.password"}, ""},
		{"a vault mount, path and key", "vault:secret/prod-eu/db#password", secret.Source{Kind: "vault", Path: "secret/prod-eu/db", Key: "password"}, ""},
		{"a command", "exec:op read op://prod/db/password", secret.Source{Kind: "exec", Path: "op read op://prod/db/password"}, ""},
		{"no kind is refused with the syntax", "secrets/prod.yaml", secret.Source{}, "sops:PATH#KEY, vault:MOUNT/PATH#KEY or exec:COMMAND"},
		{"an unknown kind is named", "aws:prod/db", secret.Source{}, `unknown secret source "aws"`},
		{"a sops source without a key says how to write one", "sops:secrets/prod.yaml", secret.Source{}, "sops:PATH#KEY"},
		{"a vault source without a path is refused", "vault:secret#password", secret.Source{}, "no mount and path"},
		{"a dotted key with an empty part is refused", "sops:f.yaml#db..password", secret.Source{}, "not a dotted path"},
		{"an empty command is refused", "exec:  ", secret.Source{}, "names no command"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := secret.ParseSource(c.ref)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("ParseSource(%q) error %v, want one saying %q", c.ref, err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("ParseSource(%q) = %+v, %v; want %+v", c.ref, got, err, c.want)
			}
			if got.String() != c.ref {
				t.Errorf("String() = %q, want %q", got.String(), c.ref)
			}
		})
	}
}

func TestAnExecSourceGivesItsOutputAndHidesItInItsErrors(t *testing.T) {
	f := &secret.Fetcher{Dir: t.TempDir(), Timeout: 2 * time.Second}
	cases := []struct {
		name, command, want, err string
	}{
		{"its standard output is the value, without the last newline", "printf 'v$(x)`y`\\n'", "v$(x)`y`", ""},
		{"a failing command's output is not shown: it may hold the secret", "echo hunter2; echo 'denied: hunter2' >&2; exit 4", "", "exit status 4 (its output is not shown"},
		{"a command that prints nothing fails", "true", "", "printed nothing"},
		{"a command that hangs is stopped", "sleep 30", "", "timed out"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := f.Fetch(context.Background(), secret.Source{Kind: "exec", Path: c.command})
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("error %v, want one saying %q without the value", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("Fetch = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// fakeVault stands in for a Vault (or OpenBao) server, which cannot run on this machine: a
// real HTTP server answering as Vault's KV version 2 and AppRole APIs are documented to
// (https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2#read-secret-version).
func fakeVault(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "POST" && r.URL.Path == "/v1/auth/approle/login":
			var body map[string]string
			json.NewDecoder(r.Body).Decode(&body)
			if body["role_id"] != "role-1" || body["secret_id"] != "sid-1" {
				w.WriteHeader(http.StatusBadRequest)
				w.Write([]byte(`{"errors":["invalid role or secret ID"]}`))
				return
			}
			w.Write([]byte(`{"auth":{"client_token":"approle-token","lease_duration":3600}}`))
		case r.Method == "GET" && r.URL.Path == "/v1/secret/data/prod-eu/db":
			tok := r.Header.Get("X-Vault-Token")
			if tok != "root-token" && tok != "approle-token" {
				w.WriteHeader(http.StatusForbidden)
				w.Write([]byte(`{"errors":["permission denied"]}`))
				return
			}
			if r.Header.Get("X-Vault-Namespace") == "wrong" {
				w.WriteHeader(http.StatusNotFound)
				w.Write([]byte(`{"errors":[]}`))
				return
			}
			w.Write([]byte(`{"request_id":"x","data":{"data":{"password":"v-s3cret","port":5432},"metadata":{"version":3}}}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"errors":[]}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAVaultSourceReadsKVVersion2(t *testing.T) {
	vault := fakeVault(t)
	cases := []struct {
		name string
		env  map[string]string
		ref  string
		want string
		err  string
	}{
		{"a token reads a key", map[string]string{"VAULT_TOKEN": "root-token"}, "vault:secret/prod-eu/db#password", "v-s3cret", ""},
		{"an AppRole login gives the token", map[string]string{"VAULT_ROLE_ID": "role-1", "VAULT_SECRET_ID": "sid-1"}, "vault:secret/prod-eu/db#password", "v-s3cret", ""},
		{"a number is given as JSON text", map[string]string{"VAULT_TOKEN": "root-token"}, "vault:secret/prod-eu/db#port", "5432", ""},
		{"a denied token says Vault's answer", map[string]string{"VAULT_TOKEN": "other"}, "vault:secret/prod-eu/db#password", "", "403 Forbidden: permission denied"},
		{"a bad AppRole says so", map[string]string{"VAULT_ROLE_ID": "role-1", "VAULT_SECRET_ID": "nope"}, "vault:secret/prod-eu/db#password", "", "AppRole login"},
		{"a key the secret lacks is named", map[string]string{"VAULT_TOKEN": "root-token"}, "vault:secret/prod-eu/db#user", "", `no key "user"`},
		{"a secret that is not there is a 404", map[string]string{"VAULT_TOKEN": "root-token"}, "vault:secret/prod-us/db#password", "", "404"},
		{"the namespace is sent", map[string]string{"VAULT_TOKEN": "root-token", "VAULT_NAMESPACE": "wrong"}, "vault:secret/prod-eu/db#password", "", "404"},
		{"no credentials say which variables to set", map[string]string{}, "vault:secret/prod-eu/db#password", "", "VAULT_TOKEN"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"VAULT_ADDR": vault.URL}
			for k, v := range c.env {
				env[k] = v
			}
			f := &secret.Fetcher{Getenv: func(k string) string { return env[k] }}
			src, err := secret.ParseSource(c.ref)
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.Fetch(context.Background(), src)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "v-s3cret") {
					t.Fatalf("error %v, want one saying %q without the value", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("Fetch = %q, %v; want %q", got, err, c.want)
			}
		})
	}
	t.Run("a server that does not answer in time is given up", func(t *testing.T) {
		hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
		defer hang.Close()
		f := &secret.Fetcher{Timeout: 200 * time.Millisecond, Getenv: func(k string) string {
			return map[string]string{"VAULT_ADDR": hang.URL, "VAULT_TOKEN": "t"}[k]
		}}
		_, err := f.Fetch(context.Background(), secret.Source{Kind: "vault", Path: "secret/x", Key: "k"})
		if err == nil || !strings.Contains(err.Error(), "did not answer") {
			t.Fatalf("error %v, want Vault did not answer", err)
		}
	})
}

// TestASOPSSourceDecryptsWithTheRealTool encrypts a file with the real sops tool (built from
// the module proxy by .ci/run) to an age recipient and reads a key back.
func TestASOPSSourceDecryptsWithTheRealTool(t *testing.T) {
	sops, err := exec.LookPath("sops")
	if err != nil {
		if os.Getenv("STRATA_TEST_SOPS") == "require" {
			t.Fatal("sops is not on PATH and STRATA_TEST_SOPS=require")
		}
		t.Skip("sops is not on PATH (.ci/run builds it: go install github.com/getsops/sops/v3/cmd/sops@v3.13.3)")
	}
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "age.key")
	if err := os.WriteFile(keyFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"prod.yaml": "db:\n  password: 'p@ss \"quoted\" $(x)'\nplain: 1\n",
		"prod.json": `{"db": {"password": "json-pass"}}`,
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(sops, "encrypt", "--age", id.Recipient().String(), "-i", path).CombinedOutput(); err != nil {
			t.Fatalf("sops encrypt %s: %v\n%s", name, err, out)
		}
	}
	f := &secret.Fetcher{Dir: dir, Environ: append(os.Environ(), "SOPS_AGE_KEY_FILE="+keyFile)}
	cases := []struct {
		name, ref, want, err string
	}{
		{"a YAML file's nested key", "sops:prod.yaml#db.password", `p@ss "quoted" $(x)`, ""},
		{"a JSON file's nested key", "sops:prod.json#db.password", "json-pass", ""},
		{"a key the file lacks fails", "sops:prod.yaml#db.user", "", "sops decrypt"},
		{"a file that is not there is named", "sops:nope.yaml#db.password", "", "nope.yaml"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src, err := secret.ParseSource(c.ref)
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.Fetch(context.Background(), src)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one saying %q", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("Fetch = %q, %v; want %q", got, err, c.want)
			}
		})
	}
	t.Run("without the age identity the file does not decrypt", func(t *testing.T) {
		f := &secret.Fetcher{Dir: dir, Environ: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}}
		if _, err := f.Fetch(context.Background(), secret.Source{Kind: "sops", Path: "prod.yaml", Key: "db.password"}); err == nil {
			t.Fatal("decrypted without the identity")
		}
	})
}
