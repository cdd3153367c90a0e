package main

import "github.com/spf13/cobra"

// moreCommands lists the commands that use the store, in the order `strata --help` shows.
func (a *app) moreCommands() []*cobra.Command {
	return []*cobra.Command{
		a.releaseCommand(), a.deployCommand(), a.promoteCommand(), a.planCommand(),
		a.approveCommand(), a.rejectCommand(), a.statusCommand(), a.historyCommand(),
		a.rollbackCommand(), a.logsCommand(), a.resumeCommand(), a.freezeCommand(),
		a.unfreezeCommand(), a.secretCommand(), a.auditCommand(), a.demoCommand(),
		a.driftCommand(), a.flagCommand(), a.statsCommand(), a.graphCommand(), a.tokenCommand(), a.serveCommand(),
		a.runCommand(), a.runsCommand(), a.groupsCommand(), a.switchCommand(), a.failoverCommand(), a.gcCommand(), a.agentCommand(),
		a.recallCommand(), a.unrecallCommand(),
	}
}
