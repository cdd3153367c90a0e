package harness

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestInTurn(t *testing.T) {
	tests := []struct {
		name      string
		run       int
		wantOrder []string
	}{
		{"an even run goes a first", 0, []string{"a", "b"}},
		{"an odd run goes b first", 1, []string{"b", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var order []string
			a := func() (Sample, error) { order = append(order, "a"); return Sample{Wall: 1}, nil }
			b := func() (Sample, error) { order = append(order, "b"); return Sample{Wall: 2}, nil }
			sa, sb, err := InTurn(tt.run, a, b)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(order, tt.wantOrder) {
				t.Errorf("order = %v, want %v", order, tt.wantOrder)
			}
			if sa.Wall != 1 || sb.Wall != 2 {
				t.Errorf("samples = %v, %v; want each its own", sa, sb)
			}
		})
	}
}

func TestInTurnStopsAtTheFirstFailure(t *testing.T) {
	boom := errors.New("boom")
	ran := false
	fail := func() (Sample, error) { return Sample{}, boom }
	other := func() (Sample, error) { ran = true; return Sample{}, nil }
	if _, _, err := InTurn(0, fail, other); !errors.Is(err, boom) || ran {
		t.Errorf("InTurn = %v, second ran %v; want boom and the second not run", err, ran)
	}
}

func TestPerEnv(t *testing.T) {
	if got, want := PerEnv(time.Second, 3), 333333*time.Microsecond; got != want {
		t.Errorf("PerEnv(1s, 3) = %v, want %v", got, want)
	}
}
