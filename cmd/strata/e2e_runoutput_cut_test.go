package main_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// cutEstate's runbook prints one byte, then more two-byte characters than a run keeps: the
// first 256 KiB end inside a character.
const cutEstate = `project: cut
environments:
  dev: {}
services:
  api:
    deploy: "true"
    runbooks:
      spill: "printf x; i=0; while [ $i -lt 1400 ]; do printf 'éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé'; i=$((i+1)); done"
pipeline:
  - stage: dev
    environments: [dev]
`

// A run's output is kept cut on a character's start: PostgreSQL refuses text that ends
// inside one, and the run was left running, its outcome unrecorded.
func TestARunWhoseOutputIsCutInsideACharacterIsRecorded(t *testing.T) {
	for _, store := range []string{"SQLite", "PostgreSQL"} {
		t.Run("on "+store, func(t *testing.T) {
			e := newEstate(t, cutEstate)
			if store == "PostgreSQL" {
				_, url := pgSchema(t)
				e.env = append(e.env, "STRATA_STORE="+url)
			}
			e.release("api", "--version", "1")
			e.must(0, "deploy", "api@1", "--env", "dev")
			r := e.must(0, "-o", "json", "run", "api", "spill", "--env", "dev")
			var doc struct {
				State, Output string
			}
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
				t.Fatalf("not a run: %v\n%s", err, r)
			}
			if doc.State != "succeeded" || !utf8.ValidString(doc.Output) || !strings.HasSuffix(doc.Output, "é\n… (cut: the first 256 KiB are kept)") {
				t.Errorf("run %s with %d bytes of output ending %q (valid UTF-8: %v); want it succeeded, cut after a whole character",
					doc.State, len(doc.Output), doc.Output[max(len(doc.Output)-60, 0):], utf8.ValidString(doc.Output))
			}
		})
	}
}
