package layer_test

import (
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
)

func TestCheckSetHoldsEachValueToEverySchemaThatDeclaresIt(t *testing.T) {
	p := &strata.Project{Services: []*strata.Service{
		{Name: "api", Schema: []*strata.Key{
			{Name: "PORT", Type: strata.TypeInteger, Pos: at(3)},
			{Name: "LEVEL", Type: strata.TypeString, Enum: []any{"debug", "info"}, Pos: at(4)},
			{Name: "TOKEN", Type: strata.TypeString, Secret: true, Pos: at(5)},
		}},
		{Name: "worker", Schema: []*strata.Key{{Name: "PORT", Type: strata.TypeString, Pos: at(8)}}},
	}}
	tests := []struct {
		name string
		set  map[string]string
		want string // "" for no error; else a part of the message
	}{
		{"a value that fits every schema passes", map[string]string{"PORT": "9101", "LEVEL": "debug"}, ""},
		{"a key no schema declares is named with the known keys", map[string]string{"PROT": "1"}, "--set PROT: no service's schema declares PROT; known: LEVEL, PORT, TOKEN"},
		{"a value one schema refuses names that schema's line", map[string]string{"PORT": "high"}, "--set PORT=high: service api's schema (strata.yaml:3:7) wants a whole number"},
		{"a value outside the enum lists it", map[string]string{"LEVEL": "loud"}, "wants one of debug, info"},
		{"a secret key is refused", map[string]string{"TOKEN": "x"}, "TOKEN is a secret"},
		{"a reference is refused", map[string]string{"LEVEL": "${config.TOKEN}"}, "taken as written"},
		{"every problem is reported at once", map[string]string{"PORT": "high", "PROT": "1"}, "PORT=high"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := layer.CheckSet(p, tt.set)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || strata.ErrorCode(err) != strata.EINVALID):
				t.Fatalf("got %v, want an invalid error saying %q", err, tt.want)
			}
		})
	}
}
