package report_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/report"
)

func TestStatusMarksTheCellsWhoseVersionIsRecalled(t *testing.T) {
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	recall := &strata.Recall{By: "ann", Reason: "corrupts carts", At: at}
	releases := map[string]*strata.Release{
		"api@1": {Service: "api", Version: "1", Recalled: recall},
		"api@2": {Service: "api", Version: "2"},
	}
	reads := 0
	read := func(_ context.Context, service, version string) (*strata.Release, error) {
		reads++
		if r := releases[service+"@"+version]; r != nil {
			return r, nil
		}
		return nil, strata.Errorf(strata.ENOTFOUND, "no release %s@%s", service, version)
	}
	s := &report.Status{Cells: []report.Cell{
		{Service: "api", Environment: "dev", Version: "2", State: strata.Succeeded, DeployedAt: &at},
		{Service: "api", Environment: "staging", Version: "1", State: strata.Succeeded, DeployedAt: &at},
		{Service: "api", Environment: "prod", Version: "1", State: strata.Succeeded, DeployedAt: &at},
		{Service: "api", Environment: "qa", Version: "9", State: strata.Succeeded, DeployedAt: &at},
		{Service: "api", Environment: "empty"},
	}}
	if err := s.MarkRecalled(context.Background(), read); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		env      string
		recalled bool
	}{{"dev", false}, {"staging", true}, {"prod", true}, {"qa", false}, {"empty", false}}
	for i, tt := range tests {
		if got := s.Cells[i].Recalled; (got != nil) != tt.recalled || (got != nil && *got != *recall) {
			t.Errorf("%s: recalled %+v; want %v", tt.env, got, tt.recalled)
		}
	}
	if reads != 3 {
		t.Errorf("read %d releases; want each of the three versions shown once", reads)
	}
	var b bytes.Buffer
	s.WriteText(&b, at.Add(2*time.Hour))
	text := b.String()
	if !strings.Contains(text, "1 2h0m0s (recalled)") || strings.Contains(text, "2 2h0m0s (recalled)") {
		t.Errorf("text marks the wrong cells:\n%s", text)
	}
}
