package report_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/strata-dev/strata/report"
)

func TestStatusWritesTheJSONAnEncoderWrites(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	cells := []report.Cell{
		{Service: "api", Environment: "prod", Version: "1.0", State: "succeeded", Health: "healthy", DeployedAt: &at},
		{Service: "web<&>", Environment: "prod", Version: "\"quoted\"\n", State: "failed", Health: "unknown", HealthDetail: "a\tb", Ephemeral: true, Expires: &at},
	}
	cases := []struct {
		name string
		doc  report.Status
	}{
		{"a matrix with no cells", report.Status{Cells: []report.Cell{}}},
		{"a matrix of one cell", report.Status{Cells: cells[:1]}},
		{"a page with a next cursor and hostile strings", report.Status{Cells: cells, Next: "Y2VsbDpwcm9kAGFwaQ"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetIndent("", "  ")
			if err := enc.Encode(&c.doc); err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := c.doc.WriteJSON(&got); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("WriteJSON wrote\n%s\nwant\n%s", got.String(), want.String())
			}
		})
	}
}
