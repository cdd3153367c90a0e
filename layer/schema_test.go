package layer_test

import (
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
)

func TestValuesAreFittedToTheSchema(t *testing.T) {
	cases := []struct {
		name string
		key  *strata.Key
		text any
		want any
	}{
		{"digits after interpolation become an integer", key("VALUE", strata.TypeInteger, 30), "${config.DIGITS}", int64(8081)},
		{"a written string of digits becomes an integer", key("VALUE", strata.TypeInteger, 30), "-42", int64(-42)},
		{"an integer fits a number and becomes a float", key("VALUE", strata.TypeNumber, 30), int64(3), float64(3)},
		{"a decimal string fits a number", key("VALUE", strata.TypeNumber, 30), "0.5", 0.5},
		{"true as text fits a boolean", key("VALUE", strata.TypeBoolean, 30), "${config.YES}", true},
		{"an integer fits a string key as its digits", key("VALUE", strata.TypeString, 30), int64(12), "12"},
		{"a value in the enum fits", key("VALUE", strata.TypeString, 30, enum("debug", "info")), "info", "info"},
		{"an integer enum compares by value", key("VALUE", strata.TypeInteger, 30, enum(8080, 9090)), "9090", int64(9090)},
		{"a key without a type takes anything", key("VALUE", "", 30), 1.5, 1.5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := schemaEstate(t, c.key, c.text)
			r, err := layer.Resolve(p, "api", "dev", nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Values["VALUE"]; got != c.want {
				t.Errorf("VALUE = %#v, want %#v", got, c.want)
			}
		})
	}
}

func schemaEstate(t *testing.T, k *strata.Key, text any) *strata.Project {
	return estate{
		defaults: vals("DIGITS", "8081", 3, "YES", "true", 4, "WORD", "eighty", 5),
		envs:     []*strata.Environment{env("dev", "", nil, vals("VALUE", text, 50))},
		services: []*strata.Service{service("api", k)},
	}.project(t)
}

func TestAMisfitNamesTheValueAndTheSchemaLine(t *testing.T) {
	cases := []struct {
		name string
		key  *strata.Key
		text any
		want string
	}{
		{"a word is not an integer", key("VALUE", strata.TypeInteger, 30), "abc",
			`strata.yaml:50:7: config VALUE is "abc", not an integer: the schema of service api (strata.yaml:30:7) wants a whole number such as 8080`},
		{"the misfit is checked after interpolation and shows what was written", key("VALUE", strata.TypeInteger, 30), "${config.WORD}",
			`strata.yaml:50:7: config VALUE is "eighty" (written "${config.WORD}"), not an integer: the schema of service api (strata.yaml:30:7)`},
		{"a float is not an integer", key("VALUE", strata.TypeInteger, 30), 80.5, `config VALUE is 80.5, not an integer`},
		{"a boolean is not a number", key("VALUE", strata.TypeNumber, 30), true, `config VALUE is true, not a number`},
		{"yes is not a boolean", key("VALUE", strata.TypeBoolean, 30), "yes", `config VALUE is "yes", not a boolean: the schema of service api (strata.yaml:30:7) wants true or false`},
		{"a float is not a string", key("VALUE", strata.TypeString, 30), 1.2, `wants text (quote the value`},
		{"a value outside the enum", key("VALUE", strata.TypeString, 30, enum("debug", "info", "warn")), "wran",
			`strata.yaml:50:7: config VALUE is "wran", not one of debug, info, warn: the schema of service api (strata.yaml:30:7) lists them; did you mean "warn"?`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := layer.Resolve(schemaEstate(t, c.key, c.text), "api", "dev", nil)
			if strata.ErrorCode(err) != strata.EINVALID || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v\nwant it to contain %s", err, c.want)
			}
		})
	}
}

func TestAReferenceToABadKeyReportsOnlyTheBadKey(t *testing.T) {
	p := estate{
		envs:     []*strata.Environment{env("dev", "", nil, vals("PORT", "eighty", 10, "URL", "http://x:${config.PORT}", 11))},
		services: []*strata.Service{service("api", key("PORT", strata.TypeInteger, 30))},
	}.project(t)
	_, err := layer.Resolve(p, "api", "dev", nil)
	if err == nil || strings.Count(err.Error(), "\n") != 0 || !strings.Contains(err.Error(), "strata.yaml:10:7") {
		t.Errorf("err = %v, want one problem, at PORT", err)
	}
}
