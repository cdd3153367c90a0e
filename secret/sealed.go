package secret

import (
	"slices"

	"github.com/strata-dev/strata"
)

// Sealed is some of an environment's secrets as its secrets file holds them: ciphertext,
// encrypted to the environment's recipient. A server hands it to an agent inside the
// environment's network, which opens it with the identity only that host holds (Open): the
// server reads the file but never an identity, so it never sees a value.
type Sealed struct {
	Project     string `json:"project"`
	Environment string `json:"environment"`
	Recipient   string `json:"recipient"`
	// Values maps each key to its ciphertext (an Entry's).
	Values map[string]string `json:"values"`
}

// Seal returns the ciphertext of env's values of keys (those it holds; a key it lacks is
// left out, for the agent to report as unset). It reads the secrets file only, never an
// identity. nil when env has no secrets file or holds none of keys.
func (v *Vault) Seal(env string, keys []string) (*Sealed, error) {
	f, err := v.Read(env)
	if err != nil || f == nil {
		return nil, err
	}
	s := &Sealed{Project: v.Project, Environment: env, Recipient: f.Recipient, Values: map[string]string{}}
	for _, k := range f.Keys() {
		if slices.Contains(keys, k) {
			s.Values[k] = f.Values[k].Ciphertext
		}
	}
	if len(s.Values) == 0 {
		return nil, nil
	}
	return s, nil
}

// Open decrypts s with the identity of its environment in v's key directory (KEYDIR/
// PROJECT/ENV.key, the layout `strata secret keygen` writes), v.Project and the file path
// taken from s. A missing identity, or one that does not match s's recipient, is EINVALID
// naming the environment and the identity's path; no value appears in any error.
func (v *Vault) Open(s *Sealed) (map[string]string, error) {
	if s == nil || len(s.Values) == 0 {
		return map[string]string{}, nil
	}
	o := *v
	o.Project = s.Project
	if err := o.check(s.Environment); err != nil {
		return nil, err
	}
	f := &File{Version: FileVersion, Environment: s.Environment, Recipient: s.Recipient, Values: map[string]*Entry{}}
	for k, c := range s.Values {
		f.Values[k] = &Entry{Ciphertext: c}
	}
	out, err := o.decryptAll(s.Environment, f)
	if err != nil {
		return nil, strata.Errorf(strata.ErrorCode(err), "open the secrets of %s sent with the job: %w", s.Environment, err)
	}
	return out, nil
}
