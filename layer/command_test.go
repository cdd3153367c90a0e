package layer_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
)

// runCommand runs cmd as a step would (/bin/sh -c, its variables added last) in a fresh
// directory and returns what it printed, and whether it made the file "pwned" there.
func runCommand(t *testing.T, cmd layer.Command) (string, bool) {
	t.Helper()
	return runWith(t, "/bin/sh", cmd)
}

// shells are the shells a step's /bin/sh may be: dash on Debian, bash on others.
func shells(t *testing.T) []string {
	out := []string{"/bin/sh"}
	if bash, err := exec.LookPath("bash"); err == nil {
		out = append(out, bash)
	} else {
		t.Log("no bash here: the commands run under /bin/sh only")
	}
	return out
}

// runWith runs cmd with the shell at path, as runCommand does.
func runWith(t *testing.T, shell string, cmd layer.Command) (string, bool) {
	t.Helper()
	dir := t.TempDir()
	sh := exec.Command(shell, "-c", cmd.Text)
	sh.Dir = dir
	sh.Env = append([]string{"PATH=" + os.Getenv("PATH")}, cmd.Env...)
	var out bytes.Buffer
	sh.Stdout, sh.Stderr = &out, &out
	if err := sh.Run(); err != nil {
		t.Fatalf("sh -c %q: %v\n%s", cmd.Text, err, out.String())
	}
	_, err := os.Stat(filepath.Join(dir, "pwned"))
	return out.String(), err == nil
}

// hostile are values that run code when a shell parses them, and values whose bytes a
// shell would change: each must arrive as written, and none may make the file "pwned".
var hostile = []string{
	"$(touch pwned)",
	"`touch pwned`",
	`"; touch pwned; echo "`,
	`'; touch pwned; echo '`,
	"x\ntouch pwned\n",
	"EOF\ntouch pwned\nEOF",
	`$HOME \ * ? [a] ~ {a,b} $PATH $((1+1)) && || ; & | < > # ! %`,
	"  two  spaces, a\ttab and a trailing newline\n",
	`it's "quoted"`,
	"",
}

func TestACommandReceivesEveryValueByteForByteAndRunsNone(t *testing.T) {
	forms := []struct {
		name string
		text string
		// want returns what the command prints for the value v.
		want func(v string) string
	}{
		{"inside double quotes", `printf '%s' "${config.VALUE}"`, same},
		{"inside single quotes", `printf '%s' '${config.VALUE}'`, same},
		{"between other text in double quotes", `printf '%s' "<${config.VALUE}>"`, func(v string) string { return "<" + v + ">" }},
		{"between other text in single quotes", `printf '%s' 'a ${config.VALUE} b'`, func(v string) string { return "a " + v + " b" }},
		{"in a here-document", "cat <<EOF\n${config.VALUE}\nEOF", func(v string) string { return v + "\n" }},
		{"in a here-document with an apostrophe before it", "cat <<-EOF\n\tit's ${config.VALUE}\n\tEOF\nprintf ok",
			func(v string) string { return "it's " + v + "\nok" }},
		{"after a comment with an apostrophe", "# don't break\nprintf '%s' \"${config.VALUE}\"", same},
		{"twice, through one variable", `printf '%s|%s' "${config.VALUE}" '${config.VALUE}'`, func(v string) string { return v + "|" + v }},
		{"inside a command substitution", `printf '%s' "$(printf '%s' "${config.VALUE}")"`,
			func(v string) string { return strings.TrimRight(v, "\n") }},
		{"after a literal $${", `printf '%s' "$${PATH+set}:${config.VALUE}"`, func(v string) string { return "set:" + v }},
	}
	for _, shell := range shells(t) {
		for _, f := range forms {
			for _, v := range hostile {
				t.Run(filepath.Base(shell)+"/"+f.name+"/"+v, func(t *testing.T) {
					p := interpEstate(t, v)
					r, err := layer.Resolve(p, "api", "prod-eu", &layer.Runtime{Version: "1.0"})
					if err != nil {
						t.Fatal(err)
					}
					cmd, err := layer.ExpandCommand(p, r, f.text, at(70))
					if err != nil {
						t.Fatal(err)
					}
					got, pwned := runWith(t, shell, cmd)
					if want := f.want(v); got != want {
						t.Errorf("printed %q, want %q (command %q)", got, want, cmd.Text)
					}
					if pwned {
						t.Errorf("the value ran as code (command %q)", cmd.Text)
					}
					if strings.Contains(cmd.Text, "pwned") {
						t.Errorf("the value is in the command's text: %q", cmd.Text)
					}
				})
			}
		}
	}
}

