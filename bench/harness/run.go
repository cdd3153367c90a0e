package harness

import (
	"fmt"
	"time"
)

// Strata returns bin when one was given, or else builds cmd/strata into work.
func Strata(bin, work string) (string, error) {
	if bin != "" {
		return bin, nil
	}
	return BuildStrata(work)
}

// Promote times `strata promote noop@version --to all --parallel p` in dir and checks that
// its output lists n succeeded deployments.
func Promote(bin, dir, version string, p, n int) (Sample, error) {
	s, out, err := Timed(dir, nil, bin, "promote", "noop@"+version, "--to", "all", "--parallel", fmt.Sprint(p))
	if err != nil {
		return s, err
	}
	return s, CheckSucceeded(out, n)
}

// InTurn runs a and b, a first on even runs and b first on odd ones, so that neither
// always meets the machine as the other left it.
func InTurn(i int, a, b func() (Sample, error)) (sa, sb Sample, err error) {
	if i%2 == 0 {
		if sa, err = a(); err == nil {
			sb, err = b()
		}
		return sa, sb, err
	}
	if sb, err = b(); err == nil {
		sa, err = a()
	}
	return sa, sb, err
}

// PerEnv is d shared among n environments, to the microsecond.
func PerEnv(d time.Duration, n int) time.Duration {
	return (d / time.Duration(n)).Round(time.Microsecond)
}
