package secret

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// A source is where an environment keeps a secret outside Strata's own age files, named in
// strata.yaml as `environments.NAME.secrets.KEY: SOURCE` (and inherited through extends):
//
//	sops:PATH#KEY          a SOPS-encrypted YAML or JSON file, decrypted by the `sops` tool
//	vault:MOUNT/PATH#KEY   a HashiCorp Vault or OpenBao KV version 2 secret, over HTTP
//	exec:COMMAND           a command whose standard output is the value
//
// Values are fetched when a deployment needs them, on the host that runs its step, and kept
// for that deployment only.

// Source kinds.
const (
	SourceSOPS  = "sops"
	SourceVault = "vault"
	SourceExec  = "exec"
)

// SourceTimeout bounds one fetch from a source.
const SourceTimeout = 30 * time.Second

// Source is a parsed source reference.
type Source struct {
	Kind string
	// Path is the SOPS file (sops:), the mount and path of the secret (vault:, MOUNT/PATH),
	// or the command (exec:).
	Path string
	// Key is the key within the file or secret; for sops: a dotted path (db.password).
	Key string
}

// SourceSyntax says what a source reference looks like, for error messages.
const SourceSyntax = "sops:PATH#KEY, vault:MOUNT/PATH#KEY or exec:COMMAND"

// ParseSource reads a source reference. A malformed one is an error saying what would be
// right.
func ParseSource(ref string) (Source, error) {
	kind, rest, ok := strings.Cut(ref, ":")
	if !ok {
		return Source{}, fmt.Errorf("%q is not a secret source; write %s", ref, SourceSyntax)
	}
	switch kind {
	case SourceSOPS, SourceVault:
		path, key, ok := strings.Cut(rest, "#")
		path, key = strings.TrimSpace(path), strings.TrimSpace(key)
		if !ok || path == "" || key == "" {
			return Source{}, fmt.Errorf("%q names no file and key; write %s:PATH#KEY (e.g. %s)", ref, kind, example(kind))
		}
		if kind == SourceVault {
			mount, p, _ := strings.Cut(strings.Trim(path, "/"), "/")
			if mount == "" || p == "" {
				return Source{}, fmt.Errorf("%q names no mount and path; write vault:MOUNT/PATH#KEY (e.g. %s)", ref, example(kind))
			}
		}
		if kind == SourceSOPS && (strings.HasPrefix(key, ".") || strings.HasSuffix(key, ".") || strings.Contains(key, "..")) {
			return Source{}, fmt.Errorf("%q: key %q is not a dotted path; write e.g. %s", ref, key, example(kind))
		}
		return Source{Kind: kind, Path: path, Key: key}, nil
	case SourceExec:
		if strings.TrimSpace(rest) == "" {
			return Source{}, fmt.Errorf("%q names no command; write exec:COMMAND (e.g. exec:op read op://prod/db/password)", ref)
		}
		return Source{Kind: kind, Path: strings.TrimSpace(rest)}, nil
	}
	return Source{}, fmt.Errorf("%q: unknown secret source %q; write %s", ref, kind, SourceSyntax)
}

func example(kind string) string {
	if kind == SourceVault {
		return "vault:secret/prod-eu/db#password"
	}
	return "sops:secrets/prod-eu.yaml#db.password"
}

// String is the reference as strata.yaml writes it.
func (s Source) String() string {
	if s.Kind == SourceExec {
		return s.Kind + ":" + s.Path
	}
	return s.Kind + ":" + s.Path + "#" + s.Key
}

// Fetcher reads values from sources. Its zero value reads the process's environment and
// runs `sops` from PATH.
type Fetcher struct {
	// Dir is the project directory: relative sops: paths and exec: commands start there.
	Dir string
	// Getenv reads VAULT_ADDR, VAULT_TOKEN and the like; nil means os.Getenv.
	Getenv func(string) string
	// Client talks to Vault; nil means one with SourceTimeout.
	Client *http.Client
	// Environ is the environment exec: commands and sops run with; nil means the process's.
	Environ []string
	// Timeout bounds one fetch; 0 means SourceTimeout.
	Timeout time.Duration
}

func (f *Fetcher) timeout() time.Duration {
	if f.Timeout > 0 {
		return f.Timeout
	}
	return SourceTimeout
}

func (f *Fetcher) getenv(k string) string {
	if f.Getenv != nil {
		return f.Getenv(k)
	}
	return os.Getenv(k)
}

// Fetch returns the value src holds. Its errors name the source but never hold the value:
// a command's or a server's output that contains it is shown with the value redacted.
func (f *Fetcher) Fetch(ctx context.Context, src Source) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout())
	defer cancel()
	switch src.Kind {
	case SourceSOPS:
		return f.sops(ctx, src)
	case SourceVault:
		return f.vault(ctx, src)
	case SourceExec:
		// A command's standard error is not shown: what it prints there is unknown, and may
		// be the secret itself (a password manager that echoes what it could not parse).
		out, err := f.run(ctx, []string{"/bin/sh", "-c", src.Path}, false)
		return strings.TrimSuffix(strings.TrimSuffix(out, "\n"), "\r"), err
	}
	return "", fmt.Errorf("unknown source kind %q", src.Kind)
}

