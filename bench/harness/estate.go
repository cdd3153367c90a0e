package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Estate returns a strata.yaml with envs environments env-000, env-001, ... labelled
// {tier: bench}, one service noop whose deploy step is `true` (no build, no health), and one
// manual stage "all" selecting every environment, waves at a time (0: all at once).
func Estate(envs, waves int) []byte { return EstateOn(envs, waves, "") }

// EstateOn is Estate with every environment's steps run by the agents of pool (runs_on;
// "": here).
func EstateOn(envs, waves int, pool string) []byte {
	var b strings.Builder
	b.WriteString("project: bench\nenvironments:\n")
	for i := range envs {
		fmt.Fprintf(&b, "  env-%03d:\n    labels: {tier: bench}\n", i)
		if pool != "" {
			fmt.Fprintf(&b, "    runs_on: %s\n", pool)
		}
	}
	b.WriteString("services:\n  noop:\n    deploy: \"true\"\n")
	b.WriteString("pipeline:\n  - stage: all\n    environments: {tier: bench}\n    auto: false\n")
	if waves > 0 {
		fmt.Fprintf(&b, "    waves: %d\n", waves)
	}
	return []byte(b.String())
}

// WriteEstate writes Estate(envs, waves) as dir/strata.yaml, making dir.
func WriteEstate(dir string, envs, waves int) error { return WriteEstateOn(dir, envs, waves, "") }

// WriteEstateOn writes EstateOn(envs, waves, pool) as dir/strata.yaml, making dir.
func WriteEstateOn(dir string, envs, waves int, pool string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write estate: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "strata.yaml"), EstateOn(envs, waves, pool), 0o644); err != nil {
		return fmt.Errorf("write estate: %w", err)
	}
	return nil
}
