package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
)

func (a *app) freezeCommand() *cobra.Command {
	var reason string
	c := &cobra.Command{
		Use:   "freeze ENV --reason R",
		Short: "Close an environment to deployments until unfreeze",
		Args:  exactArgs(1, "one ENV"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			if e.Project.Environment(args[0]) == nil {
				return unknown("environment", args[0], e.Project.EnvironmentNames())
			}
			if strings.TrimSpace(reason) == "" {
				return strata.Errorf(strata.EINVALID, "freeze needs --reason saying why (it is shown to whoever is blocked)")
			}
			f := &strata.Freeze{Environment: args[0], Reason: reason, Actor: e.Actor, At: a.now()}
			ev := &strata.Event{Actor: e.Actor, Action: "freeze", Environment: args[0], Detail: []byte(fmt.Sprintf("{%q:%q}", "reason", reason))}
			if err := e.Store.SetFreeze(cmd.Context(), args[0], f, ev); err != nil {
				return err
			}
			return a.print(f, func(w io.Writer) { fmt.Fprintf(w, "%s is frozen: %s\n", args[0], reason) })
		},
	}
	c.Flags().StringVar(&reason, "reason", "", "why (required)")
	return c
}

func (a *app) unfreezeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "unfreeze ENV",
		Short: "Reopen a frozen environment",
		Args:  exactArgs(1, "one ENV"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			if e.Project.Environment(args[0]) == nil {
				return unknown("environment", args[0], e.Project.EnvironmentNames())
			}
			ev := &strata.Event{Actor: e.Actor, Action: "unfreeze", Environment: args[0]}
			if err := e.Store.SetFreeze(cmd.Context(), args[0], nil, ev); err != nil {
				if strata.ErrorCode(err) == strata.ENOTFOUND {
					return strata.Errorf(strata.EINVALID, "%s is not frozen", args[0])
				}
				return err
			}
			return a.print(map[string]any{"environment": args[0], "frozen": false}, func(w io.Writer) { fmt.Fprintf(w, "%s is open again\n", args[0]) })
		},
	}
}
