package examples_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/strata-dev/strata/config"
	"github.com/strata-dev/strata/layer"
)

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// TestConfigurationReferenceExamples keeps docs/configuration.md honest: every YAML example
// parses, and the estate it opens with validates as it stands.
func TestConfigurationReferenceExamples(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "configuration.md"))
	if err != nil {
		t.Skipf("no reference to check: %v", err)
	}
	blocks := yamlBlock.FindAllSubmatch(doc, -1)
	if len(blocks) == 0 {
		t.Fatal("docs/configuration.md has no yaml examples")
	}
	t.Run("every example is well-formed YAML", func(t *testing.T) {
		for i, b := range blocks {
			var v any
			if err := yaml.Unmarshal(b[1], &v); err != nil {
				t.Errorf("example %d: %v\n%s", i+1, err, b[1])
			}
		}
	})
	t.Run("the opening example is a valid estate", func(t *testing.T) {
		dir := t.TempDir()
		p, probs, err := config.Parse(filepath.Join(dir, config.FileName), blocks[0][1], dir)
		for _, pr := range probs {
			t.Errorf("%v", pr)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, pr := range layer.Check(p) {
			t.Errorf("%v", pr)
		}
	})
}
