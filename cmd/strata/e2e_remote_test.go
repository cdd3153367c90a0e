package main_test

// End-to-end tests of remote mode (issue 6): the same commands run on one copy of an estate
// here and, through --server/--token, on a `strata serve` of another copy must print the
// same documents and text and end with the same exit statuses.

import (
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// twins are two copies of one estate: local runs commands here, remote runs them on a
// server started on its own copy, as the token of the same principal.
type twins struct {
	t             *testing.T
	local, remote *estate
	url           string
	tokens        map[string]string
}

// newTwins writes yaml twice, makes the same tokens in both stores (so the audit logs match)
// and serves the remote copy on a free port.
func newTwins(t *testing.T, yaml string) *twins {
	tw := &twins{t: t, local: newEstate(t, yaml), remote: newEstate(t, yaml), tokens: map[string]string{}}
	for _, tok := range [][]string{
		{"ann", "--role", "admin"}, {"bob", "--role", "approver"}, {"devview", "--role", "viewer", "--envs", "name=dev"},
	} {
		createToken(t, tw.local, tok...)
		tw.tokens[tok[0]] = createToken(t, tw.remote, tok...).Token
	}
	srv := tw.remote.start("serve", "--listen", "127.0.0.1:0", "--tick", "1h")
	addr := regexp.MustCompile(`on http://(127\.0\.0\.1:\d+)`)
	waitFor(t, 30*time.Second, "the server to listen", func() bool {
		b, _ := os.ReadFile(srv.stderr)
		if m := addr.FindSubmatch(b); m != nil {
			tw.url = "http://" + string(m[1])
			return true
		}
		if srv.ended() {
			t.Fatalf("strata serve ended:\n%s", b)
		}
		return false
	})
	return tw
}

// as returns the estates that run commands as principal who: locally STRATA_ACTOR, remotely
// who's token.
func (tw *twins) as(t *testing.T, who string) (local, remote *estate) {
	local, remote = tw.local.with(t), tw.remote.with(t)
	local.env = append(slices.Clone(local.env), "STRATA_ACTOR="+who)
	remote.env = append(slices.Clone(remote.env), "STRATA_SERVER="+tw.url, "STRATA_TOKEN="+tw.tokens[who])
	return local, remote
}

// same runs args on both sides as who and fails t unless the exit statuses, the normalised
// stdout and (on failure) the normalised error line match. It returns both results.
func (tw *twins) same(t *testing.T, who string, args ...string) (l, r result) {
	t.Helper()
	return tw.samePair(t, who, args, args)
}

// samePair is same with other arguments for each side (ids differ between the copies).
func (tw *twins) samePair(t *testing.T, who string, largs, rargs []string) (l, r result) {
	t.Helper()
	le, re := tw.as(t, who)
	l, r = le.run(largs...), re.run(rargs...)
	if l.code != r.code {
		t.Fatalf("exit %d locally, %d remotely\nlocal: %s\nremote: %s", l.code, r.code, l, r)
	}
	if a, b := tw.normal(l.stdout), tw.normal(r.stdout); a != b {
		t.Errorf("stdout differs\n--- local\n%s\n--- remote\n%s", a, b)
	}
	if l.code != 0 {
		if a, b := tw.normal(errorLine(l.stderr)), tw.normal(errorLine(r.stderr)); a != b {
			t.Errorf("error differs\n--- local\n%s\n--- remote\n%s", a, b)
		}
	}
	return l, r
}

// needRoute skips t when the server has no route yet for probe, a command that changes
// nothing (the server says "no API route"), rather than failing the comparison.
func (tw *twins) needRoute(t *testing.T, probe ...string) {
	t.Helper()
	_, re := tw.as(t, "ann")
	if r := re.run(probe...); strings.Contains(r.stderr, "no API route") {
		t.Skipf("the server has no route for %q yet: %s", strings.Join(probe, " "), errorLine(r.stderr))
	}
}

// errorLine is the "strata: ..." line a failed command ends with.
func errorLine(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "strata: ") {
			return strings.Join(lines[i:], "\n")
		}
	}
	return ""
}

