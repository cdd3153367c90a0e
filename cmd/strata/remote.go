package main

import (
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	strhttp "github.com/strata-dev/strata/http"
)

// localOnly are the commands that run where the project and store are, never on a server.
var localOnly = map[string]bool{"init": true, "demo": true, "serve": true, "token": true, "secret": true}

// setupRemote turns on remote mode when --server (or STRATA_SERVER) names a server: every
// command but the local-only ones (and version and help) then runs there, as the token's
// principal.
func (a *app) setupRemote(cmd *cobra.Command) error {
	if len(a.servers) == 0 {
		_ = a.servers.Set(os.Getenv("STRATA_SERVER"))
	}
	a.server = strings.Join(a.servers, ",")
	if a.token == "" {
		a.token = os.Getenv("STRATA_TOKEN")
	}
	if a.server == "" {
		return nil
	}
	top := cmd
	for top.HasParent() && top.Parent().HasParent() {
		top = top.Parent()
	}
	switch name := top.Name(); {
	case localOnly[name]:
		return strata.Errorf(strata.EINVALID, "strata %s runs where the project and store are, not on a server; unset --server and STRATA_SERVER (now %s) to run it here", name, a.server)
	case name == "version" || name == "help" || name == "completion" || !top.HasParent():
		return nil
	}
	if a.as != "" {
		return strata.Errorf(strata.EINVALID, "--as names the principal of local commands; on a server the principal is the token's name (--token or STRATA_TOKEN)")
	}
	if len(a.servers) > 1 && (top.Name() != "agent" || cmd != top) {
		return strata.Errorf(strata.EINVALID, "--server names %d servers (%s); %s talks to one: name one (only strata agent takes several, to go on with the next when one stops answering)", len(a.servers), a.server, cmd.CommandPath())
	}
	if a.caCert == "" {
		a.caCert = os.Getenv("STRATA_CA_CERT")
	}
	for _, s := range a.servers {
		c, err := strhttp.NewClient(s, a.token)
		if err != nil {
			return err
		}
		if a.caCert != "" {
			if err := c.TrustCA(a.caCert); err != nil {
				return err
			}
		}
		a.clients = append(a.clients, c)
	}
	a.client = a.clients[0]
	return nil
}

// serverList is --server: each use adds one server, or several written as a comma list
// (as STRATA_SERVER may hold them).
type serverList []string

func (l *serverList) String() string { return strings.Join(*l, ",") }

// Type names the flag's value in --help.
func (l *serverList) Type() string { return "string" }

// Set adds the servers of one --server.
func (l *serverList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}
