package secret

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/strata-dev/strata"
)

// Dir is the directory, under the project directory, that holds the secrets files.
const Dir = "secrets"

// Vault keeps one project's secrets: the encrypted files under the project directory and
// the private identities in the key directory.
type Vault struct {
	// ProjectDir is the directory holding strata.yaml.
	ProjectDir string
	// Project is the project's name: identities live in KeyDir/Project.
	Project string
	// KeyDir is the key directory (see KeyDir).
	KeyDir string
	// Now is the clock that stamps set_at; nil means time.Now.
	Now func() time.Time
}

// FilePath is the secrets file of env: PROJECTDIR/secrets/ENV.age.yaml.
func (v *Vault) FilePath(env string) string {
	return filepath.Join(v.ProjectDir, Dir, env+".age.yaml")
}

// KeyPath is the identity file of env: KEYDIR/PROJECT/ENV.key.
func (v *Vault) KeyPath(env string) string {
	return filepath.Join(v.KeyDir, v.Project, env+".key")
}

// Forget removes env's secrets file and its identity, when they exist, and returns the
// paths it removed: what `env destroy` does once a short-lived environment is gone, so that
// nothing can read its secrets again. Removing what is not there is not an error.
func (v *Vault) Forget(env string) ([]string, error) {
	if err := v.check(env); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(v.ProjectDir, Dir)); isNotExist(err) {
		return v.forgetKey(env, nil)
	}
	unlock, err := v.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	var removed []string
	if err := os.Remove(v.FilePath(env)); err == nil {
		removed = append(removed, v.FilePath(env))
	} else if !isNotExist(err) {
		return nil, fmt.Errorf("remove the secrets file of %s: %w", env, err)
	}
	return v.forgetKey(env, removed)
}

// forgetKey removes env's identity, when the vault knows its key directory and it is there.
func (v *Vault) forgetKey(env string, removed []string) ([]string, error) {
	if v.KeyDir == "" {
		return removed, nil
	}
	if err := os.Remove(v.KeyPath(env)); err == nil {
		removed = append(removed, v.KeyPath(env))
	} else if !isNotExist(err) {
		return removed, fmt.Errorf("remove the key of %s: %w", env, err)
	}
	return removed, nil
}

func (v *Vault) now() time.Time {
	if v.Now == nil {
		return time.Now().UTC()
	}
	return v.Now().UTC()
}

func (v *Vault) check(env string) error {
	if err := checkName("project", v.Project); err != nil {
		return err
	}
	return checkName("environment", env)
}

// Read returns env's secrets file, or nil when the environment has none yet.
func (v *Vault) Read(env string) (*File, error) {
	if err := v.check(env); err != nil {
		return nil, err
	}
	return readFile(v.FilePath(env), env)
}

// KeygenResult says what Keygen made.
type KeygenResult struct {
	Recipient string
	KeyFile   string
	File      string
	// Dropped lists the values a forced keygen threw away: nothing can open them any more.
	Dropped []string
}

// Keygen makes a new identity for env, writes it to the key directory and records its
// recipient in env's secrets file. ECONFLICT when env has a key already, unless force, which
// replaces it and drops every value encrypted to the old one (use Rotate to keep them).
func (v *Vault) Keygen(env string, force bool) (*KeygenResult, error) {
	if err := v.check(env); err != nil {
		return nil, err
	}
	unlock, err := v.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	path, keyPath := v.FilePath(env), v.KeyPath(env)
	f, err := readFile(path, env)
	if err != nil && !force {
		return nil, err
	}
	if !force {
		if f != nil {
			return nil, strata.Errorf(strata.ECONFLICT, "environment %s has a key already (recipient %s in %s); `strata secret rotate %s` replaces it and keeps the values, `strata secret keygen %s --force` replaces it and drops them", env, f.Recipient, path, env, env)
		}
		if _, err := os.Stat(keyPath); err == nil {
			return nil, strata.Errorf(strata.ECONFLICT, "an identity for environment %s exists already at %s; `strata secret keygen %s --force` replaces it", env, keyPath, env)
		}
	}
	id, err := newIdentity()
	if err != nil {
		return nil, err
	}
	res := &KeygenResult{Recipient: id.recipient, KeyFile: keyPath, File: path}
	if f != nil {
		res.Dropped = f.Keys()
	}
	if err := writeIdentity(keyPath, id.text(v.Project, env, v.now())); err != nil {
		return nil, err
	}
	nf := &File{Version: FileVersion, Environment: env, Recipient: id.recipient, Values: map[string]*Entry{}}
	if err := writeFile(path, nf); err != nil {
		return nil, err
	}
	return res, nil
}

