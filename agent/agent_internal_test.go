package agent

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	strhttp "github.com/strata-dev/strata/http"
)

// TestWhatAnAgentWaitsOutAndWhatEndsIt: a server out of reach is waited out; a refusal that
// asking again cannot change (a token for another pool, an older protocol) ends the agent.
func TestWhatAnAgentWaitsOutAndWhatEndsIt(t *testing.T) {
	// A port nothing listens on: the client's real "no answer".
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := strhttp.NewClient("http://"+addr, "strata_x")
	if err != nil {
		t.Fatal(err)
	}
	_, unreachable := c.Claim(context.Background(), strhttp.ClaimRequest{Name: "a", Pool: "p"})
	if unreachable == nil {
		t.Fatal("a claim to a closed port succeeded")
	}
	cases := []struct {
		name  string
		err   error
		final bool
	}{
		{"a server out of reach is waited out", unreachable, false},
		{"a token that does not cover the pool ends it", strata.Errorf(strata.EUNAUTHORIZED, "does not cover any environment of pool p"), true},
		{"an older protocol ends it", strata.Errorf(strata.EINVALID, "agent a speaks agent protocol 0"), true},
		{"a wrapped refusal ends it", fmt.Errorf("register agent a: %w", strata.Errorf(strata.EUNAUTHORIZED, "no")), true},
		{"a server error is waited out", strata.Errorf(strata.EINTERNAL, "internal error"), false},
		{"a conflict is waited out", strata.Errorf(strata.ECONFLICT, "taken"), false},
		{"no error is not final", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := final(tc.err); got != tc.final {
				t.Errorf("final(%v) = %v, want %v", tc.err, got, tc.final)
			}
		})
	}
}

func TestAnAgentRunsTheJobKindsItKnowsAndRefusesOthers(t *testing.T) {
	a := &Agent{cfg: Config{Name: "eu-1", Version: "1.2.3"}}
	cases := []struct {
		name, kind string
		refused    bool
	}{
		{"a deployment is run", "deploy", false},
		{"a promotion's deployment is run", "promotion", false},
		{"a rollback is run", "rollback", false},
		{"a runbook run is run", "run", false},
		{"a destroy step is run", "destroy", false},
		{"an observe step is run", "observe", false},
		{"a health check run again is run", "health", false},
		{"a kind it does not know is refused, not run as a deployment", "destroy-everything", true},
		{"a job with no kind is refused", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			why := a.refuseKind(tc.kind)
			if (why != "") != tc.refused {
				t.Fatalf("refuseKind(%q) = %q, want refused %v", tc.kind, why, tc.refused)
			}
			if tc.refused && !strings.Contains(why, fmt.Sprintf("kind %q", tc.kind)) {
				t.Errorf("the refusal %q does not name the kind", why)
			}
		})
	}
}

func TestAnAgentAsksAnOlderServerOnlyWhatItKnows(t *testing.T) {
	// The refusals are those of the servers that came before each field (http/api.go's
	// decode, and claimKinds of a server that knew deploy and run, then destroy too).
	cases := []struct {
		name      string
		err       error
		gaveUp    bool
		next      bool
		kinds     []string
		sendHeard bool
	}{
		{"a server that does not know next makes it report alone",
			strata.Errorf(strata.EINVALID, `unknown field "next"; known fields: name, pool, deployment, fence, state, health, outputs, error`),
			true, false, claimKinds, true},
		{"a server that knows next but not kinds makes it claim deployments only",
			strata.Errorf(strata.EINVALID, `unknown field "kinds"; known fields: name, pool, deployment, fence, state, health, outputs, error, next, wait_seconds`),
			true, true, nil, true},
		{"a server that knows deploy and run only makes it claim those",
			strata.Errorf(strata.EINVALID, `claim: job kind "destroy" is not one this server hands out; name "deploy" or "run"`),
			true, true, []string{"deploy", "run", "observe", "health"}, true},
		{"a server that does not know heard makes it say nothing of what it heard",
			strata.Errorf(strata.EINVALID, `unknown field "heard"; known fields: name, pool, wait_seconds, kinds`),
			true, true, claimKinds, false},
		{"another refusal changes nothing", strata.Errorf(strata.EINVALID, "agent a speaks agent protocol 0"), false, true, claimKinds, true},
		{"a conflict changes nothing", strata.Errorf(strata.ECONFLICT, `unknown field "next"`), false, true, claimKinds, true},
		{"a field it never sends changes nothing", strata.Errorf(strata.EINVALID, `unknown field "name"`), false, true, claimKinds, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newAsks()
			a.next, a.unheard, a.heard = true, true, time.Date(2031, 1, 1, 12, 0, 0, 0, time.UTC)
			if got := a.older(tc.err) != ""; got != tc.gaveUp {
				t.Errorf("gave up something: %v, want %v", got, tc.gaveUp)
			}
			next, kinds := a.reportNext()
			c := a.claim("eu-1", "eu", time.Second)
			if next != tc.next || !slices.Equal(kinds, tc.kinds) || !slices.Equal(c.Kinds, tc.kinds) {
				t.Errorf("next %v, kinds %v, claim's kinds %v; want next %v, kinds %v", next, kinds, c.Kinds, tc.next, tc.kinds)
			}
			if sent := !c.Heard.IsZero(); sent != tc.sendHeard {
				t.Errorf("the claim's heard %v sent: %v, want %v", c.Heard, sent, tc.sendHeard)
			}
			if again := a.older(tc.err); again != "" {
				t.Errorf("the same refusal again gave up %q: the agent must not ask again and again", again)
			}
		})
	}
}

func TestAnAgentSendsARunsOutputWhileItRunsUntilAServerRefusesIt(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"a server that takes a run's output with its report only makes it send it then",
			strata.Errorf(strata.EINVALID, "the output of run t-01HZX3 comes with its report (output), not as logs"), false},
		{"another refusal changes nothing", strata.Errorf(strata.EINVALID, "name the agent, the claimed run and the claim's fence"), true},
		{"a conflict changes nothing", strata.Errorf(strata.ECONFLICT, "t-01HZX3 is no longer claimed by eu-1 with fence 1"), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newAsks()
			if !a.runOutput() {
				t.Fatal("a new agent does not send a run's output while it runs")
			}
			a.older(tc.err)
			if got := a.runOutput(); got != tc.want {
				t.Errorf("sends a run's output while it runs: %v, want %v", got, tc.want)
			}
			if again := a.older(tc.err); again != "" {
				t.Errorf("the same refusal again gave up %q", again)
			}
		})
	}
}
