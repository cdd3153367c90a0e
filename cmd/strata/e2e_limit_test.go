package main_test

import (
	"strings"
	"testing"
)

// TestAListSaysItStoppedAtItsLimitOnlyWhenMoreFollow: `history` and `audit` stop at --limit
// and say so on stderr only when the list goes on; a page exactly as long as the list, or
// --limit 0, says nothing. The same through a server.
func TestAListSaysItStoppedAtItsLimitOnlyWhenMoreFollow(t *testing.T) {
	e := newEstate(t, "project: lim\nenvironments:\n  dev: {}\nservices:\n  web: {deploy: \"true\"}\n")
	for _, v := range []string{"1", "2", "3"} {
		e.must(0, "release", "web", "--version", v)
		e.must(0, "deploy", "web@"+v, "--env", "dev")
	}
	url := serve(t, e)
	admin := createToken(t, e, "ops", "--role", "admin")
	where := map[string][]string{"here": nil, "through a server": {"--server", url, "--token", admin.Token}}
	for name, remote := range where {
		t.Run(name, func(t *testing.T) {
			for _, c := range []struct {
				args []string
				note bool
			}{
				{[]string{"history", "--limit", "2"}, true},
				{[]string{"history", "--limit", "3"}, false},
				{[]string{"history", "--limit", "0"}, false},
				{[]string{"audit", "--limit", "1"}, true},
				{[]string{"audit", "--limit", "0"}, false},
			} {
				r := e.must(0, append(append([]string{}, remote...), c.args...)...)
				if got := strings.Contains(r.stderr, "showing the newest"); got != c.note {
					t.Errorf("%v: the limit note shown %v, want %v:\n%s", c.args, got, c.note, r)
				}
			}
		})
	}
}