var normalisers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\b[dprt]-[0-9a-f]{10}\b`), "ID"},
	{regexp.MustCompile(`sha256:[0-9a-f]{64}`), "DIGEST"},
	{regexp.MustCompile(`\b[0-9a-f]{64}\b`), "HASH"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`), "TIME"},
	{regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|ms|s|m|h)\b`), "AGE"},
	{regexp.MustCompile(`[ \t]+`), " "},
}

// normal replaces what differs between the copies (paths, ids, digests, times, ages and
// the column widths they make) with placeholders.
func (tw *twins) normal(s string) string {
	for _, e := range []*estate{tw.local, tw.remote} {
		s = strings.ReplaceAll(s, e.scratch, "SCRATCH")
		s = strings.ReplaceAll(s, e.dir, "DIR")
	}
	for _, n := range normalisers {
		s = n.re.ReplaceAllString(s, n.with)
	}
	return s
}

func TestEveryCommandPrintsTheSameOnAServerAsLocally(t *testing.T) {
	t.Parallel()
	tw := newTwins(t, govEstate)
	run := func(name, who string, args ...string) {
		t.Run(name, func(t *testing.T) {
			tw.same(t, who, args...)
			tw.same(t, who, append([]string{"-o", "json"}, args...)...)
		})
	}
	t.Run("validate", func(t *testing.T) {
		tw.needRoute(t, "validate")
		tw.same(t, "ann", "validate")
		tw.same(t, "ann", "-o", "json", "validate")
	})
	run("env list", "ann", "env", "list")
	run("config with its sources", "ann", "config", "api", "--env", "prod-eu", "--explain")
	run("diff of two environments", "ann", "diff", "dev", "prod-eu")
	run("an unknown service", "ann", "config", "nosuch", "--env", "dev")
	run("release db", "ann", "release", "db", "--version", "1.0")
	run("release api", "ann", "release", "api", "--version", "1.0")
	run("status", "ann", "status")
	run("deploy", "ann", "deploy", "db@1.0", "--env", "dev")
	run("an unknown version", "ann", "deploy", "db@9.9", "--env", "dev")
	run("history", "ann", "history")
	run("history of one environment", "ann", "history", "api", "--env", "staging")
	run("plan", "ann", "plan", "db@1.0", "--to", "prod")
	run("freeze", "ann", "freeze", "prod-eu", "--reason", "audit week")
	run("unfreeze", "ann", "unfreeze", "prod-eu")
	run("unfreeze of an open environment", "ann", "unfreeze", "prod-eu")
	run("drift", "ann", "drift")
	run("resume with nothing to do", "ann", "resume")

	var local, remote promotionDoc
	t.Run("promote waits for an approval (exit 3)", func(t *testing.T) {
		l, r := tw.same(t, "ann", "-o", "json", "promote", "db@1.0", "--to", "prod")
		if l.code != 3 {
			t.Fatalf("want exit 3:\n%s", l)
		}
		jsonDoc(t, l, &local)
		jsonDoc(t, r, &remote)
	})
	t.Run("the requester cannot approve", func(t *testing.T) {
		tw.samePair(t, "ann", []string{"approve", local.ID}, []string{"approve", remote.ID})
	})
	t.Run("another principal's approval runs the promotion", func(t *testing.T) {
		l, _ := tw.samePair(t, "bob", []string{"approve", local.ID}, []string{"approve", remote.ID})
		if l.code != 0 {
			t.Fatalf("approve:\n%s", l)
		}
		if got := tw.remote.versions("db-prod-eu"); got != "1.0" {
			t.Errorf("the server's prod-eu has db %q, want 1.0", got)
		}
	})
	t.Run("logs", func(t *testing.T) {
		lid := tw.local.history("db", "--env", "prod-us")[0].ID
		le, re := tw.as(t, "ann")
		rid := re.history("db", "--env", "prod-us")[0].ID
		_ = le
		tw.samePair(t, "ann", []string{"logs", lid}, []string{"logs", rid})
		tw.samePair(t, "ann", []string{"-o", "json", "logs", lid}, []string{"-o", "json", "logs", rid})
	})
	run("status after the promotion", "ann", "status")
	run("audit", "ann", "audit")
	run("audit --verify", "ann", "audit", "--verify")
	// Last: the server hides the audit events of environments that are gone.
	t.Run("short-lived environments", func(t *testing.T) {
		tw.needRoute(t, "env", "create", "probe", "--like", "nosuch")
		tw.needRoute(t, "env", "destroy", "nosuch")
		tw.same(t, "ann", "env", "create", "pr-1", "--like", "dev", "--label", "owner=ann")
		tw.same(t, "ann", "-o", "json", "env", "create", "pr-2", "--like", "dev", "--ttl", "1h")
		tw.same(t, "ann", "env", "list")
		tw.same(t, "ann", "-o", "json", "status")
		tw.same(t, "ann", "env", "destroy", "pr-1")
		tw.same(t, "ann", "-o", "json", "env", "destroy", "pr-2")
	})
}

func TestRemoteModeRefusals(t *testing.T) {
	t.Parallel()
	tw := newTwins(t, govEstate)
	_, ann := tw.as(t, "ann")
	for _, tc := range []struct {
		name     string
		env      []string
		args     []string
		code     int
		mentions string
	}{
		{"a bad token is exit 4 with the server's message", []string{"STRATA_TOKEN=strata_nosuch"}, []string{"status"}, 4, "token"},
		{"no token is exit 4 and says how to give one", []string{"STRATA_TOKEN="}, []string{"status"}, 4, "STRATA_TOKEN"},
		{"a viewer cannot deploy", []string{"STRATA_TOKEN=" + tw.tokens["devview"]}, []string{"deploy", "db@1.0", "--env", "dev"}, 4, "devview"},
		{"an environment outside the token's selectors is exit 4", []string{"STRATA_TOKEN=" + tw.tokens["devview"]}, []string{"config", "api", "--env", "prod-us"}, 4, "prod-us"},
		{"an approver cannot freeze", []string{"STRATA_TOKEN=" + tw.tokens["bob"]}, []string{"freeze", "dev", "--reason", "x"}, 4, "bob"},
		{"secrets stay where the store is", nil, []string{"secret", "list", "dev"}, 2, "where the project and store are"},
		{"init stays where the project is", nil, []string{"init"}, 2, "where the project and store are"},
		{"--as has no meaning on a server", nil, []string{"--as", "mallory", "status"}, 2, "token's name"},
		{"a server URL without a scheme is bad input", []string{"STRATA_SERVER=127.0.0.1:7480"}, []string{"status"}, 2, "http://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := ann.with(t)
			e.env = append(slices.Clone(e.env), tc.env...)
			r := e.must(tc.code, tc.args...)
			if !strings.Contains(r.stderr, tc.mentions) {
				t.Errorf("stderr should mention %q:\n%s", tc.mentions, r)
			}
			if strings.Contains(r.stderr+r.stdout, tw.tokens["ann"]) {
				t.Errorf("a token was printed:\n%s", r)
			}
		})
	}
	t.Run("an unreachable server is one clear line, exit 2", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + ln.Addr().String()
		ln.Close()
		e := ann.with(t)
		e.env = append(slices.Clone(e.env), "STRATA_SERVER="+url)
		r := e.must(2, "status")
		want := "strata: cannot reach the Strata server at " + url + ": connection refused (is `strata serve` running?)\n"
		if r.stderr != want {
			t.Errorf("stderr %q, want %q", r.stderr, want)
		}
	})
	t.Run("version runs here", func(t *testing.T) {
		ann.with(t).must(0, "version")
	})
}

// slowEstate has one service whose deploy prints a line, waits for the scratch file "go",
// then prints another.
const slowEstate = `project: slow
environments:
  dev: {}
