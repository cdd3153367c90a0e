package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/plan"
)

func (a *app) validateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Load and check everything; print a summary of environments, services and stages",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, problems, err := a.check()
			warnings := problems.Warnings()
			if err != nil {
				for _, w := range warnings {
					fmt.Fprintln(a.stderr, w.Error())
				}
				return err
			}
			type stageDoc struct {
				Name         string     `json:"name"`
				Environments []string   `json:"environments"`
				Waves        [][]string `json:"waves"`
				Auto         bool       `json:"auto"`
			}
			doc := struct {
				OK           bool       `json:"ok"`
				Project      string     `json:"project"`
				Environments []string   `json:"environments"`
				Services     []string   `json:"services"`
				Stages       []stageDoc `json:"stages"`
				Warnings     []string   `json:"warnings"`
			}{OK: true, Project: p.Name, Environments: p.EnvironmentNames(), Services: p.ServiceNames(), Stages: []stageDoc{}, Warnings: []string{}}
			for _, s := range p.Pipeline {
				doc.Stages = append(doc.Stages, stageDoc{s.Name, s.Environments, plan.Waves(s), s.Auto})
			}
			for _, w := range warnings {
				doc.Warnings = append(doc.Warnings, w.Error())
			}
			return a.print(doc, func(w io.Writer) {
				for _, x := range warnings {
					fmt.Fprintln(a.stderr, x.Error())
				}
				fmt.Fprintf(w, "%s: ok: project %s, %d environments, %d services, %d stages\n", p.File, p.Name, len(p.Environments), len(p.Services), len(p.Pipeline))
				fmt.Fprintf(w, "environments: %s\n", strings.Join(doc.Environments, ", "))
				var svcs []string
				for _, s := range p.Services {
					if len(s.DependsOn) > 0 {
						svcs = append(svcs, fmt.Sprintf("%s (after %s)", s.Name, strings.Join(s.DependsOn, ", ")))
					} else {
						svcs = append(svcs, s.Name)
					}
				}
				fmt.Fprintf(w, "services: %s\n", strings.Join(svcs, ", "))
				fmt.Fprintln(w, "pipeline:")
				for _, s := range doc.Stages {
					auto := ""
					if s.Auto {
						auto = " (auto)"
					}
					var waves []string
					for _, wv := range s.Waves {
						waves = append(waves, "["+strings.Join(wv, ", ")+"]")
					}
					fmt.Fprintf(w, "  %s%s: %s\n", s.Name, auto, strings.Join(waves, " then "))
				}
			})
		},
	}
}

// knownList formats names for "unknown X; known: a, b, c" messages.
func knownList(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}

// unknown returns the not-found error for a name of some kind, listing the known ones.
func unknown(kind, name string, known []string) error {
	return strata.Errorf(strata.ENOTFOUND, "unknown %s %q; known: %s", kind, name, knownList(known))
}
