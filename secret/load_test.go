package secret_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/config"
	"github.com/strata-dev/strata/secret"
)

const estate = `project: shop
environments:
  dev: {}
  prod:
    labels: {tier: prod}
  prod-eu:
    extends: prod
services:
  api:
    deploy: "true"
    config:
      PORT: {type: integer, default: 8080}
      DATABASE_PASSWORD: {type: string, secret: true}
      CI_TOKEN: {type: string, secret: true, from: "env:STRATA_TEST_CI_TOKEN"}
      TLS_KEY: {type: string, secret: true, from: "file:tls/key.pem"}
  web:
    deploy: "true"
    config:
      DATABASE_PASSWORD: {type: string, secret: true}
  docs:
    deploy: "true"
`

// loader parses the estate in a temporary project directory and returns a Loader and the
// Vault of the same project.
func loader(t *testing.T, env map[string]string) (*secret.Loader, *secret.Vault) {
	t.Helper()
	dir := t.TempDir()
	p, problems, err := config.Parse(filepath.Join(dir, "strata.yaml"), []byte(estate), dir)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if err := problems.Err(); err != nil {
		t.Fatalf("parse: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "tls"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls", "key.pem"), []byte("tls-private\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(t.TempDir(), "keys")
	l := &secret.Loader{Project: p, KeyDir: keys, LookupEnv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}}
	return l, &secret.Vault{ProjectDir: p.Dir, Project: p.Name, KeyDir: keys}
}

var ciEnv = map[string]string{"STRATA_TEST_CI_TOKEN": "ci-token-value"}

func TestLoadGivesAnEnvironmentItsOwnSecretsAndOutsideSources(t *testing.T) {
	l, v := loader(t, ciEnv)
	mustKeygen(t, v, "dev")
	mustSet(t, v, "dev", "DATABASE_PASSWORD", "dev-password")
	mustSet(t, v, "dev", "NOT_DECLARED", "stale-value")
	got, err := l.Load("dev")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"DATABASE_PASSWORD": "dev-password", "CI_TOKEN": "ci-token-value", "TLS_KEY": "tls-private"}
	if len(got) != len(want) {
		t.Errorf("Load(dev) = %q; want %q", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
}

func TestLoadNeverCarriesSecretsThroughExtends(t *testing.T) {
	l, v := loader(t, ciEnv)
	mustKeygen(t, v, "prod")
	mustSet(t, v, "prod", "DATABASE_PASSWORD", "prod-password")
	got, err := l.Load("prod-eu")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["DATABASE_PASSWORD"]; ok {
		t.Errorf("prod-eu got prod's secret: %q", got)
	}
}

func TestLoadReadsOnlyTheDeployedEnvironmentsIdentity(t *testing.T) {
	l, v := loader(t, ciEnv)
	mustKeygen(t, v, "dev")
	mustSet(t, v, "dev", "DATABASE_PASSWORD", "dev-password")
	mustKeygen(t, v, "prod")
	mustSet(t, v, "prod", "DATABASE_PASSWORD", "prod-password")
	// prod's identity is not on this machine at all; in its place is something unreadable.
	if err := os.Remove(v.KeyPath("prod")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(v.KeyPath("prod"), 0o000); err != nil {
		t.Fatal(err)
	}
	if got, err := l.Load("dev"); err != nil || got["DATABASE_PASSWORD"] != "dev-password" {
		t.Fatalf("Load(dev) without prod's identity = %q, %v", got, err)
	}
	_, err := l.Load("prod")
	wantCode(t, err, strata.EINVALID, "environment prod", v.KeyPath("prod"))
}

func TestLoadRefusesWhatItCannotRead(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		setup    func(t *testing.T, l *secret.Loader, v *secret.Vault)
		mentions []string
	}{
		{"a missing identity names the environment and the key file", ciEnv, func(t *testing.T, l *secret.Loader, v *secret.Vault) {
			os.Remove(v.KeyPath("dev"))
		}, []string{"dev", "no identity at", "shop/dev.key"}},
		{"a wrong identity names the environment and the key file", ciEnv, func(t *testing.T, l *secret.Loader, v *secret.Vault) {
			writeOtherIdentity(t, v.KeyPath("dev"))
		}, []string{"dev", "does not match", "shop/dev.key"}},
		{"an unset env: source names the environment, key and variable", map[string]string{}, func(*testing.T, *secret.Loader, *secret.Vault) {},
			[]string{"dev", "CI_TOKEN", "STRATA_TEST_CI_TOKEN"}},
		{"a missing file: source names the environment, key and file", ciEnv, func(t *testing.T, l *secret.Loader, _ *secret.Vault) {
			os.Remove(filepath.Join(l.Project.Dir, "tls", "key.pem"))
		}, []string{"dev", "TLS_KEY", "tls/key.pem"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, v := loader(t, tt.env)
			mustKeygen(t, v, "dev")
			mustSet(t, v, "dev", "DATABASE_PASSWORD", "dev-password")
			tt.setup(t, l, v)
			got, err := l.Load("dev")
			wantCode(t, err, strata.EINVALID, tt.mentions...)
			if got != nil {
				t.Errorf("Load returned values with an error: %q", got)
			}
			for _, leak := range []string{"dev-password", "ci-token-value", "tls-private"} {
				if err != nil && strings.Contains(err.Error(), leak) {
					t.Errorf("error %q holds a secret value", err)
				}
			}
		})
	}
}

func TestLoadOfAnEnvironmentWithoutSecretsIsEmpty(t *testing.T) {
	l, _ := loader(t, ciEnv)
	got, err := l.Load("dev")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["DATABASE_PASSWORD"]; ok || len(got) != 2 {
		t.Errorf("Load(dev) with no secrets file = %q; want only the outside sources", got)
	}
	_, err = l.Load("nowhere")
	wantCode(t, err, strata.ENOTFOUND, "nowhere")
}

func TestLoadServiceReadsOnlyWhatTheServiceDeclares(t *testing.T) {
	tests := []struct {
		name, service string
		setup         func(t *testing.T, l *secret.Loader, v *secret.Vault)
		want          map[string]string
		code          string
		mentions      []string
	}{
		{"a service needs no outside source it does not declare", "web", func(t *testing.T, l *secret.Loader, _ *secret.Vault) {
			os.Remove(filepath.Join(l.Project.Dir, "tls", "key.pem"))
		}, map[string]string{"DATABASE_PASSWORD": "dev-password"}, "", nil},
		{"a service without secrets needs no identity", "docs", func(t *testing.T, _ *secret.Loader, v *secret.Vault) {
			os.Remove(v.KeyPath("dev"))
		}, map[string]string{}, "", nil},
		{"a service still needs the outside sources it declares", "api", func(*testing.T, *secret.Loader, *secret.Vault) {},
			nil, strata.EINVALID, []string{"dev", "CI_TOKEN", "STRATA_TEST_CI_TOKEN"}},
		{"an unknown service is not found", "nosuch", func(*testing.T, *secret.Loader, *secret.Vault) {},
			nil, strata.ENOTFOUND, []string{"nosuch", "api, web, docs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, v := loader(t, map[string]string{})
			mustKeygen(t, v, "dev")
			mustSet(t, v, "dev", "DATABASE_PASSWORD", "dev-password")
			tt.setup(t, l, v)
			got, err := l.LoadService(tt.service, "dev")
			if tt.code != "" {
				wantCode(t, err, tt.code, tt.mentions...)
				return
			}
			if err != nil || len(got) != len(tt.want) {
				t.Fatalf("LoadService(%s, dev) = %q, %v; want %q", tt.service, got, err, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("LoadService(%s, dev)[%s] = %q, want %q", tt.service, k, got[k], v)
				}
			}
		})
	}
}
