package layer

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/strata-dev/strata"
)

// CheckSet checks the values `env create --set KEY=VALUE` gives a short-lived environment of
// p: each KEY must be declared by some service's schema, not as a secret (secrets are set
// with `strata secret set`), and VALUE must fit every schema that declares it (its type and
// enum), as written: a value holding ${...} would be read as a reference, and is refused.
// Every problem is reported at once, naming the flag; all are EINVALID.
func CheckSet(p *strata.Project, set map[string]string) error {
	var probs []string
	for _, k := range slices.Sorted(maps.Keys(set)) {
		v := set[k]
		flag := fmt.Sprintf("--set %s=%s", k, v)
		if err := strata.CheckLine("--set "+k, v); err != nil {
			probs = append(probs, err.Error())
			continue
		}
		if strings.Contains(v, "${") {
			probs = append(probs, fmt.Sprintf("%s: a --set value is taken as written, and ${...} would be read as a reference; give the value itself", flag))
			continue
		}
		declared := false
		for _, s := range p.Services {
			key := s.Key(k)
			if key == nil {
				continue
			}
			declared = true
			where := "service " + s.Name + "'s schema"
			if !key.Pos.IsZero() {
				where += " (" + key.Pos.String() + ")"
			}
			if key.Secret {
				probs = append(probs, fmt.Sprintf("--set %s: %s is a secret in %s; set it with `strata secret set ENV %s`", k, k, where, k))
				continue
			}
			if want := fits(key, v); want != "" {
				probs = append(probs, fmt.Sprintf("%s: %s wants %s", flag, where, want))
			}
		}
		if !declared {
			probs = append(probs, fmt.Sprintf("--set %s: no service's schema declares %s%s", k, k, knownNames(k, schemaKeys(p))))
		}
	}
	if len(probs) > 0 {
		return strata.Errorf(strata.EINVALID, "%s", strings.Join(probs, "\n"))
	}
	return nil
}

// fits says what key wants instead of the text v, or "" when v fits its type and enum.
func fits(key *strata.Key, v string) string {
	fv, want := convert(key.Type, v)
	if want != "" {
		return want
	}
	if len(key.Enum) == 0 {
		return ""
	}
	names := make([]string, 0, len(key.Enum))
	for _, e := range key.Enum {
		ev, _ := convert(key.Type, e)
		if same(ev, fv) {
			return ""
		}
		names = append(names, format(e))
	}
	return "one of " + strings.Join(names, ", ")
}

// schemaKeys lists every key a service's schema declares, once, sorted.
func schemaKeys(p *strata.Project) []string {
	seen := map[string]bool{}
	for _, s := range p.Services {
		for _, k := range s.Schema {
			seen[k.Name] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}
