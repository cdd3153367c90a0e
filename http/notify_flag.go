package http

import (
	"fmt"
	"strings"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/report"
)

// flagChanged announces a runtime flag change made through this server: what (the command,
// "flag kill"), by whom, and the flag as it now is. A change that waits for approvals is
// announced when the approval that applies it is given, not before. Webhooks come from the
// server that made the change, so several servers sharing a store announce it once; a CLI
// working on the store directly announces nothing, as for promotions.
func (s *Server) flagChanged(command, actor string, f *report.FlagEntry) {
	n := s.notify
	if n == nil || len(n.hooks) == 0 || f == nil {
		return
	}
	if f.Request != nil && f.Request.State != strata.FlagApplied {
		return
	}
	what := strings.TrimPrefix(command, "flag ")
	if f.Request != nil {
		what = strings.TrimPrefix(f.Request.Action, "flag.")
	}
	msg := Webhook{Event: EventFlag, Environment: f.Environment, Flag: f.Key, Actor: actor, Value: f.Value, State: what, Detail: f.Reason}
	switch {
	case f.Killed:
		msg.Detail = "killed: " + f.KillReason
		msg.Text = fmt.Sprintf("%s killed flag %s in %s: %s (it gives %s)", actor, f.Key, f.Environment, f.KillReason, showValue(f.Value))
	default:
		msg.Text = fmt.Sprintf("%s: flag %s in %s (%s) now gives %s (%s)", actor, f.Key, f.Environment, what, showValue(f.Value), f.Reason)
	}
	n.announce(msg)
}

func showValue(v any) string {
	s := fmt.Sprintf("%v", v)
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