func TestArithmeticTakesOnlyWholeNumbers(t *testing.T) {
	cases := []struct{ name, text, value, want, err string }{
		{"a number in $((...)) is computed", `echo $(( ${config.VALUE} + 1 ))`, "8080", "8081\n", ""},
		{"a negative number in ((...)) is computed", `if (( ${config.VALUE} < 0 )); then echo neg; fi`, "-3", "neg\n", ""},
		{"an array index that runs a command is refused", `echo $(( ${config.VALUE} ))`, "a[$(touch pwned)]", "",
			"${config.VALUE}: inside $((...)) or ((...)) the shell evaluates a value as arithmetic"},
		{"an expression inside double quotes is refused", `echo "$(( 1 + ${config.VALUE} ))"`, "1+1", "", "must be a whole number"},
		{"an expression in a bash arithmetic command is refused", `(( x = ${config.VALUE} ))`, "a[$(touch pwned)]", "", "must be a whole number"},
		{"a shift in an expression starts no here-document", "echo $((1<<2))\necho '${config.VALUE}'", "x", "4\nx\n", ""},
		{"after the expression a value is text again", `echo $((1+1)) "${config.VALUE}"`, "a[$(touch pwned)]", "2 a[$(touch pwned)]\n", ""},
	}
	for _, shell := range shells(t) {
		for _, c := range cases {
			if strings.Contains(c.text, "((") && !strings.Contains(c.text, "$((") && !strings.HasSuffix(shell, "bash") && c.err == "" {
				continue // ((...)) is bash's
			}
			t.Run(filepath.Base(shell)+"/"+c.name, func(t *testing.T) {
				p := interpEstate(t, c.value)
				r, err := layer.Resolve(p, "api", "prod-eu", &layer.Runtime{Version: "1"})
				if err != nil {
					t.Fatal(err)
				}
				cmd, err := layer.ExpandCommand(p, r, c.text, at(70))
				if c.err != "" {
					if strata.ErrorCode(err) != strata.EINVALID || !strings.Contains(err.Error(), c.err) {
						t.Errorf("err = %v\nwant an invalid error containing %s", err, c.err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				got, pwned := runWith(t, shell, cmd)
				if got != c.want || pwned {
					t.Errorf("printed %q (pwned: %v), want %q and no file (command %q)", got, pwned, c.want, cmd.Text)
				}
			})
		}
	}
}

func same(v string) string { return v }

func TestAnUnquotedValueIsSplitIntoWordsButNeverRun(t *testing.T) {
	for _, v := range hostile {
		t.Run(v, func(t *testing.T) {
			p := interpEstate(t, v)
			r, err := layer.Resolve(p, "api", "prod-eu", nil)
			if err != nil {
				t.Fatal(err)
			}
			cmd, err := layer.ExpandCommand(p, r, `printf '[%s]' ${config.VALUE} x${config.VALUE}`, at(70))
			if err != nil {
				t.Fatal(err)
			}
			// The shell's own reading of an unquoted variable holding v is the reference.
			want, _ := runCommand(t, layer.Command{Text: `printf '[%s]' $V x$V`, Env: []string{"V=" + v}})
			got, pwned := runCommand(t, cmd)
			if got != want {
				t.Errorf("printed %q, want %q, as for an unquoted $V", got, want)
			}
			if pwned {
				t.Errorf("the value ran as code (command %q)", cmd.Text)
			}
		})
	}
}

func TestEveryKindOfReferenceReachesACommandAsData(t *testing.T) {
	const attack = "$(touch pwned)`touch pwned`"
	p := estate{
		envs:     []*strata.Environment{env("dev", "", map[string]string{"team": attack}, vals("VALUE", attack, 10))},
		services: []*strata.Service{service("api"), service("db")},
	}.project(t)
	rt := &layer.Runtime{Version: attack, Outputs: map[string]map[string]string{"db": {"URL": attack}}}
	r, err := layer.Resolve(p, "api", "dev", rt)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, text, want string }{
		{"a label", `printf '%s' "${env.labels.team}"`, attack},
		{"the release version", `printf '%s' "${release.version}"`, attack},
		{"a dependency's output", `printf '%s' "${outputs.db.URL}"`, attack},
		{"a config value", `printf '%s' "${config.VALUE}"`, attack},
		{"the environment and service names", `printf '%s/%s' "${env.name}" ${service.name}`, "dev/api"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd, err := layer.ExpandCommand(p, r, c.text, at(70))
			if err != nil {
				t.Fatal(err)
			}
			got, pwned := runCommand(t, cmd)
			if got != c.want || pwned {
				t.Errorf("printed %q (pwned: %v), want %q and no file (command %q)", got, pwned, c.want, cmd.Text)
			}
		})
	}
	t.Run("a build step's version", func(t *testing.T) {
		cmd, err := layer.ExpandReleaseCommand(p, "api", `printf '%s' "${release.version}"`, at(71), rt)
		if err != nil {
			t.Fatal(err)
		}
		if got, pwned := runCommand(t, cmd); got != attack || pwned {
			t.Errorf("printed %q (pwned: %v), want %q and no file", got, pwned, attack)
		}
	})
}

func TestACommandThatCannotCarryAValueIsAnErrorNamingItsPosition(t *testing.T) {
	cases := []struct{ name, text, value, want string }{
		{"a here-document with a quoted delimiter", "cat <<'EOF'\n${config.VALUE}\nEOF", "x",
			`strata.yaml:70:7: ${config.VALUE}: the shell expands nothing in a here-document whose delimiter is quoted (<<'EOF')`},
		{"an interpolated here-document delimiter", "cat <<${config.VALUE}\nx\n", "x",
			"strata.yaml:70:7: ${config.VALUE}: an interpolation cannot be a here-document's delimiter"},
		{"a value with a NUL byte", `printf '%s' "${config.VALUE}"`, "a\x00b",
			"strata.yaml:70:7: ${config.VALUE} holds a NUL byte, which a process environment cannot carry"},
		{"an unknown reference", `echo "${config.NOPE}"`, "x", `service api has no config key "NOPE"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := interpEstate(t, c.value)
			r, err := layer.Resolve(p, "api", "prod-eu", nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = layer.ExpandCommand(p, r, c.text, at(70))
			if strata.ErrorCode(err) != strata.EINVALID || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v\nwant an invalid error containing %s", err, c.want)
			}
		})
	}
}

func TestCheckFindsACommandThatCannotCarryAValue(t *testing.T) {
	p := interpEstate(t, "x")
	p.Service("api").Deploy = &strata.Step{Run: "cat <<\"EOF\"\n${env.name}\nEOF", Pos: at(80)}
	probs := layer.Check(p)
	want := `strata.yaml:80:7: deploy: ${env.name}: the shell expands nothing in a here-document whose delimiter is quoted`
	if len(probs) == 0 || !strings.HasPrefix(probs[0].Error(), want) {
		t.Errorf("Check = %v\nwant %s", probs, want)
	}
}

func TestAValueLongerThanTheCapIsAnErrorNamingTheKey(t *testing.T) {
	doubling := func(n int) map[string]strata.Value {
		m := vals("K0", strings.Repeat("x", 1024), 10)
		for i := 1; i <= n; i++ {
			prev := "${config.K" + strconv.Itoa(i-1) + "}"
			m["K"+strconv.Itoa(i)] = v(prev+prev, 10+i)
		}
		return m
	}
	cases := []struct {
		name   string
		config map[string]strata.Value
		want   string
	}{
		{"forty keys that each double the one before", doubling(40),
			"strata.yaml:17:7: config K7: the value would be longer than 64 KiB once interpolated"},
		{"one reference repeated past the cap", vals("A", strings.Repeat("y", 40000), 10, "B", "${config.A}-${config.A}", 11),
			"strata.yaml:11:7: config B: the value would be longer than 64 KiB once interpolated"},
		{"a literal value past the cap", vals("A", strings.Repeat("z", layer.MaxValueSize+1), 12),
			"strata.yaml:12:7: config A: the value is 65537 bytes, more than the 64 KiB a value may have"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := estate{envs: []*strata.Environment{env("dev", "", nil, c.config)}, services: []*strata.Service{service("api")}}.project(t)
			_, err := layer.Resolve(p, "api", "dev", nil)
			if strata.ErrorCode(err) != strata.EINVALID {
				t.Fatalf("err = %.300v, want an invalid error", err)
			}
			got := err.Error()
			if !strings.HasPrefix(got, c.want) || strings.Count(got, "64 KiB") != 1 {
				t.Errorf("err = %.300s\nwant exactly one %s", got, c.want)
			}
		})
	}
}

func TestAValueAtTheCapIsAccepted(t *testing.T) {
	half := strings.Repeat("h", layer.MaxValueSize/2)
	p := estate{envs: []*strata.Environment{env("dev", "", nil, vals("A", half, 10, "B", "${config.A}${config.A}", 11))},
		services: []*strata.Service{service("api")}}.project(t)
	r, err := layer.Resolve(p, "api", "dev", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(r.Values["B"].(string)), layer.MaxValueSize; got != want {
		t.Errorf("len(B) = %d, want %d", got, want)
	}
}
