package harness

import (
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		in   []Sample
		want Sample
	}{
		{"the middle of an odd count", []Sample{{Wall: 3 * ms, CPU: 1 * ms}, {Wall: 1 * ms, CPU: 3 * ms}, {Wall: 2 * ms, CPU: 2 * ms}}, Sample{Wall: 2 * ms, CPU: 2 * ms}},
		{"the mean of the middle two of an even count", []Sample{{Wall: 4 * ms, CPU: 0}, {Wall: 1 * ms, CPU: 0}, {Wall: 2 * ms, CPU: 0}, {Wall: 3 * ms, CPU: 0}}, Sample{Wall: 2500 * time.Microsecond, CPU: 0}},
		{"nothing gives zero", nil, Sample{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Median(tt.in); got != tt.want {
				t.Errorf("Median = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestMidOfRatios: the median of float64s, as the runs' own ratios are.
func TestMidOfRatios(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{"the middle of an odd count", []float64{3, 1, 2}, 2},
		{"the mean of the middle two of an even count", []float64{4, 1, 3, 2}, 2.5},
		{"nothing gives zero", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Mid(tt.in); got != tt.want {
				t.Errorf("Mid = %v, want %v", got, tt.want)
			}
		})
	}
}
