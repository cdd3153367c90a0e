package secret

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/strata-dev/strata/internal/suggest"

	"github.com/strata-dev/strata"
)

// Loader gives the engine one environment's secret values at deploy time. Its Load is the
// engine's Secrets function.
type Loader struct {
	Project *strata.Project
	// KeyDir is the key directory; "" means KeyDir(), asked only when an identity is needed.
	KeyDir string
	// LookupEnv reads the variables that `from: env:NAME` keys name; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Fetcher reads the sources environments name (environments.NAME.secrets); nil means
	// one on the project's directory and this process's environment.
	Fetcher *Fetcher
}

// Load returns the secret values of env: the values of its own secrets file (never a
// parent's: extends never carries secrets), decrypted with its own identity, and the values
// of keys declared with `from: env:NAME` or `from: file:PATH`. Only keys some service
// declares `secret: true` are returned. The identity is read only when env's file holds
// values, so deploying to one environment never reads another's identity.
//
// A missing or mismatched identity, an unset `env:` variable or an unreadable `file:` is
// EINVALID naming the environment and the key or file; no value appears in any error.
func (l *Loader) Load(env string) (map[string]string, error) {
	return l.load(env, l.Project.Services)
}

// LoadService is Load for one service: it returns only the secrets service declares, and
// reads only their sources, so a deployment of service never fails for a `from:` source or
// an identity that only other services need. It is the engine's ServiceSecrets function.
// An unknown service is ENOTFOUND.
func (l *Loader) LoadService(service, env string) (map[string]string, error) {
	svc := l.Project.Service(service)
	if svc == nil {
		return nil, &strata.Error{Code: strata.ENOTFOUND, Message: suggest.Unknown("service", service, l.Project.ServiceNames())}
	}
	return l.load(env, []*strata.Service{svc})
}

// load returns env's values of the secret keys that services declare.
func (l *Loader) load(env string, services []*strata.Service) (map[string]string, error) {
	if l.Project.Environment(env) == nil {
		return nil, &strata.Error{Code: strata.ENOTFOUND, Message: suggest.Unknown("environment", env, l.Project.EnvironmentNames())}
	}
	stored, fromKeys := declared(services)
	out := map[string]string{}
	// A key the environment (or an ancestor) names a source for is read from it, in place
	// of the age file or the key's from:.
	sourced := map[string]strata.SecretRef{}
	e := l.Project.Environment(env)
	for k := range stored {
		if r, ok := e.SecretSource(k); ok {
			sourced[k] = r
			delete(stored, k)
		}
	}
	fromKeys = slices.DeleteFunc(fromKeys, func(k *strata.Key) bool {
		r, ok := e.SecretSource(k.Name)
		if ok {
			sourced[k.Name] = r
		}
		return ok
	})
	for _, k := range slices.Sorted(maps.Keys(sourced)) {
		val, err := l.fromSource(env, k, sourced[k])
		if err != nil {
			return nil, err
		}
		out[k] = val
	}
	if len(stored) > 0 {
		v := &Vault{ProjectDir: l.Project.Dir, Project: l.Project.Name, KeyDir: l.KeyDir}
		if v.KeyDir == "" {
			f, err := v.Read(env)
			if err != nil {
				return nil, err
			}
			if f != nil && len(f.Values) > 0 {
				if v.KeyDir, err = KeyDir(); err != nil {
					return nil, err
				}
			}
		}
		vals, err := v.Decrypt(env)
		if err != nil {
			return nil, err
		}
		for k, val := range vals {
			if stored[k] {
				out[k] = val
			}
		}
	}
	for _, k := range fromKeys {
		val, err := l.outside(env, k)
		if err != nil {
			return nil, err
		}
		out[k.Name] = val
	}
	return out, nil
}

// fromSource reads key's value in env from the source ref names. A source that fails
// (denied, down, timed out, a key it does not hold) is EFAILED naming the key, the
// environment and the source, never the value.
func (l *Loader) fromSource(env, key string, ref strata.SecretRef) (string, error) {
	src, err := ParseSource(ref.Source)
	if err != nil {
		return "", strata.Errorf(strata.EINVALID, "%s: secret %s of %s: %w", ref.Pos, key, env, err)
	}
	f := l.Fetcher
	if f == nil {
		f = &Fetcher{Dir: l.Project.Dir}
	}
	val, err := f.Fetch(context.Background(), src)
	if err != nil {
		return "", strata.Errorf(strata.EFAILED, "deploying to %s needs the secret %s from %s (%s): %w", env, key, ref.Source, ref.Pos, err)
	}
	return val, nil
}

// declared returns the secret keys of services kept in secrets files, and the first
// declaration of each key that names an outside source, in declaration order.
func declared(services []*strata.Service) (map[string]bool, []*strata.Key) {
	stored := map[string]bool{}
	var from []*strata.Key
	for _, s := range services {
		for _, k := range s.Schema {
			switch {
			case !k.Secret:
			case k.From == "":
				stored[k.Name] = true
			case !slices.ContainsFunc(from, func(x *strata.Key) bool { return x.Name == k.Name }):
				from = append(from, k)
			}
		}
	}
	return stored, from
}

// outside reads a key's value from the source its `from:` names.
func (l *Loader) outside(env string, k *strata.Key) (string, error) {
	kind, ref, _ := strings.Cut(k.From, ":")
	switch kind {
	case "env":
		lookup := l.LookupEnv
		if lookup == nil {
			lookup = os.LookupEnv
		}
		val, ok := lookup(ref)
		if !ok || val == "" {
			return "", strata.Errorf(strata.EINVALID, "deploying to %s needs the secret %s from the variable %s (from: %s at %s), which is not set in this process", env, k.Name, ref, k.From, k.Pos)
		}
		return val, nil
	case "file":
		path := ref
		if !filepath.IsAbs(path) {
			path = filepath.Join(l.Project.Dir, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", strata.Errorf(strata.EINVALID, "deploying to %s needs the secret %s from the file %s (from: %s at %s): %w", env, k.Name, path, k.From, k.Pos, pathError(err))
		}
		val := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if val == "" {
			return "", strata.Errorf(strata.EINVALID, "deploying to %s needs the secret %s from the file %s (from: %s at %s), which is empty", env, k.Name, path, k.From, k.Pos)
		}
		return val, nil
	}
	return "", strata.Errorf(strata.EINVALID, "%s: secret %s has from: %q; want env:NAME or file:PATH", k.Pos, k.Name, k.From)
}

// pathError is err without the path, which the message names already.
func pathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
