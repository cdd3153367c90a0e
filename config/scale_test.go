package config_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/strata-dev/strata/config"
)

// estateOf writes an estate of n environments, each extending the one before it in groups
// of ten, with a service that overrides every one of them.
func estateOf(n int) []byte {
	var b strings.Builder
	b.WriteString("project: big\nenvironments:\n")
	for i := range n {
		fmt.Fprintf(&b, "  env-%d:\n    labels: {tier: prod, shard: s%d}\n    config: {SHARD: %d}\n", i, i%7, i)
		if i%10 != 0 {
			fmt.Fprintf(&b, "    extends: env-%d\n", i-1)
		}
	}
	b.WriteString("services:\n  api:\n    deploy: ./deploy.sh ${env.name}\n    config:\n      SHARD: {type: integer}\n    overrides:\n")
	for i := range n {
		fmt.Fprintf(&b, "      env-%d: {SHARD: %d}\n", i, i)
	}
	b.WriteString("pipeline:\n  - stage: first\n    environments: [env-0, env-1]\n  - stage: prod\n    environments: {tier: prod}\n    waves: 10\n")
	return []byte(b.String())
}

// TestAThousandEnvironmentsLoadWithTheirChainsAndStages proves that a large estate loads
// whole. How fast it loads is BenchmarkParse1000Environments' business: a wall-clock limit in
// a test fails on a busy machine and proves nothing about the code.
func TestAThousandEnvironmentsLoadWithTheirChainsAndStages(t *testing.T) {
	data := estateOf(1000)
	p, probs, err := config.Parse("strata.yaml", data, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Environments) != 1000 || len(p.Stage("prod").Environments) != 1000 || len(probs) != 0 {
		t.Fatalf("got %d environments, %d in prod, problems %v", len(p.Environments), len(p.Stage("prod").Environments), probs)
	}
	if got := len(p.Environment("env-999").Chain); got != 10 {
		t.Errorf("env-999 has a chain of %d, want 10", got)
	}
}

// BenchmarkParse1000Environments measures loading a large estate (go test -bench
// Parse1000 ./config); it replaced the 2s limit the test above once asserted.
func BenchmarkParse1000Environments(b *testing.B) {
	data := estateOf(1000)
	dir := b.TempDir()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := config.Parse("strata.yaml", data, dir); err != nil {
			b.Fatal(err)
		}
	}
}
