package strata_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

func TestParseWindowRejectsBadWindowsWithAnExample(t *testing.T) {
	tests := []struct{ name, spec, mentions string }{
		{"a missing zone", "Mon-Fri 09:00-17:00", "has 2 parts"},
		{"an unknown day", "Mon-Fry 09:00-17:00 UTC", `unknown day "Fry"`},
		{"a time past 24:00", "Mon 09:00-25:00 UTC", `bad time "25:00"`},
		{"minutes out of range", "Mon 09:60-10:00 UTC", `bad time "09:60"`},
		{"a range without a dash", "Mon 0900 UTC", "has no '-'"},
		{"an empty window", "Mon 09:00-09:00 UTC", "same time"},
		{"an unknown time zone", "Mon 09:00-17:00 Mars/Olympus", `unknown time zone "Mars/Olympus"`},
		{"the machine's local zone", "Mon 09:00-17:00 Local", `unknown time zone "Local"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := strata.ParseWindow(tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.mentions) {
				t.Fatalf("ParseWindow(%q) = %v; want an error mentioning %q", tt.spec, err, tt.mentions)
			}
		})
	}
}

func TestWindowContains(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name, spec, at string
		want           bool
	}{
		{"a weekday inside office hours is open", "Mon-Fri 09:00-17:00 UTC", "2026-11-23T10:00:00Z", true},
		{"the end minute is already closed", "Mon-Fri 09:00-17:00 UTC", "2026-11-23T17:00:00Z", false},
		{"a Saturday is closed", "Mon-Fri 09:00-17:00 UTC", "2026-11-28T10:00:00Z", false},
		{"New York hours are read in New York", "Mon-Fri 09:00-17:00 America/New_York", "2026-11-23T14:30:00Z", true},
		{"New York's morning is still night in New York", "Mon-Fri 09:00-17:00 America/New_York", "2026-11-23T13:30:00Z", false},
		{"a wrapping day range includes the weekend", "Fri-Mon 10:00-12:00 UTC", "2026-11-29T11:00:00Z", true},
		{"a day list", "Tue,Thu 10:00-12:00 UTC", "2026-11-26T11:00:00Z", true},
		{"an overnight window runs past midnight", "Fri 22:00-02:00 UTC", "2026-11-28T01:00:00Z", true},
		{"an overnight window belongs to the day it starts", "Fri 22:00-02:00 UTC", "2026-11-27T01:00:00Z", false},
		{"every day until 24:00", "* 00:00-24:00 UTC", "2026-11-29T23:59:00Z", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := strata.ParseWindow(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := w.Contains(at(tt.at)); got != tt.want {
				t.Errorf("%q.Contains(%s) = %v; want %v", tt.spec, tt.at, got, tt.want)
			}
		})
	}
}

func TestWindowNextOpenIsTheFirstOpenMinute(t *testing.T) {
	w, err := strata.ParseWindow("Mon-Fri 09:00-17:00 UTC")
	if err != nil {
		t.Fatal(err)
	}
	sat := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	if got, want := w.NextOpen(sat), time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("NextOpen(Saturday noon) = %s; want %s", got, want)
	}
}

func TestAWindowReadsBackFromTheJSONItIsWrittenAs(t *testing.T) {
	var pol strata.Policy
	if err := json.Unmarshal([]byte(`{"windows": ["Mon-Fri 09:00-17:00 UTC"]}`), &pol); err != nil {
		t.Fatal(err)
	}
	if len(pol.Windows) != 1 || pol.Windows[0].Spec != "Mon-Fri 09:00-17:00 UTC" || !pol.Windows[0].Contains(time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("windows = %+v", pol.Windows)
	}
	back, err := json.Marshal(pol.Windows)
	if err != nil || string(back) != `["Mon-Fri 09:00-17:00 UTC"]` {
		t.Fatalf("marshal back = %s, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"windows": ["sometimes"]}`), &pol); err == nil || !strings.Contains(err.Error(), "DAYS HH:MM-HH:MM ZONE") {
		t.Fatalf("a bad window: err = %v; want the example", err)
	}
}
