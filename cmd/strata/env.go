package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
)

func (a *app) envCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "env",
		Short: "List environments; create and destroy short-lived ones",
	}
	c.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "Environments with labels, parent and policy, resolved through extends",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.projectWithEphemeral(cmd.Context())
			if err != nil {
				return err
			}
			type envDoc struct {
				Name    string            `json:"name"`
				Labels  map[string]string `json:"labels"`
				Extends string            `json:"extends"`
				Policy  strata.Policy     `json:"policy"`
				Stages  []string          `json:"stages"`
				Expires *time.Time        `json:"expires,omitempty"`
				// Ephemeral marks environments made by `strata env create`.
				Ephemeral bool `json:"ephemeral"`
			}
			docs := []envDoc{}
			for _, e := range p.Environments {
				d := envDoc{Name: e.Name, Labels: e.Labels, Extends: e.Extends, Policy: e.Policy, Stages: []string{}, Ephemeral: e.Ephemeral}
				if d.Labels == nil {
					d.Labels = map[string]string{}
				}
				for _, s := range p.StagesOf(e.Name) {
					d.Stages = append(d.Stages, s.Name)
				}
				if !e.Expires.IsZero() {
					t := e.Expires
					d.Expires = &t
				}
				docs = append(docs, d)
			}
			return a.print(docs, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tEXTENDS\tLABELS\tPOLICY\tSTAGES\tEXPIRES")
				now := a.now()
				for _, d := range docs {
					exp := "-"
					if d.Ephemeral {
						exp = "never"
						if d.Expires != nil {
							exp = shortExpiry(now, *d.Expires)
						}
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Name, dash(d.Extends), dash(formatLabels(d.Labels)), dash(formatPolicy(d.Policy)), dash(strings.Join(d.Stages, ",")), exp)
				}
				tw.Flush()
			})
		},
	})
	c.AddCommand(a.envCreateCommand(), a.envDestroyCommand())
	return c
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// formatLabels prints labels as k=v pairs in key order.
func formatLabels(labels map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ",")
}

func formatPolicy(p strata.Policy) string {
	var parts []string
	if p.Approvals != nil {
		parts = append(parts, fmt.Sprintf("approvals=%d", *p.Approvals))
	}
	if p.Soak != nil {
		parts = append(parts, "soak="+p.Soak.String())
	}
	for _, w := range p.Windows {
		parts = append(parts, "window="+w.Spec)
	}
	return strings.Join(parts, " ")
}
