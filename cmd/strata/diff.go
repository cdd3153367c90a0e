package main

import (
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
)

// difference is one entry of `diff`: a version or config key that differs.
type difference struct {
	Service string `json:"service"`
	Kind    string `json:"kind"`
	Key     string `json:"key"`
	A       any    `json:"a"`
	B       any    `json:"b"`
}

func (a *app) diffCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "diff ENV_A ENV_B",
		Short: "Versions and config that differ between two environments",
		Args:  exactArgs(2, "two environments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.projectWithEphemeral(cmd.Context())
			if err != nil {
				return err
			}
			for _, e := range args {
				if p.Environment(e) == nil {
					return unknown("environment", e, p.EnvironmentNames())
				}
			}
			diffs := []difference{}
			current, err := a.currentDeployments(cmd.Context(), false)
			if err != nil {
				return err
			}
			for _, s := range p.Services {
				va, vb := versionIn(current, s.Name, args[0]), versionIn(current, s.Name, args[1])
				if va != vb {
					diffs = append(diffs, difference{s.Name, "version", "version", nilIfEmpty(va), nilIfEmpty(vb)})
				}
				ra, err := layer.Resolve(p, s.Name, args[0], nil)
				if err != nil {
					return err
				}
				rb, err := layer.Resolve(p, s.Name, args[1], nil)
				if err != nil {
					return err
				}
				diffs = append(diffs, configDiff(s.Name, ra, rb)...)
			}
			doc := map[string]any{"a": args[0], "b": args[1], "differences": diffs}
			return a.print(doc, func(w io.Writer) {
				if len(diffs) == 0 {
					fmt.Fprintf(w, "%s and %s are the same: versions and config\n", args[0], args[1])
					return
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintf(tw, "SERVICE\tKIND\tKEY\t%s\t%s\n", args[0], args[1])
				for _, d := range diffs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Service, d.Kind, d.Key, dash(formatValue(d.A)), dash(formatValue(d.B)))
				}
				tw.Flush()
			})
		},
	}
}

// configDiff lists the keys whose values differ between two resolutions of one service.
// Secret values are never compared here: their values are not known at config time.
func configDiff(service string, ra, rb *layer.Resolved) []difference {
	var out []difference
	va, vb := ra.Redacted(), rb.Redacted()
	keys := map[string]bool{}
	for k := range va {
		keys[k] = true
	}
	for k := range vb {
		keys[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		x, okA := va[k]
		y, okB := vb[k]
		if okA && okB && reflect.DeepEqual(x, y) {
			continue
		}
		out = append(out, difference{service, "config", k, x, y})
	}
	return out
}

func versionIn(current map[[2]string]*strata.Deployment, service, env string) string {
	if d := current[[2]string{service, env}]; d != nil {
		return d.Version
	}
	return ""
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
