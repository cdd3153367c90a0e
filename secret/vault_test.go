package secret_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/secret"
)

func newVault(t *testing.T) *secret.Vault {
	t.Helper()
	return &secret.Vault{
		ProjectDir: t.TempDir(),
		Project:    "shop",
		KeyDir:     filepath.Join(t.TempDir(), "keys"),
		Now:        func() time.Time { return time.Date(2026, 11, 23, 19, 30, 0, 0, time.UTC) },
	}
}

func mustKeygen(t *testing.T, v *secret.Vault, env string) *secret.KeygenResult {
	t.Helper()
	res, err := v.Keygen(env, false)
	if err != nil {
		t.Fatalf("keygen %s: %v", env, err)
	}
	return res
}

func mustSet(t *testing.T, v *secret.Vault, env, key, value string) {
	t.Helper()
	if _, err := v.Set(env, key, value, "alice"); err != nil {
		t.Fatalf("set %s %s: %v", env, key, err)
	}
}

func wantCode(t *testing.T, err error, code string, mentions ...string) {
	t.Helper()
	if got := strata.ErrorCode(err); got != code {
		t.Fatalf("error code %q (%v), want %q", got, err, code)
	}
	for _, m := range mentions {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not mention %q", err, m)
		}
	}
}

func TestKeygenKeepsTheIdentityPrivateAndTheRecipientInTheProject(t *testing.T) {
	v := newVault(t)
	res := mustKeygen(t, v, "prod-eu")
	if want := filepath.Join(v.KeyDir, "shop", "prod-eu.key"); res.KeyFile != want {
		t.Errorf("key file %s, want %s", res.KeyFile, want)
	}
	info, err := os.Stat(res.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("identity mode %v, want 0600", got)
	}
	dinfo, err := os.Stat(filepath.Dir(res.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := dinfo.Mode().Perm(); got != 0o700 {
		t.Errorf("key directory mode %v, want 0700", got)
	}
	b, err := os.ReadFile(v.FilePath("prod-eu"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "recipient: "+res.Recipient) || strings.Contains(string(b), "AGE-SECRET-KEY") {
		t.Errorf("secrets file should hold the recipient and no identity:\n%s", b)
	}
	if !strings.HasPrefix(res.Recipient, "age1") {
		t.Errorf("recipient %q is not an age recipient", res.Recipient)
	}
}

func TestKeygenRefusesAnEnvironmentThatHasAKey(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, v *secret.Vault)
	}{
		{"a recorded recipient points to rotate", func(t *testing.T, v *secret.Vault) { mustKeygen(t, v, "dev") }},
		{"an identity file alone is not overwritten", func(t *testing.T, v *secret.Vault) {
			mustKeygen(t, v, "dev")
			os.Remove(v.FilePath("dev"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVault(t)
			tt.setup(t, v)
			before, _ := os.ReadFile(v.KeyPath("dev"))
			_, err := v.Keygen("dev", false)
			wantCode(t, err, strata.ECONFLICT, "dev", "--force")
			after, _ := os.ReadFile(v.KeyPath("dev"))
			if !bytes.Equal(before, after) {
				t.Error("a refused keygen changed the identity")
			}
		})
	}
}

func TestKeygenForceReplacesTheKeyAndDropsTheValues(t *testing.T) {
	v := newVault(t)
	old := mustKeygen(t, v, "dev")
	mustSet(t, v, "dev", "DATABASE_PASSWORD", "hunter2")
	res, err := v.Keygen("dev", true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Recipient == old.Recipient || len(res.Dropped) != 1 || res.Dropped[0] != "DATABASE_PASSWORD" {
		t.Errorf("forced keygen = %+v; want a new recipient and DATABASE_PASSWORD dropped", res)
	}
	vals, err := v.Decrypt("dev")
	if err != nil || len(vals) != 0 {
		t.Errorf("after forced keygen: %v, %v; want no values", vals, err)
	}
}

func TestSetEncryptsToTheRecipientAndDecryptOpensIt(t *testing.T) {
	v := newVault(t)
	mustKeygen(t, v, "dev")
	mustSet(t, v, "dev", "DATABASE_PASSWORD", "correct horse battery staple")
	mustSet(t, v, "dev", "API_TOKEN", "tok-123\nwith a newline")
	b, _ := os.ReadFile(v.FilePath("dev"))
	if strings.Contains(string(b), "correct horse") || strings.Contains(string(b), "tok-123") {
		t.Fatalf("secrets file holds a plain value:\n%s", b)
	}
	got, err := v.Decrypt("dev")
	if err != nil {
		t.Fatal(err)
	}
	if got["DATABASE_PASSWORD"] != "correct horse battery staple" || got["API_TOKEN"] != "tok-123\nwith a newline" {
		t.Errorf("decrypt = %q", got)
	}
	f, err := v.Read("dev")
	if err != nil {
		t.Fatal(err)
	}
	e := f.Values["DATABASE_PASSWORD"]
	if e.SetBy != "alice" || !e.SetAt.Equal(time.Date(2026, 11, 23, 19, 30, 0, 0, time.UTC)) {
		t.Errorf("entry stamped %s at %s; want alice at the vault's clock", e.SetBy, e.SetAt)
	}
}

func TestSetRefusesBadInput(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(t *testing.T, v *secret.Vault)
		env, val string
		code     string
		mentions []string
	}{
		{"an environment without a key says to run keygen", func(*testing.T, *secret.Vault) {}, "dev", "x", strata.EINVALID, []string{"strata secret keygen dev"}},
		{"an empty value is refused", func(t *testing.T, v *secret.Vault) { mustKeygen(t, v, "dev") }, "dev", "", strata.EINVALID, []string{"empty"}},
		{"a name with a slash cannot escape the secrets directory", func(*testing.T, *secret.Vault) {}, "../prod", "x", strata.EINVALID, []string{"../prod"}},
		{"an identity that does not match the recipient is refused", func(t *testing.T, v *secret.Vault) {
			mustKeygen(t, v, "dev")
			writeOtherIdentity(t, v.KeyPath("dev"))
		}, "dev", "x", strata.EINVALID, []string{"does not match", "dev.key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVault(t)
			tt.setup(t, v)
			before, _ := os.ReadFile(v.FilePath("dev"))
			_, err := v.Set(tt.env, "K", tt.val, "alice")
			wantCode(t, err, tt.code, tt.mentions...)
			after, _ := os.ReadFile(v.FilePath("dev"))
			if !bytes.Equal(before, after) {
				t.Error("a refused set changed the secrets file")
			}
		})
	}
}

func TestRemoveDeletesOneValue(t *testing.T) {
	v := newVault(t)
	mustKeygen(t, v, "dev")
	mustSet(t, v, "dev", "A", "aaaa")
	mustSet(t, v, "dev", "B", "bbbb")
	if err := v.Remove("dev", "A"); err != nil {
		t.Fatal(err)
	}
	got, err := v.Decrypt("dev")
	if err != nil || len(got) != 1 || got["B"] != "bbbb" {
		t.Errorf("after rm A: %q, %v; want only B", got, err)
	}
	wantCode(t, v.Remove("dev", "A"), strata.ENOTFOUND, "no secret A", "B")
}

func TestRotateReencryptsEveryValueAndTheOldIdentityOpensNothing(t *testing.T) {
	v := newVault(t)
	old := mustKeygen(t, v, "prod-us")
	mustSet(t, v, "prod-us", "DATABASE_PASSWORD", "s3cret-one")
	mustSet(t, v, "prod-us", "API_TOKEN", "s3cret-two")
	oldID, err := os.ReadFile(v.KeyPath("prod-us"))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := v.Read("prod-us")

	res, err := v.Rotate("prod-us")
	if err != nil {
		t.Fatal(err)
	}
	if res.OldRecipient != old.Recipient || res.Recipient == old.Recipient || len(res.Keys) != 2 {
		t.Errorf("rotate = %+v", res)
	}
	got, err := v.Decrypt("prod-us")
	if err != nil || got["DATABASE_PASSWORD"] != "s3cret-one" || got["API_TOKEN"] != "s3cret-two" {
		t.Fatalf("after rotate: %q, %v", got, err)
	}
	ids, err := age.ParseIdentities(bytes.NewReader(oldID))
	if err != nil {
		t.Fatal(err)
	}
	after, _ := v.Read("prod-us")
	for k, e := range after.Values {
		if e.Ciphertext == before.Values[k].Ciphertext {
			t.Errorf("%s kept its old ciphertext", k)
		}
		if !e.SetAt.Equal(before.Values[k].SetAt) || e.SetBy != before.Values[k].SetBy {
			t.Errorf("%s lost when and by whom it was set", k)
		}
		raw, _ := base64.StdEncoding.DecodeString(e.Ciphertext)
		if r, err := age.Decrypt(bytes.NewReader(raw), ids...); err == nil {
			io.ReadAll(r)
			t.Errorf("the old identity still opens %s", k)
		}
	}
	cur, _ := os.ReadFile(v.KeyPath("prod-us"))
	if bytes.Equal(cur, oldID) {
		t.Error("the identity file was not replaced")
	}
	if _, err := os.Stat(v.KeyPath("prod-us") + ".new"); err == nil {
		t.Error("rotate left KEYFILE.new behind")
	}
}

func TestRotateRefusesAWrongOrMissingIdentityBeforeWriting(t *testing.T) {
	tests := []struct {
		name     string
		break_   func(t *testing.T, path string)
		mentions []string
	}{
		{"a missing identity", func(t *testing.T, path string) { os.Remove(path) }, []string{"no identity at", "prod-us.key"}},
		{"a wrong identity", func(t *testing.T, path string) { writeOtherIdentity(t, path) }, []string{"does not match", "prod-us.key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVault(t)
			mustKeygen(t, v, "prod-us")
			mustSet(t, v, "prod-us", "K", "value-k")
			tt.break_(t, v.KeyPath("prod-us"))
			before, _ := os.ReadFile(v.FilePath("prod-us"))
			_, err := v.Rotate("prod-us")
			wantCode(t, err, strata.EINVALID, tt.mentions...)
			after, _ := os.ReadFile(v.FilePath("prod-us"))
			if !bytes.Equal(before, after) {
				t.Error("a refused rotate changed the secrets file")
			}
		})
	}
}

func TestAnInterruptedRotateIsFinishedByTheNextRead(t *testing.T) {
	v := newVault(t)
	mustKeygen(t, v, "dev")
	mustSet(t, v, "dev", "K", "value-k")
	oldID, _ := os.ReadFile(v.KeyPath("dev"))
	if _, err := v.Rotate("dev"); err != nil {
		t.Fatal(err)
	}
	// As if the process died after writing the file, before renaming KEYFILE.new.
	newID, _ := os.ReadFile(v.KeyPath("dev"))
	os.WriteFile(v.KeyPath("dev")+".new", newID, 0o600)
	os.WriteFile(v.KeyPath("dev"), oldID, 0o600)
	got, err := v.Decrypt("dev")
	if err != nil || got["K"] != "value-k" {
		t.Fatalf("decrypt after an interrupted rotate: %q, %v", got, err)
	}
	cur, _ := os.ReadFile(v.KeyPath("dev"))
	if !bytes.Equal(cur, newID) {
		t.Error("the new identity was not installed")
	}
}

func TestKeyDirFollowsTheEnvironment(t *testing.T) {
	tests := []struct {
		name, keys, xdg, home, want string
	}{
		{"STRATA_KEYS wins", "/k", "/x", "/h", "/k"},
		{"else XDG_CONFIG_HOME", "", "/x", "/h", "/x/strata/keys"},
		{"else the home directory", "", "", "/h", "/h/.config/strata/keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("STRATA_KEYS", tt.keys)
			t.Setenv("XDG_CONFIG_HOME", tt.xdg)
			t.Setenv("HOME", tt.home)
			got, err := secret.KeyDir()
			if err != nil || got != tt.want {
				t.Errorf("KeyDir() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// writeOtherIdentity replaces an identity file with an unrelated identity.
func writeOtherIdentity(t *testing.T, path string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentSetsLoseNothing(t *testing.T) {
	v := newVault(t)
	mustKeygen(t, v, "dev")
	const n = 16
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := v.Set("dev", fmt.Sprintf("K%02d", i), fmt.Sprintf("value-%d", i), "alice")
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got, err := v.Decrypt("dev")
	if err != nil || len(got) != n {
		t.Fatalf("after %d concurrent sets: %d values, %v", n, len(got), err)
	}
}