// run runs argv and returns its standard output. A failure says how it ended and, with
// stderr, what it wrote to standard error, with anything it wrote to standard output
// redacted from it.
func (f *Fetcher) run(ctx context.Context, argv []string, stderr bool) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = f.Dir
	cmd.Env = f.Environ
	cmd.WaitDelay = time.Second
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &limited{w: &errb, n: 4 << 10}
	err := cmd.Run()
	value := out.String()
	if ctx.Err() == context.DeadlineExceeded {
		return "", fmt.Errorf("timed out after %s", f.timeout())
	}
	if err != nil {
		if !stderr {
			return "", fmt.Errorf("%w (its output is not shown: it may hold the secret; run the command by hand to see why)", err)
		}
		msg := strings.TrimSpace(Redact(errb.String(), nonEmpty(strings.TrimSpace(value))))
		if msg != "" {
			return "", fmt.Errorf("%w: %s", err, msg)
		}
		return "", err
	}
	if strings.TrimSpace(value) == "" {
		return "", errors.New("it printed nothing")
	}
	return value, nil
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// limited keeps the first n bytes written to it.
type limited struct {
	w io.Writer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// sops decrypts one value of a SOPS file with the sops tool (its keys are the tool's: an
// age identity in SOPS_AGE_KEY_FILE, a cloud KMS, ...).
func (f *Fetcher) sops(ctx context.Context, src Source) (string, error) {
	path := src.Path
	if !filepath.IsAbs(path) {
		path = filepath.Join(f.Dir, path)
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("the file %s: %w", path, pathError(err))
	}
	bin, err := exec.LookPath("sops")
	if err != nil {
		return "", errors.New("the sops tool is not on PATH (install it: https://github.com/getsops/sops)")
	}
	extract := ""
	for _, part := range strings.Split(src.Key, ".") {
		b, _ := json.Marshal(part)
		extract += "[" + string(b) + "]"
	}
	// sops's own messages name files and keys, never decrypted values: they are shown.
	out, err := f.run(ctx, []string{bin, "decrypt", "--extract", extract, path}, true)
	if err != nil {
		return "", fmt.Errorf("sops decrypt: %w", err)
	}
	return out, nil
}

// vault reads one key of a KV version 2 secret: GET VAULT_ADDR/v1/MOUNT/data/PATH with
// VAULT_TOKEN, or with a token from an AppRole login (VAULT_ROLE_ID, VAULT_SECRET_ID), and
// VAULT_NAMESPACE when set.
func (f *Fetcher) vault(ctx context.Context, src Source) (string, error) {
	addr := strings.TrimRight(f.getenv("VAULT_ADDR"), "/")
	if addr == "" {
		return "", errors.New("VAULT_ADDR is not set in this process")
	}
	token := f.getenv("VAULT_TOKEN")
	if token == "" {
		role, secretID := f.getenv("VAULT_ROLE_ID"), f.getenv("VAULT_SECRET_ID")
		if role == "" || secretID == "" {
			return "", errors.New("neither VAULT_TOKEN nor VAULT_ROLE_ID and VAULT_SECRET_ID are set in this process")
		}
		var login struct {
			Auth struct {
				ClientToken string `json:"client_token"`
			} `json:"auth"`
		}
		body, _ := json.Marshal(map[string]string{"role_id": role, "secret_id": secretID})
		if err := f.vaultCall(ctx, http.MethodPost, addr+"/v1/auth/approle/login", "", body, &login); err != nil {
			return "", fmt.Errorf("AppRole login: %w", err)
		}
		if token = login.Auth.ClientToken; token == "" {
			return "", errors.New("AppRole login: Vault gave no token")
		}
	}
	mount, path, _ := strings.Cut(strings.Trim(src.Path, "/"), "/")
	var doc struct {
		Data struct {
			Data map[string]any `json:"data"`
		} `json:"data"`
	}
	u := addr + "/v1/" + url.PathEscape(mount) + "/data/" + escapePath(path)
	if err := f.vaultCall(ctx, http.MethodGet, u, token, nil, &doc); err != nil {
		return "", err
	}
	v, ok := doc.Data.Data[src.Key]
	if !ok {
		return "", fmt.Errorf("the secret %s/%s has no key %q", mount, path, src.Key)
	}
	s, ok := v.(string)
	if !ok {
		b, _ := json.Marshal(v)
		s = string(b)
	}
	if s == "" {
		return "", fmt.Errorf("the key %q of %s/%s is empty", src.Key, mount, path)
	}
	return s, nil
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// vaultCall makes one call to Vault and decodes its JSON answer into v. A refusal names
// Vault's status and its errors list (which never holds a secret's value).
func (f *Fetcher) vaultCall(ctx context.Context, method, u, token string, body []byte, v any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return errors.New("VAULT_ADDR is not a valid URL")
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	if ns := f.getenv("VAULT_NAMESPACE"); ns != "" {
		req.Header.Set("X-Vault-Namespace", ns)
	}
	client := f.Client
	if client == nil {
		client = &http.Client{}
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if ctx.Err() == context.DeadlineExceeded {
			return fmt.Errorf("Vault did not answer within %s", f.timeout())
		}
		return fmt.Errorf("Vault: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("Vault: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Errors []string `json:"errors"`
		}
		json.Unmarshal(b, &e)
		if len(e.Errors) > 0 {
			return fmt.Errorf("Vault answered %s: %s", resp.Status, strings.Join(e.Errors, "; "))
		}
		return fmt.Errorf("Vault answered %s", resp.Status)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("Vault's answer is not the KV version 2 JSON: %w", err)
	}
	return nil
}
