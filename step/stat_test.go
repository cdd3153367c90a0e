//go:build linux

package step

import "testing"

func TestParseStat(t *testing.T) {
	tail := " 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 123456 2000 100"
	tests := []struct {
		name string
		line string
		want stat
		bad  bool
	}{
		{"a plain name", "42 (sleep) S" + tail, stat{state: 'S', pgrp: 42, start: 123456}, false},
		{"a name with a space and parentheses is read from the last one", "42 (a) (b) S" + tail, stat{state: 'S', pgrp: 42, start: 123456}, false},
		{"a name that looks like fields", "42 (x) Z 1 2 3) R" + tail, stat{state: 'R', pgrp: 42, start: 123456}, false},
		{"a zombie", "42 (sh) Z" + tail, stat{state: 'Z', pgrp: 42, start: 123456}, false},
		{"no parenthesis is malformed", "42 sleep S" + tail, stat{}, true},
		{"too few fields is malformed", "42 (sleep) S 1 42", stat{}, true},
		{"a number that is not one is malformed", "42 (sleep) S 1 x" + tail[5:], stat{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.line + "\n"))
			if (err != nil) != tt.bad {
				t.Fatalf("parseStat: error %v, want error %v", err, tt.bad)
			}
			if got != tt.want {
				t.Errorf("parseStat: got %+v, want %+v", got, tt.want)
			}
		})
	}
}
