package layer_test

import (
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
)

// FuzzInterpolation feeds arbitrary text to a config value and to Expand: whatever the text,
// resolution returns a value or an invalid error, never a panic.
func FuzzInterpolation(f *testing.F) {
	for _, s := range []string{"${config.A}", "$${", "${", "${}", "${config.}", "${outputs.db.URL}", "a${env.labels.x}b$",
		"${config.B}${config.C}", "${ release.version }", "$$${config.A}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p := estate{
			defaults: vals("A", "${config.B}", 3, "B", "x", 4, "C", text, 5),
			envs:     []*strata.Environment{env("dev", "", map[string]string{"x": "y"}, vals("T", text, 10))},
			services: []*strata.Service{service("api", key("T", strata.TypeInteger, 30, enum(1, 2))), service("db")},
		}.project(t)
		for _, rt := range []*layer.Runtime{nil, {Version: "1", Outputs: map[string]map[string]string{"db": {"URL": "u"}}, Secrets: map[string]string{"S": "s"}}} {
			r, err := layer.Resolve(p, "api", "dev", rt)
			if err != nil && strata.ErrorCode(err) != strata.EINVALID {
				t.Fatalf("err = %v", err)
			}
			if _, err := layer.Expand(p, r, text, at(1)); err != nil && strata.ErrorCode(err) != strata.EINVALID {
				t.Fatalf("Expand err = %v", err)
			}
		}
		layer.Check(p)
	})
}

// FuzzExpandCommand feeds arbitrary shell text to ExpandCommand: whatever the quoting,
// here-documents or arithmetic, it returns a command or an invalid error, never a panic, and
// the value it interpolates is never in the command's text.
func FuzzExpandCommand(f *testing.F) {
	for _, s := range []string{`echo "${config.V}"`, "cat <<EOF\n${config.V}\nEOF", "cat <<'E'\n${config.V}\nE", "echo '${env.name}'",
		"# it's\n${config.V}", "$((${config.V}))", "((1<<${config.V}))", "cat <<-\"X\" <<Y\n\tX\n${config.V}\nY", "\\${config.V}", "<<${config.V}"} {
		f.Add(s)
	}
	const value = "VALUE-$(touch pwned)-VALUE"
	f.Fuzz(func(t *testing.T, text string) {
		if strings.Contains(text, "VALUE-") {
			return // the check below looks for the value's own text
		}
		p := estate{
			envs:     []*strata.Environment{env("dev", "", map[string]string{"x": value}, vals("V", value, 10))},
			services: []*strata.Service{service("api")},
		}.project(t)
		r, err := layer.Resolve(p, "api", "dev", &layer.Runtime{Version: "1"})
		if err != nil {
			t.Fatal(err)
		}
		cmd, err := layer.ExpandCommand(p, r, text, at(1))
		if err != nil {
			if strata.ErrorCode(err) != strata.EINVALID {
				t.Fatalf("err = %v", err)
			}
			return
		}
		if strings.Contains(cmd.Text, "VALUE-") {
			t.Errorf("the value is in the command's text: %q", cmd.Text)
		}
	})
}
