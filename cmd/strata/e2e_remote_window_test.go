package main_test

import "testing"

// windowEstate has deploy windows, which a server's documents carry as text.
const windowEstate = `project: win
environments:
  dev: {}
  prod:
    policy:
      approvals: 1
      windows: ["Mon-Fri 09:00-17:00 Europe/Berlin", "Sat 10:00-12:00 UTC"]
services:
  api:
    deploy: "true"
pipeline:
  - {stage: dev, environments: [dev], auto: true}
  - {stage: prod, environments: [prod]}
`

// TestDeployWindowsReadBackThroughAServer: env list of environments with deploy windows
// prints the same through a server as locally (the windows make the trip as text).
func TestDeployWindowsReadBackThroughAServer(t *testing.T) {
	t.Parallel()
	tw := newTwins(t, windowEstate)
	tw.same(t, "ann", "env", "list")
	tw.same(t, "ann", "-o", "json", "env", "list")
}
