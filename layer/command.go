package layer

import (
	"strconv"
	"strings"

	"github.com/strata-dev/strata"
)

// CommandVar prefixes the environment variables that carry interpolated values into a step
// command: STRATA_I_1, STRATA_I_2, and so on, one per distinct reference.
const CommandVar = "STRATA_I_"

// Command is a step command ready for `/bin/sh -c`. Its text refers to each interpolated
// value through a variable of Env instead of holding the value, so that the shell never
// parses a value: a config value, a label or a dependency's output that reads
// "$(rm -rf ~)" or has backticks is data, never code, whoever could set it. This is the
// defence GitHub Actions recommends against the same injection into `run:` scripts.
type Command struct {
	// Text is the command as written, each ${...} replaced by a reference to a variable of
	// Env: "${STRATA_I_1}" where the shell would otherwise read the value unquoted or inside
	// double quotes, and '"${STRATA_I_1}"' inside single quotes. Quoted, a value arrives byte
	// for byte; unquoted, the shell splits it into words (and expands globs), as it does any
	// variable, but never runs it.
	Text string
	// Env holds "STRATA_I_n=value" for every variable Text refers to. Append it after every
	// other variable of the step's environment, so that an inherited variable of the same
	// name does not win.
	Env []string
}

// ExpandCommand interpolates a step command (deploy, destroy, observe, a health command, a
// runbook) against r and the runtime r was resolved with, as Expand does a URL, but keeps
// every value out of the command's text (see Command). A reference the shell could not
// expand where it stands (inside a here-document whose delimiter is quoted) is an EINVALID
// *strata.Error naming pos, as a bad reference is.
func ExpandCommand(p *strata.Project, r *Resolved, text string, pos strata.Pos) (Command, error) {
	if strings.IndexByte(text, '$') < 0 {
		return Command{Text: text}, nil
	}
	c, err := expandCtx(p, r, text, pos)
	if err != nil {
		return Command{}, err
	}
	cmd, ok := c.command(text, pos, label{})
	if !ok {
		return Command{}, render(c.probs).Err()
	}
	return cmd, nil
}

// ExpandReleaseCommand is ExpandCommand for a step that runs once per release, in no
// environment (a build step), as ExpandRelease is Expand.
func ExpandReleaseCommand(p *strata.Project, service, text string, pos strata.Pos, rt *Runtime) (Command, error) {
	if strings.IndexByte(text, '$') < 0 {
		return Command{Text: text}, nil
	}
	c, err := releaseCtx(p, service, text, pos, rt)
	if err != nil {
		return Command{}, err
	}
	cmd, ok := c.command(text, pos, label{})
	if !ok {
		return Command{}, render(c.probs).Err()
	}
	return cmd, nil
}

// command interpolates the step command s, written at pos, into a Command. It returns false
// when s cannot be; the problems are recorded.
func (c *ctx) command(s string, pos strata.Pos, what label) (Command, bool) {
	var (
		lx    shellLexer
		b     strings.Builder
		cmd   Command
		names map[string]string // reference -> variable
	)
	ok := true
	last, i := 0, 0
	for {
		j := strings.IndexByte(s[i:], '$')
		if j < 0 {
			break
		}
		j += i
		if strings.HasPrefix(s[j:], "$${") {
			lit := s[last:j] + "${"
			lx.feed(lit)
			b.WriteString(lit)
			i = j + 3
			last = i
			continue
		}
		if !strings.HasPrefix(s[j:], "${") {
			i = j + 1
			continue
		}
		end := strings.IndexByte(s[j+2:], '}')
		if end < 0 {
			c.fail(pos, "", prefix(what), "${ without a closing } in ", strconv.Quote(s), "; ", refHelp)
			return Command{}, false
		}
		lx.feed(s[last:j])
		b.WriteString(s[last:j])
		ref := strings.TrimSpace(s[j+2 : j+2+end])
		i = j + 3 + end
		last = i
		rv, _, rok := c.ref(ref, pos, what)
		if !rok {
			ok = false
			continue
		}
		name, seen := names[ref]
		if !seen {
			name = CommandVar + strconv.Itoa(len(names)+1)
			val := rv.text()
			switch {
			case len(val) > MaxValueSize:
				c.fail(pos, "", prefix(what), "${", ref, "} is ", strconv.Itoa(len(val)),
					" bytes, more than the ", strconv.Itoa(MaxValueSize>>10), " KiB a value may have; shorten it")
				ok = false
				continue
			case strings.IndexByte(val, 0) >= 0:
				c.fail(pos, "", prefix(what), "${", ref, "} holds a NUL byte, which a process environment cannot carry; remove it")
				ok = false
				continue
			}
			if names == nil {
				names = map[string]string{}
			}
			names[ref] = name
			cmd.Env = append(cmd.Env, name+"="+val)
		}
		text, why, arith := lx.reference(name)
		if why == "" && arith && c.rt != nil && !isInteger(rv.text()) {
			// Checked once values are known (at deploy time): at config time a value may
			// still be a placeholder.
			why = "inside $((...)) or ((...)) the shell evaluates a value as arithmetic (and bash runs commands in it), so it must be a whole number, and this one is not; compute outside the expression, or check the value first"
		}
		if why != "" {
			c.fail(pos, "", prefix(what), "${", ref, "}: ", why)
			ok = false
			continue
		}
		b.WriteString(text)
	}
	if !ok {
		return Command{}, false
	}
	b.WriteString(s[last:])
	cmd.Text = b.String()
	return cmd, true
}

// isInteger reports whether s is a whole number in decimal, optionally signed: all that an
// interpolation inside shell arithmetic may be.
func isInteger(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	if s == "" || len(s) > 19 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
