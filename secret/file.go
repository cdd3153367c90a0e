package secret

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"filippo.io/age"
	"github.com/strata-dev/strata"
	"go.yaml.in/yaml/v3"
)

// FileVersion is the format version of the secrets files this package writes.
const FileVersion = 1

// File is one environment's secrets file: its recipient and its encrypted values.
type File struct {
	Version     int               `yaml:"version"`
	Environment string            `yaml:"environment"`
	Recipient   string            `yaml:"recipient"`
	Values      map[string]*Entry `yaml:"values,omitempty"`
}

// Entry is one encrypted value and who set it when.
type Entry struct {
	// Ciphertext is the base64 of one age file holding the value, encrypted to the file's
	// recipient.
	Ciphertext string    `yaml:"ciphertext"`
	SetAt      time.Time `yaml:"set_at"`
	SetBy      string    `yaml:"set_by"`
}

// Keys returns the names of the values the file holds, sorted.
func (f *File) Keys() []string {
	out := make([]string, 0, len(f.Values))
	for k := range f.Values {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// readFile reads a secrets file; it returns (nil, nil) when there is none.
func readFile(path, env string) (*File, error) {
	b, err := os.ReadFile(path)
	if isNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read secrets of %s: %w", env, err)
	}
	var f File
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, strata.Errorf(strata.EINVALID, "%s: not a Strata secrets file (%w); it is written by `strata secret`, not by hand", path, err)
	}
	switch {
	case f.Version != FileVersion:
		return nil, strata.Errorf(strata.EINVALID, "%s: secrets file version %d; this binary reads version %d", path, f.Version, FileVersion)
	case f.Environment != env:
		return nil, strata.Errorf(strata.EINVALID, "%s: holds the secrets of environment %q, not %q; files never move between environments", path, f.Environment, env)
	}
	if _, err := parseRecipient(f.Recipient); err != nil {
		return nil, strata.Errorf(strata.EINVALID, "%s: recipient %q is not an age recipient: %w", path, f.Recipient, err)
	}
	if f.Values == nil {
		f.Values = map[string]*Entry{}
	}
	for k, e := range f.Values {
		if e == nil || e.Ciphertext == "" {
			return nil, strata.Errorf(strata.EINVALID, "%s: %s has no ciphertext", path, k)
		}
	}
	return &f, nil
}

// writeFile writes f to path atomically with a header that says what the file is.
func writeFile(path string, f *File) error {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# Strata secrets of environment %s, encrypted with age to the recipient below.\n", f.Environment)
	fmt.Fprintf(&buf, "# Safe to commit. Change it with `strata secret set|rm|rotate %s`, not by hand.\n", f.Environment)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return fmt.Errorf("encode secrets of %s: %w", f.Environment, err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("encode secrets of %s: %w", f.Environment, err)
	}
	return writeAtomic(path, buf.Bytes(), 0o644)
}

// encrypt returns the base64 of value encrypted to recipient.
func encrypt(recipient, value string) (string, error) {
	r, err := parseRecipient(recipient)
	if err != nil {
		return "", fmt.Errorf("recipient %q: %w", recipient, err)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		return "", fmt.Errorf("encrypt: %w", err)
	}
	if _, err := io.WriteString(w, value); err != nil {
		return "", fmt.Errorf("encrypt: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("encrypt: %w", err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// decrypt opens one ciphertext with id.
func decrypt(id age.Identity, ciphertext string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(ciphertext)
	if err != nil {
		return "", fmt.Errorf("ciphertext is not base64: %w", err)
	}
	r, err := age.Decrypt(bytes.NewReader(raw), id)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
