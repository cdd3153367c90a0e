package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// cell is one (service, environment) of the status matrix: the version that runs there, the
// state of the newest deployment, and when the running version was deployed.
type cell struct {
	Service     string     `json:"service"`
	Environment string     `json:"environment"`
	Version     string     `json:"version"`
	State       string     `json:"state"`
	Health      string     `json:"health"`
	DeployedAt  *time.Time `json:"deployed_at"`
	Latest      string     `json:"latest_deployment,omitempty"`
	// Ephemeral marks a short-lived environment; Expires is when it expires, if ever.
	Ephemeral bool       `json:"ephemeral,omitempty"`
	Expires   *time.Time `json:"expires,omitempty"`
}

func (a *app) statusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "The environment x service matrix: version, state, age",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.status(cmd.Context())
		},
	}
}

// status prints the environment x service matrix.
func (a *app) status(ctx context.Context) error {
	e, err := a.engine(ctx)
	if err != nil {
		return err
	}
	cur, err := e.Current(ctx)
	if err != nil {
		return err
	}
	all, err := e.Store.Deployments(ctx, strata.DeploymentFilter{})
	if err != nil {
		return err
	}
	markInterrupted(ctx, e, all)
	latest := map[[2]string]*strata.Deployment{}
	for _, d := range all {
		k := [2]string{d.Service, d.Environment}
		if latest[k] == nil {
			latest[k] = d
		}
	}
	cells := []cell{}
	for _, env := range e.Project.Environments {
		for _, s := range e.Project.Services {
			k := [2]string{s.Name, env.Name}
			c := cell{Service: s.Name, Environment: env.Name, Ephemeral: env.Ephemeral, Expires: timePtr(env.Expires)}
			if d := cur[pairFrom(k)]; d != nil {
				c.Version, c.Health, c.DeployedAt = d.Version, d.Health, timePtr(d.FinishedAt)
			}
			if d := latest[k]; d != nil {
				c.State, c.Latest = d.State, d.ID
			}
			cells = append(cells, c)
		}
	}
	now := a.now()
	return a.print(map[string]any{"cells": cells}, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprint(tw, "ENVIRONMENT")
		for _, s := range e.Project.Services {
			fmt.Fprintf(tw, "\t%s", s.Name)
		}
		fmt.Fprintln(tw)
		i := 0
		for _, env := range e.Project.Environments {
			fmt.Fprint(tw, env.Name)
			if env.Ephemeral {
				fmt.Fprint(tw, " ("+envExpiry(now, env.Expires)+")")
			}
			for range e.Project.Services {
				c := cells[i]
				i++
				if c.State == "" {
					fmt.Fprint(tw, "\t-")
					continue
				}
				text := dash(c.Version)
				if c.DeployedAt != nil {
					text += " " + age(now, *c.DeployedAt)
				}
				if c.State != strata.Succeeded {
					text += " (" + c.State + ")"
				}
				fmt.Fprintf(tw, "\t%s", text)
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
	})
}

func (a *app) historyCommand() *cobra.Command {
	var env string
	var limit int
	c := &cobra.Command{
		Use:   "history [SERVICE] [--env ENV]",
		Short: "Deployments, newest first",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return strata.Errorf(strata.EINVALID, "history takes at most one SERVICE; usage: %s", cmd.UseLine())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			f := strata.DeploymentFilter{Environment: env, Limit: limit}
			if len(args) == 1 {
				f.Service = args[0]
				if e.Project.Service(f.Service) == nil {
					return unknown("service", f.Service, e.Project.ServiceNames())
				}
			}
			if env != "" {
				if err := needEnv(e.Project, env); err != nil {
					return err
				}
			}
			ds, err := e.Store.Deployments(cmd.Context(), f)
			if err != nil {
				return err
			}
			markInterrupted(cmd.Context(), e, ds)
			docs := toDocs(ds)
			now := a.now()
			return a.print(docs, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSERVICE\tENVIRONMENT\tVERSION\tSTATE\tATTEMPT\tKIND\tACTOR\tSTARTED")
				for _, d := range ds {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s ago\n", d.ID, d.Service, d.Environment, d.Version, d.State, d.Attempt, dash(d.Kind), dash(d.Actor), age(now, d.StartedAt))
				}
				tw.Flush()
			})
		},
	}
	c.Flags().StringVar(&env, "env", "", "only this environment")
	c.Flags().IntVar(&limit, "limit", 0, "at most this many (0: all)")
	return c
}

// markInterrupted shows the deployments whose process is gone as interrupted: the store says
// running until `resume` takes them over, which would tell the user something false.
func markInterrupted(ctx context.Context, e *engine.Engine, ds []*strata.Deployment) {
	gone, err := e.Interrupted(ctx)
	if err != nil || len(gone) == 0 {
		return
	}
	ids := map[string]bool{}
	for _, d := range gone {
		ids[d.ID] = true
	}
	for _, d := range ds {
		if ids[d.ID] {
			d.State = strata.Interrupted
		}
	}
}
