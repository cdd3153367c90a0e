package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
)

func (a *app) configCommand() *cobra.Command {
	var env string
	var explain bool
	c := &cobra.Command{
		Use:   "config SERVICE --env ENV [--explain]",
		Short: "Show a service's resolved config in an environment; --explain adds each value's source",
		Args:  exactArgs(1, "one SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.projectWithEphemeral(cmd.Context())
			if err != nil {
				return err
			}
			if err := needEnv(p, env); err != nil {
				return err
			}
			if p.Service(args[0]) == nil {
				return unknown("service", args[0], p.ServiceNames())
			}
			r, err := layer.Resolve(p, args[0], env, nil)
			if err != nil {
				return err
			}
			doc := configDoc(r, explain)
			return a.print(doc, func(w io.Writer) {
				values := doc["values"].(map[string]any)
				sources := doc["sources"].(map[string]string)
				for _, k := range r.Keys {
					fmt.Fprintf(w, "%s=%s\n", k, formatValue(values[k]))
					if explain {
						fmt.Fprintf(w, "    from %s\n", sources[k])
						trail := r.Trail[k]
						for i := len(trail) - 2; i >= 0; i-- {
							v := formatValue(trail[i].Value.V)
							if r.Secret[k] {
								v = "***"
							}
							fmt.Fprintf(w, "    overrides %s from %s (%s)\n", v, trail[i].Name, dash(trail[i].Value.Pos.String()))
						}
					}
				}
			})
		},
	}
	c.Flags().StringVar(&env, "env", "", "environment (required)")
	c.Flags().BoolVar(&explain, "explain", false, "show where each value comes from and what it overrides")
	return c
}

// configDoc is the JSON document of `config`: values (secrets as "***") and sources.
func configDoc(r *layer.Resolved, explain bool) map[string]any {
	sources := map[string]string{}
	for _, k := range r.Keys {
		sources[k] = describeSource(r, k)
	}
	doc := map[string]any{
		"service":     r.Service,
		"environment": r.Environment,
		"values":      r.Redacted(),
		"sources":     sources,
	}
	if explain {
		trails := map[string][]map[string]any{}
		for _, k := range r.Keys {
			for _, l := range r.Trail[k] {
				v := l.Value.V
				if r.Secret[k] {
					v = "***"
				}
				trails[k] = append(trails[k], map[string]any{"layer": l.Name, "value": v, "source": l.Value.Pos.String()})
			}
		}
		doc["trail"] = trails
	}
	return doc
}

// describeSource is a value's file:line:col, or where it comes from when it has no place
// (a secret comes from the environment's secret store).
func describeSource(r *layer.Resolved, key string) string { return r.Source(key) }

func formatValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

// needEnv checks the --env flag names a known environment.
func needEnv(p *strata.Project, env string) error {
	if env == "" {
		return strata.Errorf(strata.EINVALID, "--env is required; environments: %s", knownList(p.EnvironmentNames()))
	}
	if p.Environment(env) == nil {
		return unknown("environment", env, p.EnvironmentNames())
	}
	return nil
}

// splitRef reads SERVICE[@VERSION].
func splitRef(ref string) (service, version string) {
	service, version, _ = strings.Cut(ref, "@")
	return service, version
}
