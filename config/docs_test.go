package config

import (
	"os"
	"strings"
	"testing"
)

// TestEveryKeyIsInTheReference checks docs/configuration.md against the keys the loader
// accepts, so that a key added here cannot be left out of the users' reference.
func TestEveryKeyIsInTheReference(t *testing.T) {
	data, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	lists := map[string][]string{
		"top level": topKeys, "environment": envKeys, "policy": policyKeys, "notify": notifyKeys,
		"service": serviceKeys, "step": stepKeys, "observe": observeKeys, "health": healthKeys,
		"config schema": schemaKeys, "stage": stageKeys, "group": groupKeys, "rollback": rollbacks, "config type": keyTypes,
	}
	for where, keys := range lists {
		for _, k := range keys {
			// As `k` itself, or ending or starting a dotted path: `environments.NAME.labels`.
			if !strings.Contains(doc, "`"+k+"`") && !strings.Contains(doc, "."+k+"`") && !strings.Contains(doc, "`"+k+".") {
				t.Errorf("the %s key %q is not in docs/configuration.md (as `%s`)", where, k, k)
			}
		}
	}
}
