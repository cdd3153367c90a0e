// Package secret keeps per-environment secrets encrypted with age, and redacts their values
// from everything Strata writes.
//
// Each environment has its own age X25519 key pair. The private identity lives outside the
// repository, in a key directory (KeyDir: $STRATA_KEYS, else $XDG_CONFIG_HOME/strata/keys,
// else ~/.config/strata/keys), as PROJECT/ENV.key, mode 0600 in a 0700 directory. The
// encrypted values live in the project, one file per environment, secrets/ENV.age.yaml, which
// is safe to commit:
//
//	# Strata secrets of environment prod-eu, encrypted with age to the recipient below.
//	version: 1
//	environment: prod-eu
//	recipient: age1...
//	values:
//	  DATABASE_PASSWORD:
//	    ciphertext: YWdlLWVuY3J5cHRpb24ub3JnL3Yx...   # base64 of one age file
//	    set_at: 2026-11-23T19:30:00Z
//	    set_by: alice
//
// Only the recipient (public) is needed to set a value; the identity is read only to
// decrypt, which happens only when deploying to that environment (Loader) or rotating its
// key. A Vault writes every file atomically (a temporary file renamed over the old one) and
// holds a lock on the secrets directory while it changes a file, so concurrent changes do not
// lose each other.
package secret
