package main

import (
	"os"

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
	if a.server == "" {
		a.server = os.Getenv("STRATA_SERVER")
	}
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
	c, err := strhttp.NewClient(a.server, a.token)
	if err != nil {
		return err
	}
	if a.caCert == "" {
		a.caCert = os.Getenv("STRATA_CA_CERT")
	}
	if a.caCert != "" {
		if err := c.TrustCA(a.caCert); err != nil {
			return err
		}
	}
	a.client = c
	return nil
}
