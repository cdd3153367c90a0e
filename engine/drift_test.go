package engine_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// driftEstate deploys by writing the running version to a scratch file, which observe
// reads back; a test changes the file to make the service "run" another version.
const driftEstate = `project: shop
defaults:
  config: {LOG_LEVEL: info}
environments:
  dev: {labels: {tier: dev}}
  prod: {labels: {tier: prod}}
services:
  db:
    deploy: echo "URL=db.$STRATA_ENV" >> "$STRATA_OUTPUTS"
  api:
    deploy: echo "$STRATA_VERSION" > "@SCRATCH@/running-$STRATA_ENV"
    observe: cat "@SCRATCH@/running-$STRATA_ENV"
    depends_on: [db]
    config:
      PORT: {type: integer, default: 8080}
      RATIO: {type: number, default: 1.0}
      LOG_LEVEL: {type: string}
      DB: {type: string, default: "${outputs.db.URL}"}
      TOKEN: {type: string, secret: true}
`

func kinds(items []engine.DriftItem) string {
	var out []string
	for _, it := range items {
		out = append(out, it.Service+"/"+it.Environment+"/"+it.Kind)
	}
	return strings.Join(out, " ")
}

func TestDrift(t *testing.T) {
	setup := func(t *testing.T) (*world, *engine.Engine) {
		w := newWorld(t, driftEstate)
		e := w.engine()
		for _, env := range []string{"dev", "prod"} {
			w.ship(e, "db", "1", env)
			w.ship(e, "api", "2.0", env)
		}
		return w, e
	}

	t.Run("right after a deploy there is none, numbers and secrets included", func(t *testing.T) {
		_, e := setup(t)
		items, err := e.Drift(t.Context(), "")
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != 0 {
			t.Errorf("drift = %+v, want none", items)
		}
	})

	t.Run("a changed config value is config drift naming the key, old and new", func(t *testing.T) {
		w, _ := setup(t)
		w.writeYAML(strings.Replace(driftEstate, "{LOG_LEVEL: info}", "{LOG_LEVEL: debug}", 1))
		items, err := w.engine().Drift(t.Context(), "prod")
		if err != nil {
			t.Fatal(err)
		}
		// defaults.config reaches every service.
		if got := kinds(items); got != "db/prod/config api/prod/config" {
			t.Fatalf("drift = %+v, want config drift of db and api in prod", items)
		}
		items = items[1:]
		if got, want := items[0].Detail, `LOG_LEVEL: "info" -> "debug"`; got != want {
			t.Errorf("detail = %q, want %q", got, want)
		}
		if !slices.Equal(items[0].Keys, []string{"LOG_LEVEL"}) {
			t.Errorf("keys = %v, want [LOG_LEVEL]", items[0].Keys)
		}
	})

	t.Run("a key added and one removed are named, the missing side unset", func(t *testing.T) {
		w, _ := setup(t)
		y := strings.Replace(driftEstate, "      PORT: {type: integer, default: 8080}\n", "      WORKERS: {type: integer, default: 4}\n", 1)
		w.writeYAML(y)
		items, err := w.engine().Drift(t.Context(), "dev")
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != 1 || items[0].Detail != "PORT: 8080 -> (unset); WORKERS: (unset) -> 4" {
			t.Errorf("drift = %+v, want PORT removed and WORKERS added", items)
		}
	})

	t.Run("observe reporting another version is version drift", func(t *testing.T) {
		w, e := setup(t)
		w.write("running-dev", "2.1-hotfix\n")
		items, err := e.Drift(t.Context(), "")
		if err != nil {
			t.Fatal(err)
		}
		if got := kinds(items); got != "api/dev/version" {
			t.Fatalf("drift = %s, want api/dev/version only", got)
		}
		if !strings.HasPrefix(items[0].Detail, "observed 2.1-hotfix, but 2.0 was deployed") {
			t.Errorf("detail = %q", items[0].Detail)
		}
	})

	t.Run("an observe that fails is version drift saying why", func(t *testing.T) {
		w, _ := setup(t)
		w.writeYAML(strings.Replace(driftEstate, `observe: cat "@SCRATCH@/running-$STRATA_ENV"`, `observe: echo "no route to $STRATA_ENV" >&2; exit 3`, 1))
		items, err := w.engine().Drift(t.Context(), "prod")
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != 1 || items[0].Kind != engine.DriftVersion || items[0].Detail != "could not observe: observe step exited with status 3: no route to prod" {
			t.Errorf("drift = %+v, want one version drift saying the step failed", items)
		}
	})

	t.Run("a redeploy clears the drift", func(t *testing.T) {
		w, _ := setup(t)
		w.writeYAML(strings.Replace(driftEstate, "{LOG_LEVEL: info}", "{LOG_LEVEL: warn}", 1))
		e := w.engine()
		w.write("running-dev", "9\n")
		if items, _ := e.Drift(t.Context(), "dev"); kinds(items) != "db/dev/config api/dev/config api/dev/version" {
			t.Fatalf("drift before redeploy = %+v, want config of both and version of api", items)
		}
		w.ship(e, "db", "1", "dev")
		w.ship(e, "api", "2.0", "dev")
		items, err := e.Drift(t.Context(), "dev")
		if err != nil || len(items) != 0 {
			t.Errorf("drift after redeploy = %+v, %v; want none", items, err)
		}
	})

	t.Run("an unknown environment is not found", func(t *testing.T) {
		_, e := setup(t)
		_, err := e.Drift(t.Context(), "prdo")
		if strata.ErrorCode(err) != strata.ENOTFOUND || !strings.Contains(err.Error(), "dev, prod") {
			t.Errorf("got %v, want ENOTFOUND listing dev, prod", err)
		}
	})
}

func TestObserveOverHTTP(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   string // "" for no drift
	}{
		{"a plain body is the version", 200, "2.0\n", ""},
		{"the version field of a JSON body is the version", 200, `{"version": "2.0", "commit": "abc"}`, ""},
		{"another version is drift", 200, `{"version": "1.9"}`, "observed 1.9, but 2.0 was deployed"},
		{"a JSON body without a version says so", 200, `{"v": 1}`, `could not observe: GET URL: the JSON answer has no "version" string`},
		{"an error status says so", 503, "down", "could not observe: GET URL: 503 Service Unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/version/dev" {
					rw.WriteHeader(404)
					return
				}
				rw.WriteHeader(tt.status)
				fmt.Fprint(rw, tt.body)
			}))
			defer srv.Close()
			w := newWorld(t, fmt.Sprintf(`project: shop
environments:
  dev: {}
services:
  api:
    deploy: "true"
    observe: {http: "%s/version/${env.name}", timeout: 2s}
`, srv.URL))
			e := w.engine()
			w.ship(e, "api", "2.0", "dev")
			items, err := e.Drift(t.Context(), "")
			if err != nil {
				t.Fatal(err)
			}
			want := strings.ReplaceAll(tt.want, "URL", srv.URL+"/version/dev")
			switch {
			case want == "" && len(items) != 0:
				t.Errorf("drift = %+v, want none", items)
			case want != "" && (len(items) != 1 || !strings.HasPrefix(items[0].Detail, want)):
				t.Errorf("drift = %+v, want one starting %q", items, want)
			}
		})
	}
}
