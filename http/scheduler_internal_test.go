package http

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

// TestTheSchedulerSaysEachFailureOnce: a failure that comes back on every pass is logged
// once; one worth retrying again after the quiet time; and either again when it comes back
// after a pass without it.
func TestTheSchedulerSaysEachFailureOnce(t *testing.T) {
	final := strata.Terminal(strata.Errorf(strata.EFAILED, "the bundle of app@1 is damaged"))
	retry := strata.Errorf(strata.EBLOCKED, "gate bundle: the bundle of api@2 is not in the store")
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	passes := []struct {
		name string
		err  error
		at   time.Duration
		want []string // the lines logged by this pass, as "LEVEL message-fragment"
	}{
		{"the first pass logs both", errors.Join(final, retry), 0, []string{"ERROR damaged", "WARN not in the store"}},
		{"the next pass logs neither", errors.Join(final, retry), 5 * time.Second, nil},
		{"before the quiet time ends nothing again", errors.Join(final, retry), 9 * time.Minute, nil},
		{"after the quiet time the retried one again, the final one not", errors.Join(final, retry), 11 * time.Minute, []string{"WARN not in the store"}},
		{"a pass without the final one forgets it", retry, 12 * time.Minute, nil},
		{"so that it is logged when it comes back", errors.Join(final, retry), 13 * time.Minute, []string{"ERROR damaged"}},
		{"a pass without failures forgets them all", nil, 14 * time.Minute, nil},
		{"and a single failure is logged as it comes", retry, 15 * time.Minute, []string{"WARN not in the store"}},
	}
	var se schedulerErrs
	for _, p := range passes {
		var buf bytes.Buffer
		se.log(slog.New(slog.NewTextHandler(&buf, nil)), p.err, t0.Add(p.at))
		lines := strings.FieldsFunc(buf.String(), func(r rune) bool { return r == '\n' })
		if len(lines) != len(p.want) {
			t.Errorf("%s: logged %d lines, want %d:\n%s", p.name, len(lines), len(p.want), buf.String())
			continue
		}
		for i, w := range p.want {
			level, frag, _ := strings.Cut(w, " ")
			if !strings.Contains(lines[i], "level="+level) || !strings.Contains(lines[i], frag) {
				t.Errorf("%s: line %d = %q, want level %s mentioning %q", p.name, i, lines[i], level, frag)
			}
		}
	}
}
