package main_test

import (
	"strings"
	"testing"
)

const cacheEstate = `project: cache
environments:
  dev: {labels: {tier: dev}}
services:
  app:
    deploy: "true"
    config:
      URL: {type: string, default: "http://${env.name}"}
pipeline:
  - stage: dev
    environments: [dev]
`

// A clean check is remembered under the project's digest, so a big estate is not checked in
// full by every command; any change to the files must bring every check back.
func TestARememberedCheckNeverHidesAProblemInAChangedFile(t *testing.T) {
	t.Parallel()
	e := newEstate(t, cacheEstate)
	e.must(0, "release", "app", "--version", "1") // makes .strata
	e.must(0, "env", "list")

	e.write("strata.yaml", strings.Replace(cacheEstate, "${env.name}", "${config.NOPE}", 1))
	for _, args := range [][]string{{"env", "list"}, {"status"}, {"validate"}} {
		r := e.must(2, args...)
		if !strings.Contains(r.stderr, "strata.yaml:8:") || !strings.Contains(r.stderr, "NOPE") {
			t.Errorf("%v after the file changed should name the unknown reference at strata.yaml:8:\n%s", args, r)
		}
	}
}