services:
  app:
    deploy: 'echo first line; while [ ! -e "@SCRATCH@/go" ]; do sleep 0.05; done; echo second line'
pipeline:
  - {stage: dev, environments: [dev]}
`

func TestLogsFollowOnAServerPrintsTheStepOutputUntilTheDeploymentEnds(t *testing.T) {
	t.Parallel()
	tw := newTwins(t, slowEstate)
	_, ann := tw.as(t, "ann")
	ann.must(0, "release", "app", "--version", "1.0")
	deploy := ann.start("deploy", "app@1.0", "--env", "dev")
	var id string
	waitFor(t, 30*time.Second, "the deployment to run", func() bool {
		for _, d := range ann.history("app") {
			if d.State == "running" {
				id = d.ID
				return true
			}
		}
		return false
	})
	follow := ann.start("logs", "--follow", id)
	waitFor(t, 30*time.Second, "the first line to be followed", func() bool {
		b, _ := os.ReadFile(follow.stdout)
		return strings.Contains(string(b), "first line")
	})
	if follow.ended() {
		t.Fatal("logs --follow ended while the deployment runs")
	}
	if err := os.WriteFile(tw.remote.path("go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := deploy.wait(t, 30*time.Second); r.code != 0 {
		t.Fatalf("deploy:\n%s", r)
	}
	r := follow.wait(t, 30*time.Second)
	if r.code != 0 || r.stdout != "first line\nsecond line\n" || r.stderr != id+" succeeded\n" {
		t.Errorf("want both lines and the end state:\n%s", r)
	}
}
