package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/strata-dev/strata"
)

// interp is a string whose ${...} references are checked once every service is known.
type interp struct {
	s    string
	at   strata.Pos
	what string
	// owner is the service whose value s is (a step, its health check, a schema default,
	// an override), or "" for a value every service may read (defaults, an environment's).
	owner string
	build bool // s is the service's build step, which runs in no environment
}

// addInterp keeps it for checkRefs, as a value of the service being decoded, if any.
func (l *loader) addInterp(it interp) {
	it.owner = l.owner
	l.strs = append(l.strs, it)
}

const refForms = "${env.name}, ${env.labels.KEY}, ${service.name}, ${release.version}, ${config.KEY} or ${outputs.SERVICE.KEY}"

// References returns the expressions inside every ${...} of s, in order ("config.PORT" for
// "${config.PORT}"); "$${" is a literal "${" and starts no reference. It fails on an
// unterminated "${".
func References(s string) ([]string, error) {
	var out []string
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			continue
		}
		if strings.HasPrefix(s[i:], "$${") {
			i += 2
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return out, fmt.Errorf("unterminated \"${\" in %q; close it with \"}\", or write \"$${\" for a literal \"${\"", s)
		}
		out = append(out, s[i+2:i+2+end])
		i += 2 + end
	}
	return out, nil
}

// checkRefs checks that every ${...} of s has one of the shapes Strata interpolates.
func (l *loader) checkRefs(it interp) {
	refs, err := References(it.s)
	if err != nil {
		l.errorf(it.at, "%s: %v", it.what, err)
	}
	for _, ref := range refs {
		msg := l.badRef(ref)
		if msg == "" {
			msg = l.unreadableOutput(it, ref)
		}
		if msg != "" {
			l.errorf(it.at, "%s: %s", it.what, msg)
		}
	}
}

// unreadableOutput says why a well-formed ${outputs.SERVICE.KEY} in one service's value can
// never resolve, or "": outputs come from the service's own dependencies (depends_on), which
// are deployed to the environment first; a build runs in no environment.
func (l *loader) unreadableOutput(it interp, ref string) string {
	parts := strings.Split(ref, ".")
	owner := l.svcs[it.owner]
	if parts[0] != "outputs" || owner == nil {
		return ""
	}
	dep := parts[1]
	switch {
	case it.build:
		return fmt.Sprintf("${%s}: a build runs once, in no environment, so it has no outputs to read; read them in the deploy step or the config", ref)
	case dep == owner.Name:
		return fmt.Sprintf("${%s}: service %q reads its own outputs, which its deploy step writes; outputs come from the services it depends on", ref, owner.Name)
	case !slices.Contains(owner.DependsOn, dep):
		return fmt.Sprintf("${%s}: service %q does not depend on %q, so %q's outputs are not read; add %s to services.%s.depends_on", ref, owner.Name, dep, dep, dep, owner.Name)
	}
	return ""
}

var namespaces = []string{"env", "service", "release", "config", "outputs"}

// badRef returns what is wrong with one reference, or "".
func (l *loader) badRef(ref string) string {
	parts := strings.Split(ref, ".")
	ns := parts[0]
	shellHint := ""
	if len(parts) == 1 && keyRE.MatchString(ref) {
		shellHint = fmt.Sprintf(" (for the shell's variable write $${%s})", ref)
	}
	switch ns {
	case "env":
		if label, ok := strings.CutPrefix(ref, "env.labels."); ref == "env.name" || (ok && labelKeyRE.MatchString(label)) {
			return ""
		}
		return fmt.Sprintf("${%s} is not a reference; use ${env.name} or ${env.labels.KEY}", ref)
	case "service":
		if ref == "service.name" {
			return ""
		}
		return fmt.Sprintf("${%s} is not a reference; use ${service.name}", ref)
	case "release":
		if ref == "release.version" {
			return ""
		}
		return fmt.Sprintf("${%s} is not a reference; use ${release.version}", ref)
	case "config":
		if len(parts) == 2 && keyRE.MatchString(parts[1]) {
			return ""
		}
		return fmt.Sprintf("${%s} is not a reference; use ${config.KEY} with KEY a config key such as PORT", ref)
	case "outputs":
		if len(parts) != 3 || parts[1] == "" || !keyRE.MatchString(parts[2]) {
			return fmt.Sprintf("${%s} is not a reference; use ${outputs.SERVICE.KEY}", ref)
		}
		if _, ok := l.svcs[parts[1]]; !ok {
			return fmt.Sprintf("${%s} names the unknown service %q%s; outputs come from a service of this project", ref, parts[1], didYouMean(parts[1], l.p.ServiceNames()))
		}
		return ""
	}
	return fmt.Sprintf("${%s} has the unknown namespace %q%s%s; Strata interpolates %s", ref, ns, didYouMean(ns, namespaces), shellHint, refForms)
}
