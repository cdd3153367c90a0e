package report

import (
	"strings"
	"testing"
)

func TestConfigExplainTextNamesEachPlaceOnce(t *testing.T) {
	tests := []struct {
		name  string
		trail []TrailStep
		want  string
	}{
		{
			name: "a short-lived environment's --set is said once",
			trail: []TrailStep{
				{Layer: "environment staging", Source: "strata.yaml:4:25", Value: "info"},
				{Layer: "env create pr-1 --set", Source: "--set by alice at 2026-12-03T10:00:00Z", Value: "debug"},
			},
			want: "LOG_LEVEL=debug\n    from env create pr-1 --set (by alice at 2026-12-03T10:00:00Z)\n    overrides info from environment staging (strata.yaml:4:25)\n",
		},
		{
			name: "a file's layer keeps its file:line:col",
			trail: []TrailStep{
				{Layer: "defaults.config", Source: "strata.yaml:2:3", Value: "warn"},
				{Layer: "environment prod", Source: "strata.yaml:9:11", Value: "debug"},
			},
			want: "LOG_LEVEL=debug\n    from environment prod (strata.yaml:9:11)\n    overrides warn from defaults.config (strata.yaml:2:3)\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			last := tt.trail[len(tt.trail)-1]
			c := &Config{Values: map[string]any{"LOG_LEVEL": last.Value}, Sources: map[string]string{"LOG_LEVEL": last.Source},
				Trail: map[string][]TrailStep{"LOG_LEVEL": tt.trail}}
			var b strings.Builder
			c.WriteText(&b)
			if b.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
		})
	}
}
