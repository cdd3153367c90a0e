package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

func (a *app) deployCommand() *cobra.Command {
	var env string
	var noWait bool
	c := &cobra.Command{
		Use:   "deploy SERVICE[@VERSION] --env ENV",
		Short: "Deploy one release to one environment (its policy still applies)",
		Args:  exactArgs(1, "one SERVICE[@VERSION]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			if err := needEnv(e.Project, env); err != nil {
				return err
			}
			svc, ver := splitRef(args[0])
			d, err := e.Deploy(cmd.Context(), engine.DeployRequest{Service: svc, Version: ver, Env: env, NoWait: noWait})
			return a.deploymentResult(d, err)
		},
	}
	c.Flags().StringVar(&env, "env", "", "environment (required)")
	c.Flags().BoolVar(&noWait, "no-wait", false, "fail at once (exit 3) when another deployment holds the service in that environment")
	return c
}

// deploymentResult prints a deployment as `deploy` and `rollback` do.
func (a *app) deploymentResult(d *strata.Deployment, err error) error {
	if d == nil {
		return err
	}
	doc := toDoc(d)
	if err != nil {
		return &resultError{err: err, doc: doc}
	}
	return a.print(doc, func(w io.Writer) {
		fmt.Fprintf(w, "%s: %s@%s in %s %s (attempt %d)\n", d.ID, d.Service, d.Version, d.Environment, d.State, d.Attempt)
		for k, v := range d.Outputs {
			fmt.Fprintf(w, "  output %s=%s\n", k, v)
		}
	})
}

func (a *app) rollbackCommand() *cobra.Command {
	var env, to string
	c := &cobra.Command{
		Use:   "rollback SERVICE --env ENV [--to VERSION]",
		Short: "Redeploy the previous good release (or --to VERSION)",
		Args:  exactArgs(1, "one SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			if err := needEnv(e.Project, env); err != nil {
				return err
			}
			d, err := e.Rollback(cmd.Context(), args[0], env, to)
			return a.deploymentResult(d, err)
		},
	}
	c.Flags().StringVar(&env, "env", "", "environment (required)")
	c.Flags().StringVar(&to, "to", "", "version to go back to (default: the previous good release there)")
	return c
}
