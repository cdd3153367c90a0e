package main

import (
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/layer"
	"github.com/strata-dev/strata/plan"
)

// envPlan is what a promotion would do to one environment.
type envPlan struct {
	Name    string   `json:"name"`
	Wave    int      `json:"wave"`
	Current string   `json:"current_version"`
	Changes []change `json:"config_changes"`
}

type change struct {
	Key  string `json:"key"`
	From any    `json:"from"`
	To   any    `json:"to"`
}

func (a *app) planCommand() *cobra.Command {
	var req engine.PromoteRequest
	c := &cobra.Command{
		Use:   "plan SERVICE[@VERSION] [--to STAGE]",
		Short: "Show what a promotion would do and which gates hold, changing nothing",
		Args:  exactArgs(1, "one SERVICE[@VERSION]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			req.Service, req.Version = splitRef(args[0])
			res, err := e.Plan(cmd.Context(), req)
			if err != nil {
				return err
			}
			cur, err := e.Current(cmd.Context())
			if err != nil {
				return err
			}
			var envs []envPlan
			for i, wave := range res.Waves {
				for _, env := range wave {
					ep := envPlan{Name: env, Wave: i + 1, Changes: []change{}}
					var had map[string]any
					if d := cur[plan.Pair{Service: req.Service, Environment: env}]; d != nil {
						ep.Current, had = d.Version, d.Config
					}
					rs, err := layer.Resolve(e.Project, req.Service, env, &layer.Runtime{Version: res.Promotion.Version})
					if err == nil {
						ep.Changes = configChanges(had, rs.Redacted())
					}
					envs = append(envs, ep)
				}
			}
			doc := promotionDoc(res)
			doc["environments"] = envs
			return a.print(doc, func(w io.Writer) {
				printPromotion(w, res)
				for _, ep := range envs {
					fmt.Fprintf(w, "  %s (wave %d): %s -> %s\n", ep.Name, ep.Wave, dash(ep.Current), res.Promotion.Version)
					for _, ch := range ep.Changes {
						fmt.Fprintf(w, "      %s: %s -> %s\n", ch.Key, dash(formatValue(ch.From)), dash(formatValue(ch.To)))
					}
				}
			})
		},
	}
	c.Flags().StringVar(&req.To, "to", "", "stage (default: the next stage the release has not reached)")
	c.Flags().BoolVar(&req.OverrideWindow, "override-window", false, "judge the window gate as overridden")
	c.Flags().StringVar(&req.Reason, "reason", "", "why the window would be overridden")
	return c
}

// configChanges lists keys whose value would change from had to next (JSON numbers in had
// are compared by value).
func configChanges(had, next map[string]any) []change {
	out := []change{}
	keys := map[string]bool{}
	for k := range had {
		keys[k] = true
	}
	for k := range next {
		keys[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		x, y := normalize(had[k]), normalize(next[k])
		if !reflect.DeepEqual(x, y) {
			out = append(out, change{k, had[k], next[k]})
		}
	}
	return out
}

func normalize(v any) any {
	switch v := v.(type) {
	case int64:
		return float64(v)
	case int:
		return float64(v)
	}
	return v
}
