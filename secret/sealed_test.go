package secret_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/secret"
)

func TestSealedSecretsOpenOnlyWhereTheIdentityIs(t *testing.T) {
	const hostile = "p@ss'; $(touch /tmp/pwned) \"`id`\"\n"
	v := newVault(t)
	mustKeygen(t, v, "prod-eu")
	mustSet(t, v, "prod-eu", "DB_PASSWORD", hostile)
	mustSet(t, v, "prod-eu", "OTHER", "not asked for")

	// The server's view: the project's files and no key directory at all.
	server := &secret.Vault{ProjectDir: v.ProjectDir, Project: "shop", KeyDir: filepath.Join(t.TempDir(), "none")}
	s, err := server.Seal("prod-eu", []string{"DB_PASSWORD", "MISSING"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(s)
	if strings.Contains(string(b), "p@ss") || strings.Contains(string(b), "not asked for") {
		t.Fatalf("the sealed secrets hold a plaintext: %s", b)
	}
	if len(s.Values) != 1 {
		t.Errorf("sealed %d values, want only DB_PASSWORD", len(s.Values))
	}

	t.Run("the agent's key directory opens them", func(t *testing.T) {
		agent := &secret.Vault{KeyDir: v.KeyDir}
		got, err := agent.Open(s)
		if err != nil {
			t.Fatal(err)
		}
		if got["DB_PASSWORD"] != hostile || len(got) != 1 {
			t.Errorf("opened %q, want DB_PASSWORD only, byte for byte", got)
		}
	})
	t.Run("a host without the identity is told where to put it, and sees no value", func(t *testing.T) {
		_, err := server.Open(s)
		wantCode(t, err, strata.EINVALID, "prod-eu", filepath.Join("shop", "prod-eu.key"))
		if strings.Contains(err.Error(), "p@ss") {
			t.Errorf("the error shows the value: %v", err)
		}
	})
	t.Run("an environment without a secrets file seals nothing", func(t *testing.T) {
		s, err := server.Seal("staging", []string{"DB_PASSWORD"})
		if err != nil || s != nil {
			t.Errorf("Seal(staging) = %+v, %v; want nothing", s, err)
		}
	})
}
