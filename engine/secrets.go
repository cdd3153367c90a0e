package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/strata-dev/strata/layer"
	"github.com/strata-dev/strata/secret"
)

func secretValues(rs *layer.Resolved) []string {
	var out []string
	for k, isSecret := range rs.Secret {
		if !isSecret {
			continue
		}
		if s, ok := rs.Values[k].(string); ok && s != "" && s != secret.Mask {
			out = append(out, s)
		}
	}
	return out
}

// redactOutputs masks secret values in what a step wrote to $STRATA_OUTPUTS: outputs are
// stored, printed and shown by the API, and a dependent service gets its own secrets from
// its own environment's store, never through another service's outputs.
func redactOutputs(out map[string]string, secrets []string) map[string]string {
	for k, v := range out {
		out[k] = secret.Redact(v, secrets)
	}
	return out
}

// configHash fingerprints the config a deployment used, secrets masked: the fingerprint is
// stored, and a hash over secret values could be guessed offline for a weak secret.
func configHash(rs *layer.Resolved) string {
	b, _ := json.Marshal(rs.Redacted())
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
