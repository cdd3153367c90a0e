package layer_test

import (
	"reflect"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/layer"
)

func outputEstate(t *testing.T) *strata.Project {
	return estate{
		defaults: vals("LOG_LEVEL", "info", 3, "RATIO", 0.5, 4, "ON", true, 5),
		envs:     []*strata.Environment{env("prod", "", nil, nil)},
		services: []*strata.Service{service("api", key("PORT", strata.TypeInteger, 30, def(int64(8080), 31)), key("TOKEN", strata.TypeString, 32, secret))},
	}.project(t)
}

func TestOutputs(t *testing.T) {
	p := outputEstate(t)
	r, err := layer.Resolve(p, "api", "prod", &layer.Runtime{Secrets: map[string]string{"TOKEN": "s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("Environ gives every key, secrets included, sorted", func(t *testing.T) {
		want := []string{"LOG_LEVEL=info", "ON=true", "PORT=8080", "RATIO=0.5", "TOKEN=s3cret"}
		if got := r.Environ(); !reflect.DeepEqual(got, want) {
			t.Errorf("Environ = %q, want %q", got, want)
		}
	})
	t.Run("JSON is the full config with typed values", func(t *testing.T) {
		got, err := r.JSON()
		want := `{"LOG_LEVEL":"info","ON":true,"PORT":8080,"RATIO":0.5,"TOKEN":"s3cret"}`
		if err != nil || string(got) != want {
			t.Errorf("JSON = %s, %v; want %s", got, err, want)
		}
	})
	t.Run("Redacted hides secrets only", func(t *testing.T) {
		want := map[string]any{"LOG_LEVEL": "info", "ON": true, "PORT": int64(8080), "RATIO": 0.5, "TOKEN": "***"}
		if got := r.Redacted(); !reflect.DeepEqual(got, want) {
			t.Errorf("Redacted = %v, want %v", got, want)
		}
	})
	t.Run("Source names the file position, or the environment's secrets", func(t *testing.T) {
		for k, want := range map[string]string{"PORT": "strata.yaml:31:7", "TOKEN": "secrets of environment prod", "NOPE": ""} {
			if got := r.Source(k); got != want {
				t.Errorf("Source(%s) = %q, want %q", k, got, want)
			}
		}
	})
	t.Run("Hash is stable and changes with any value, a secret's or a type's", func(t *testing.T) {
		again, _ := layer.Resolve(p, "api", "prod", &layer.Runtime{Secrets: map[string]string{"TOKEN": "s3cret"}})
		if r.Hash() != again.Hash() {
			t.Error("the same config hashes differently")
		}
		rotated, _ := layer.Resolve(p, "api", "prod", &layer.Runtime{Secrets: map[string]string{"TOKEN": "other"}})
		if r.Hash() == rotated.Hash() {
			t.Error("a rotated secret does not change the hash")
		}
		typed := *again
		typed.Values = map[string]any{}
		for k, v := range again.Values {
			typed.Values[k] = v
		}
		typed.Values["PORT"] = "8080"
		if r.Hash() == typed.Hash() {
			t.Error("a value's type does not change the hash")
		}
	})
}
