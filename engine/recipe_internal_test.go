package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
)

func TestRecipeCommandPointsOnlyLiteralWordsAtTheCopy(t *testing.T) {
	state := filepath.Join(t.TempDir(), "it's state") // a quote in the path must stay quoted
	rel := &strata.Release{Recipe: "sha256:abc"}
	e := &Engine{StateDir: state}
	copyDir := e.recipeDir(rel)
	if err := os.MkdirAll(filepath.Join(copyDir, "deploy"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(copyDir, "deploy", "web.sh"), []byte("true\n"), 0o644)
	quoted := shellQuote(filepath.Join(copyDir, "deploy", "web.sh"))

	cases := []struct {
		name, text, want string
	}{
		{"a script as the first word runs the copy", "./deploy/web.sh --fast", quoted + " --fast"},
		{"a script given to sh runs the copy", "sh ./deploy/web.sh", "sh " + quoted},
		{"a path without ./ is the same file", "deploy/web.sh", quoted},
		{"a value's variable is never rewritten", `./deploy/web.sh "$STRATA_I_1"`, quoted + ` "$STRATA_I_1"`},
		{"a file the recipe does not hold is left alone", "./deploy/other.sh", "./deploy/other.sh"},
		{"a quoted word is left alone", `'./deploy/web.sh'`, `'./deploy/web.sh'`},
		{"a path that climbs out is left alone", "../deploy/web.sh", "../deploy/web.sh"},
		{"white space is kept as written", "a\t./deploy/web.sh\nb", "a\t" + quoted + "\nb"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := e.recipeCommand(rel, c.text); got != c.want {
				t.Errorf("recipeCommand(%q) = %q, want %q", c.text, got, c.want)
			}
		})
	}
	t.Run("a release without a recipe runs the command as written", func(t *testing.T) {
		if got, want := e.recipeCommand(&strata.Release{}, "./deploy/web.sh"), "./deploy/web.sh"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("the quoted path survives the shell", func(t *testing.T) {
		if !strings.HasPrefix(quoted, "'") || !strings.Contains(quoted, `'\''`) {
			t.Errorf("quoted path %s does not escape its quote", quoted)
		}
	})
}

func TestKeptValuesKeepTheirType(t *testing.T) {
	cases := []struct {
		name        string
		kept, today any
		want        any
	}{
		{"a JSON number read back for an integer key is an integer", float64(2), int64(8), int64(2)},
		{"a fraction for a number key stays a float", 1.5, 2.5, 1.5},
		{"a whole number for a key gone today is an integer", float64(3), nil, int64(3)},
		{"a string stays a string", "hello", "bonjour", "hello"},
		{"a boolean stays a boolean", true, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := keptValue(c.kept, c.today); got != c.want {
				t.Errorf("keptValue(%#v, %#v) = %#v, want %#v", c.kept, c.today, got, c.want)
			}
		})
	}
}
