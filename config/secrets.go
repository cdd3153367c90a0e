package config

import (
	"maps"
	"slices"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/suggest"
	"github.com/strata-dev/strata/secret"
	"go.yaml.in/yaml/v3"
)

// decodeSecretSources reads an environment's `secrets:`, a map of secret keys to the sources
// that hold them there (secret.ParseSource checks each reference's syntax).
func (l *loader) decodeSecretSources(src *source, n *yaml.Node, where string) map[string]strata.SecretRef {
	out := map[string]strata.SecretRef{}
	pairs, _ := l.mapping(src, n, where, "{DB_PASSWORD: \"vault:secret/prod-eu/db#password\"}")
	for _, p := range pairs {
		v, ok := l.scalar(src, p.v, "secret source of "+p.key, secret.SourceSyntax)
		if !ok {
			continue
		}
		at := src.pos(l.deref(src, p.v))
		if _, err := secret.ParseSource(v); err != nil {
			l.errorf(at, "secret source of %s: %v", p.key, err)
			continue
		}
		out[p.key] = strata.SecretRef{Source: v, Pos: at}
	}
	return out
}

// checkSecretSources checks that every key an environment names a source for is a secret
// some service declares (`secret: true`): a source for anything else would never be read.
func (l *loader) checkSecretSources() {
	secrets := map[string]bool{}
	for _, svc := range l.p.Services {
		for _, k := range svc.Schema {
			if k.Secret {
				secrets[k.Name] = true
			}
		}
	}
	known := slices.Sorted(maps.Keys(secrets))
	for _, env := range l.p.Environments {
		if len(env.OwnSecrets) == 0 {
			continue // most environments name no secret source: no sorted copy of nothing each
		}
		for _, key := range slices.Sorted(maps.Keys(env.OwnSecrets)) {
			if !secrets[key] {
				l.errorf(env.OwnSecrets[key].Pos, "secrets of environment %q: %s", env.Name, suggest.Unknown("secret key", key, known))
			}
		}
	}
}
