package config_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/config"
)

func TestCheckValue(t *testing.T) {
	port := &strata.Key{Name: "PORT", Type: strata.TypeInteger}
	level := &strata.Key{Name: "LEVEL", Type: strata.TypeString, Enum: []any{"debug", "info"}}
	ratio := &strata.Key{Name: "RATIO", Type: strata.TypeNumber}
	on := &strata.Key{Name: "ON", Type: strata.TypeBoolean}
	cases := []struct {
		name string
		key  *strata.Key
		v    any
		want string // "" when v fits
	}{
		{"an int64 fits an integer", port, int64(8080), ""},
		{"a string that reads as an integer fits one", port, "8080", ""},
		{"a word does not fit an integer", port, "abc", `PORT is "abc" but wants an integer`},
		{"a float does not fit an integer", port, 1.5, "wants an integer"},
		{"an integer fits a number", ratio, int64(2), ""},
		{"a bool does not fit a number", ratio, true, "wants a number"},
		{"a value of the enum fits", level, "info", ""},
		{"a value outside the enum names the enum", level, "loud", "wants one of debug, info"},
		{"true fits a boolean", on, true, ""},
		{"yes does not fit a boolean", on, "yes", "wants true or false"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := config.CheckValue(c.key, c.v)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("got %v, want it to fit", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}
}

func TestReferences(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []string
		bad  bool
	}{
		{"plain text has none", "./deploy.sh", nil, false},
		{"each ${...} is one reference", "http://${env.name}:${config.PORT}/", []string{"env.name", "config.PORT"}, false},
		{"$${ is a literal", "echo $${HOME} ${service.name}", []string{"service.name"}, false},
		{"a lone $ is text", "cost: $5 ${release.version}", []string{"release.version"}, false},
		{"an unterminated ${ fails", "x ${env.name", nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := config.References(c.in)
			if (err != nil) != c.bad {
				t.Fatalf("error %v, want failure %v", err, c.bad)
			}
			if !c.bad && !slices.Equal(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}
