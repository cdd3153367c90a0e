package secret

import (
	"path/filepath"
	"slices"
	"strings"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/suggest"
)

// KeyCheck is how one secret key of an environment resolved: where it comes from, and, when
// it did not resolve, why (never its value).
type KeyCheck struct {
	Key    string `json:"key"`
	Source string `json:"source"`
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
}

// Check resolves every secret key some service declares, in env, from where it comes from
// (the environment's source for it, its from:, or the environment's age file), one key at a
// time, and says of each whether it resolved. The values are dropped at once.
func (l *Loader) Check(env string) ([]KeyCheck, error) {
	e := l.Project.Environment(env)
	if e == nil {
		return nil, &strata.Error{Code: strata.ENOTFOUND, Message: suggest.Unknown("environment", env, l.Project.EnvironmentNames())}
	}
	stored, from := declared(l.Project.Services)
	var out []KeyCheck
	var fromFile []string
	for _, k := range from {
		c := KeyCheck{Key: k.Name, Source: "from: " + k.From}
		var err error
		if r, ok := e.SecretSource(k.Name); ok {
			c.Source = r.Source
			_, err = l.fromSource(env, k.Name, r)
		} else {
			_, err = l.outside(env, k)
		}
		out = append(out, c.done(err))
	}
	for k := range stored {
		if r, ok := e.SecretSource(k); ok {
			_, err := l.fromSource(env, k, r)
			out = append(out, KeyCheck{Key: k, Source: r.Source}.done(err))
			continue
		}
		fromFile = append(fromFile, k)
	}
	if len(fromFile) > 0 {
		v := &Vault{ProjectDir: l.Project.Dir, Project: l.Project.Name, KeyDir: l.KeyDir}
		source := "age file " + filepath.Join(Dir, env+".age.yaml")
		vals, err := func() (map[string]string, error) {
			if v.KeyDir == "" {
				dir, err := KeyDir()
				if err != nil {
					return nil, err
				}
				v.KeyDir = dir
			}
			return v.Decrypt(env)
		}()
		for _, k := range fromFile {
			c := KeyCheck{Key: k, Source: source}
			switch {
			case err != nil:
				out = append(out, c.done(err))
			case vals[k] == "":
				out = append(out, c.done(strata.Errorf(strata.EINVALID, "not set; run `strata secret set %s %s`", env, k)))
			default:
				out = append(out, c.done(nil))
			}
		}
	}
	slices.SortFunc(out, func(a, b KeyCheck) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

func (c KeyCheck) done(err error) KeyCheck {
	c.OK = err == nil
	if err != nil {
		c.Error = err.Error()
	}
	return c
}
