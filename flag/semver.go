package flag

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// Semver is a semantic version: MAJOR.MINOR.PATCH with an optional pre-release ("-rc.1")
// and build ("+abc", ignored in comparisons). A leading "v" is allowed, as tags have it.
type Semver struct {
	Major, Minor, Patch uint64
	Pre                 []string
}

// ParseSemver reads a semantic version, saying what would be right when s is not one.
func ParseSemver(s string) (Semver, error) {
	bad := func(why string) (Semver, error) {
		return Semver{}, fmt.Errorf("%q is not a semantic version (%s); write MAJOR.MINOR.PATCH such as 1.4.0 or 2.0.0-rc.1", s, why)
	}
	t := strings.TrimPrefix(s, "v")
	t, _, _ = strings.Cut(t, "+")
	core, pre, hasPre := strings.Cut(t, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return bad("it needs three numbers separated by dots")
	}
	var v Semver
	for i, p := range parts {
		if p == "" || (len(p) > 1 && p[0] == '0') {
			return bad("a part is empty or has a leading zero")
		}
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return bad("a part is not a whole number")
		}
		*[]*uint64{&v.Major, &v.Minor, &v.Patch}[i] = n
	}
	if hasPre {
		if pre == "" {
			return bad("the pre-release after '-' is empty")
		}
		for id := range strings.SplitSeq(pre, ".") {
			if id == "" || strings.Trim(id, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-") != "" {
				return bad("the pre-release holds an empty part or a character other than letters, digits and '-'")
			}
			v.Pre = append(v.Pre, id)
		}
	}
	return v, nil
}

// Compare orders a and b as semver.org does: by the numbers, then a version with a
// pre-release before the same one without, pre-release identifiers compared numerically
// when both are numbers.
func (a Semver) Compare(b Semver) int {
	if c := cmp.Compare(a.Major, b.Major); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Minor, b.Minor); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Patch, b.Patch); c != 0 {
		return c
	}
	switch {
	case len(a.Pre) == 0 && len(b.Pre) == 0:
		return 0
	case len(a.Pre) == 0:
		return 1
	case len(b.Pre) == 0:
		return -1
	}
	for i := 0; i < len(a.Pre) && i < len(b.Pre); i++ {
		x, y := a.Pre[i], b.Pre[i]
		nx, ex := strconv.ParseUint(x, 10, 64)
		ny, ey := strconv.ParseUint(y, 10, 64)
		var c int
		switch {
		case ex == nil && ey == nil:
			c = cmp.Compare(nx, ny)
		case ex == nil:
			c = -1
		case ey == nil:
			c = 1
		default:
			c = strings.Compare(x, y)
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a.Pre), len(b.Pre))
}

// ParseRequirement reads a `requires` constraint: ">=VERSION" (the only one, since a
// feature lands in a version and stays in later ones).
func ParseRequirement(s string) (Semver, error) {
	v, ok := strings.CutPrefix(strings.TrimSpace(s), ">=")
	if !ok {
		return Semver{}, fmt.Errorf("requirement %q should be \">=VERSION\", such as \">=1.4.0\"", s)
	}
	return ParseSemver(strings.TrimSpace(v))
}