// Set encrypts value to env's recipient and stores it as key, stamped with actor and the
// time. It needs only the recipient, not the identity; but an identity present here that
// does not match the recipient is refused before anything is written.
func (v *Vault) Set(env, key, value, actor string) (*Entry, error) {
	if err := v.check(env); err != nil {
		return nil, err
	}
	if value == "" {
		return nil, strata.Errorf(strata.EINVALID, "the value of %s for %s is empty; give a value on stdin", key, env)
	}
	unlock, err := v.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	f, err := v.needFile(env)
	if err != nil {
		return nil, err
	}
	if id, err := readIdentity(v.KeyPath(env)); err == nil && id.recipient != f.Recipient {
		return nil, v.mismatch(env, id, f)
	}
	ct, err := encrypt(f.Recipient, value)
	if err != nil {
		return nil, fmt.Errorf("set %s in %s: %w", key, env, err)
	}
	e := &Entry{Ciphertext: ct, SetAt: v.now().Truncate(time.Second), SetBy: actor}
	f.Values[key] = e
	if err := writeFile(v.FilePath(env), f); err != nil {
		return nil, err
	}
	return e, nil
}

// Remove deletes key from env's secrets. ENOTFOUND when it is not there.
func (v *Vault) Remove(env, key string) error {
	if err := v.check(env); err != nil {
		return err
	}
	unlock, err := v.lock()
	if err != nil {
		return err
	}
	defer unlock()
	f, err := v.needFile(env)
	if err != nil {
		return err
	}
	if f.Values[key] == nil {
		return strata.Errorf(strata.ENOTFOUND, "environment %s has no secret %s; it has: %s", env, key, listOrNone(f.Keys()))
	}
	delete(f.Values, key)
	return writeFile(v.FilePath(env), f)
}

// RotateResult says what Rotate changed.
type RotateResult struct {
	OldRecipient, Recipient string
	KeyFile                 string
	Keys                    []string
}

// Rotate gives env a new identity and re-encrypts every value to it; the old identity file
// is replaced and opens nothing in the new file. It needs env's current identity: a missing
// or mismatched one is EINVALID, and nothing is written.
//
// The new identity is written to KEYFILE.new first, then the secrets file, then the new
// identity is renamed over the old one; if the process dies in between, the next read of
// the identity finishes the rename.
func (v *Vault) Rotate(env string) (*RotateResult, error) {
	if err := v.check(env); err != nil {
		return nil, err
	}
	unlock, err := v.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	f, err := v.needFile(env)
	if err != nil {
		return nil, err
	}
	values, err := v.decryptAll(env, f)
	if err != nil {
		return nil, err
	}
	id, err := newIdentity()
	if err != nil {
		return nil, err
	}
	keyPath := v.KeyPath(env)
	if err := writeIdentity(keyPath+".new", id.text(v.Project, env, v.now())); err != nil {
		return nil, err
	}
	nf := &File{Version: FileVersion, Environment: env, Recipient: id.recipient, Values: map[string]*Entry{}}
	for k, val := range values {
		ct, err := encrypt(id.recipient, val)
		if err != nil {
			return nil, fmt.Errorf("rotate %s: %w", env, err)
		}
		nf.Values[k] = &Entry{Ciphertext: ct, SetAt: f.Values[k].SetAt, SetBy: f.Values[k].SetBy}
	}
	if err := writeFile(v.FilePath(env), nf); err != nil {
		return nil, err
	}
	if err := os.Rename(keyPath+".new", keyPath); err != nil {
		return nil, fmt.Errorf("rotate %s: install the new identity: %w", env, err)
	}
	return &RotateResult{OldRecipient: f.Recipient, Recipient: id.recipient, KeyFile: keyPath, Keys: nf.Keys()}, nil
}

