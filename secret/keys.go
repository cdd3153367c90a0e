package secret

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/strata-dev/strata"
)

// KeyDir returns the directory that holds private identities: $STRATA_KEYS when set, else
// $XDG_CONFIG_HOME/strata/keys, else ~/.config/strata/keys.
func KeyDir() (string, error) {
	if d := os.Getenv("STRATA_KEYS"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "strata", "keys"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", strata.Errorf(strata.EINVALID, "no key directory: set STRATA_KEYS (or HOME): %w", err)
	}
	return filepath.Join(home, ".config", "strata", "keys"), nil
}

// checkName refuses a project or environment name that could leave its directory.
func checkName(kind, name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || strings.ContainsRune(name, 0) {
		return strata.Errorf(strata.EINVALID, "%s name %q cannot name a secrets file", kind, name)
	}
	return nil
}

// identity is one environment's private key as read from its file.
type identity struct {
	id        age.Identity
	recipient string
}

// newIdentity makes a fresh X25519 identity.
func newIdentity() (*identity, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, fmt.Errorf("generate identity: %w", err)
	}
	return &identity{id: id, recipient: id.Recipient().String()}, nil
}

// text is the identity file's content, in the format the age command reads.
func (i *identity) text(project, env string, now time.Time) []byte {
	return fmt.Appendf(nil, "# Strata identity of environment %s in project %s: keep it secret, never commit it.\n# created: %s\n# public key: %s\n%s\n",
		env, project, now.UTC().Format(time.RFC3339), i.recipient, i.id.(fmt.Stringer).String())
}

// readIdentity reads an identity file. It returns an error wrapping fs.ErrNotExist when the
// file is missing.
func readIdentity(path string) (*identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("read identity %s: %w", path, err)
	}
	for _, id := range ids {
		switch x := id.(type) {
		case *age.X25519Identity:
			return &identity{id: x, recipient: x.Recipient().String()}, nil
		case *age.HybridIdentity:
			return &identity{id: x, recipient: x.Recipient().String()}, nil
		}
	}
	return nil, fmt.Errorf("read identity %s: no age identity in it", path)
}

// writeIdentity writes an identity file with mode 0600, its directory 0700, atomically.
func writeIdentity(path string, content []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write identity: %w", err)
	}
	return writeAtomic(path, content, 0o600)
}

// parseRecipient reads an age recipient as a secrets file records it.
func parseRecipient(s string) (age.Recipient, error) {
	switch {
	case strings.HasPrefix(s, "age1pq1"):
		return age.ParseHybridRecipient(s)
	default:
		return age.ParseX25519Recipient(s)
	}
}

// writeAtomic writes content to a temporary file beside path, syncs it and renames it over
// path, so that readers see the old file or the new one, never a part.
func writeAtomic(path string, content []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// isNotExist reports whether err says a file is missing.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