// Decrypt returns every value of env's secrets. An environment without a secrets file, or
// with no values in it, has none, and its identity is not read. A missing identity, or one
// that does not match the file's recipient, is EINVALID naming the environment and the
// identity's path.
func (v *Vault) Decrypt(env string) (map[string]string, error) {
	f, err := v.Read(env)
	if err != nil || f == nil || len(f.Values) == 0 {
		return map[string]string{}, err
	}
	return v.decryptAll(env, f)
}

func (v *Vault) decryptAll(env string, f *File) (map[string]string, error) {
	out := make(map[string]string, len(f.Values))
	if len(f.Values) == 0 {
		return out, nil
	}
	id, err := v.openIdentity(env, f)
	if err != nil {
		return nil, err
	}
	for _, k := range f.Keys() {
		val, err := decrypt(id.id, f.Values[k].Ciphertext)
		if err != nil {
			return nil, strata.Errorf(strata.EINVALID, "secret %s of environment %s in %s does not open with the identity at %s: %w", k, env, v.FilePath(env), v.KeyPath(env), err)
		}
		out[k] = val
	}
	return out, nil
}

// openIdentity reads env's identity and checks it against the file's recipient. When an
// interrupted Rotate left the matching identity at KEYFILE.new, it finishes the rename.
func (v *Vault) openIdentity(env string, f *File) (*identity, error) {
	path := v.KeyPath(env)
	id, err := readIdentity(path)
	if err == nil && id.recipient == f.Recipient {
		return id, nil
	}
	if n, nerr := readIdentity(path + ".new"); nerr == nil && n.recipient == f.Recipient {
		if rerr := os.Rename(path+".new", path); rerr != nil {
			return nil, fmt.Errorf("finish the rotation of %s: %w", env, rerr)
		}
		return n, nil
	}
	switch {
	case isNotExist(err):
		return nil, strata.Errorf(strata.EINVALID, "environment %s: no identity at %s to open its secrets (encrypted to %s); copy that environment's identity there, or point STRATA_KEYS at the directory that holds %s",
			env, path, f.Recipient, filepath.Join(v.Project, env+".key"))
	case err != nil:
		return nil, strata.Errorf(strata.EINVALID, "environment %s: cannot read its identity at %s: %w", env, path, err)
	}
	return nil, v.mismatch(env, id, f)
}

func (v *Vault) mismatch(env string, id *identity, f *File) error {
	return strata.Errorf(strata.EINVALID, "environment %s: the identity at %s (public key %s) does not match the recipient %s in %s; use that environment's current identity, or `strata secret keygen %s --force` to start over (its values must then be set again)",
		env, v.KeyPath(env), id.recipient, f.Recipient, v.FilePath(env), env)
}

// needFile reads env's secrets file and says what to run when there is none.
func (v *Vault) needFile(env string) (*File, error) {
	f, err := readFile(v.FilePath(env), env)
	if err != nil {
		return nil, err
	}
	if f == nil {
		return nil, strata.Errorf(strata.EINVALID, "environment %s has no key yet; run `strata secret keygen %s` first", env, env)
	}
	return f, nil
}

// lock takes an exclusive lock on the secrets directory (creating it), so that two
// processes changing secrets at once do not lose each other's change.
func (v *Vault) lock() (func(), error) {
	dir := filepath.Join(v.ProjectDir, Dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("secrets directory: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("secrets directory: %w", err)
	}
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX); err != nil {
		d.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() {
		syscall.Flock(int(d.Fd()), syscall.LOCK_UN)
		d.Close()
	}, nil
}

func listOrNone(keys []string) string {
	if len(keys) == 0 {
		return "none"
	}
	return strings.Join(keys, ", ")
}
