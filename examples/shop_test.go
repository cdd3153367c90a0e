//go:build unix

package examples_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/strata-dev/strata/examples"
)

// estate is a copy of the shop in a temporary directory, with its steps read from its
// strata.yaml so that the tests run exactly what Strata would.
type estate struct {
	t     *testing.T
	dir   string
	steps map[string]map[string]string // service -> step kind -> command
	// contains is each service's health.contains, as written (before interpolation).
	contains map[string]string
}

func newEstate(t *testing.T) *estate {
	t.Helper()
	dir := t.TempDir()
	if err := examples.CopyShop(dir); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "strata.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]map[string]any `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	e := &estate{t: t, dir: dir, steps: map[string]map[string]string{}, contains: map[string]string{}}
	for svc, keys := range doc.Services {
		e.steps[svc] = map[string]string{}
		if h, ok := keys["health"].(map[string]any); ok {
			e.contains[svc], _ = h["contains"].(string)
		}
		for _, kind := range []string{"build", "deploy", "destroy", "observe", "health"} {
			switch v := keys[kind].(type) {
			case string:
				e.steps[svc][kind] = v
			case map[string]any:
				for _, form := range []string{"run", "command"} {
					if s, ok := v[form].(string); ok {
						e.steps[svc][kind] = s
					}
				}
			}
		}
	}
	return e
}

// run runs one step of svc as Strata would: /bin/sh -c in the estate directory, with the
// step variables and config keys in vars. The step must end, and close its output, quickly.
func (e *estate) run(svc, kind string, vars map[string]string) (string, error) {
	e.t.Helper()
	script, ok := e.steps[svc][kind]
	if !ok {
		e.t.Fatalf("service %s has no %s step", svc, kind)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script)
	cmd.Dir = e.dir
	cmd.Env = append(os.Environ(), "STRATA_PROJECT=shop", "STRATA_SERVICE="+svc)
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// If a started app kept the step's output open, Wait would block until the timeout.
	cmd.WaitDelay = 2 * time.Second
	// Like Strata, run the step in its own process group and kill what is left of the group
	// when it ends: an app the step started must have left the group to survive.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		e.t.Fatalf("%s %s did not finish: %s", svc, kind, out)
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	return string(out), err
}

// wantHealth returns what svc's health check wants the body to contain for version in env,
// interpolated as Strata would.
func (e *estate) wantHealth(svc, env, version string) string {
	e.t.Helper()
	c := e.contains[svc]
	if c == "" {
		e.t.Fatalf("service %s has no health.contains", svc)
	}
	return strings.NewReplacer("${service.name}", svc, "${release.version}", version, "${env.name}", env).Replace(c)
}

// outputs reads the KEY=value lines a step appended to its outputs file.
func outputs(t *testing.T, file string) map[string]string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), "="); ok {
			out[k] = v
		}
	}
	return out
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// get fetches url, retrying while the server starts, and returns the body.
func get(t *testing.T, url string) string {
	t.Helper()
	var last error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(url)
		if err != nil {
			last = err
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			last = fmt.Errorf("%s: %v %v", resp.Status, err, string(b))
			continue
		}
		return string(b)
	}
	t.Fatalf("GET %s: %v", url, last)
	return ""
}

func refused(url string) bool {
	_, err := http.Get(url)
	return err != nil
}

func readPID(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestShopStepsRunForReal builds the shop and runs its migrations, api and web steps as real
// processes, the way a deployment would, then redeploys and destroys them.
func TestShopStepsRunForReal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the shop")
	}
	e := newEstate(t)
	arts := t.TempDir()
	release := func(svc string) string {
		dir := filepath.Join(arts, svc)
		if out, err := e.run(svc, "build", map[string]string{"STRATA_ARTIFACTS": dir, "STRATA_VERSION": "1.0.0"}); err != nil {
			t.Fatalf("build %s: %v\n%s", svc, err, out)
		}
		return dir
	}
	stepVars := func(svc, env, version, port string) map[string]string {
		return map[string]string{
			"STRATA_ENV":       env,
			"STRATA_VERSION":   version,
			"STRATA_ARTIFACTS": filepath.Join(arts, svc),
			"STRATA_OUTPUTS":   filepath.Join(t.TempDir(), "outputs"),
			"PORT":             port,
			"LOG_LEVEL":        "debug",
		}
	}
	release("migrations")
	release("api")
	release("web")
	t.Cleanup(func() {
		for _, svc := range []string{"web", "api"} {
			e.run(svc, "destroy", stepVars(svc, "test", "1.0.0", ""))
		}
	})

	// migrations
	mig := stepVars("migrations", "test", "1.0.0", "")
	out, err := e.run("migrations", "deploy", mig)
	if err != nil {
		t.Fatalf("deploy migrations: %v\n%s", err, out)
	}
	if !strings.Contains(out, "schema version 2") {
		t.Errorf("migrations deploy said %q, want it at schema version 2", out)
	}
	dbURL := outputs(t, mig["STRATA_OUTPUTS"])["DB_URL"]
	if !strings.HasPrefix(dbURL, "file://") {
		t.Fatalf("migrations wrote DB_URL %q, want a file:// URL", dbURL)
	}
	t.Run("migrating again applies nothing", func(t *testing.T) {
		out, err := e.run("migrations", "deploy", mig)
		if err != nil || strings.Contains(out, "applying") {
			t.Errorf("second migration run: %v\n%s", err, out)
		}
	})
	t.Run("the migrations health check and observe step see the deployment", func(t *testing.T) {
		if out, err := e.run("migrations", "health", mig); err != nil {
			t.Errorf("health: %v\n%s", err, out)
		}
		if out, _ := e.run("migrations", "observe", mig); strings.TrimSpace(out) != "1.0.0" {
			t.Errorf("observe said %q, want 1.0.0", out)
		}
	})

	// api, then web, which is given the api's URL
	api := stepVars("api", "test", "1.0.0", freePort(t))
	api["DB_URL"] = dbURL
	if out, err := e.run("api", "deploy", api); err != nil {
		t.Fatalf("deploy api: %v\n%s", err, out)
	}
	apiURL := outputs(t, api["STRATA_OUTPUTS"])["URL"]
	if want := "http://127.0.0.1:" + api["PORT"]; apiURL != want {
		t.Fatalf("api wrote URL %q, want %q", apiURL, want)
	}
	web := stepVars("web", "test", "1.0.0", freePort(t))
	web["API_URL"] = apiURL
	if out, err := e.run("web", "deploy", web); err != nil {
		t.Fatalf("deploy web: %v\n%s", err, out)
	}
	webURL := outputs(t, web["STRATA_OUTPUTS"])["URL"]

	t.Run("both answer their health check and report their version", func(t *testing.T) {
		for svc, u := range map[string]string{"api": apiURL, "web": webURL} {
			if got, want := get(t, u+"/healthz"), e.wantHealth(svc, "test", "1.0.0"); !strings.Contains(got, want) {
				t.Errorf("%s/healthz = %q, want it to contain %q", u, got, want)
			}
			if got := get(t, u+"/version"); got != "1.0.0" {
				t.Errorf("%s/version = %q, want 1.0.0", u, got)
			}
		}
	})
	t.Run("the api reads the schema version the migrations left", func(t *testing.T) {
		if got := get(t, apiURL+"/api/products"); !strings.Contains(got, `"schema":"2"`) {
			t.Errorf("api catalog = %s, want schema 2", got)
		}
	})
	t.Run("web's page shows what the api answered", func(t *testing.T) {
		got := get(t, webURL+"/")
		for _, want := range []string{"shop web", "Layered cake", "api 1.0.0 in test"} {
			if !strings.Contains(got, want) {
				t.Errorf("web page lacks %q:\n%s", want, got)
			}
		}
	})

	pidFile := filepath.Join(e.dir, ".run", "test", "api.pid")
	t.Run("deploying a new version replaces the running instance", func(t *testing.T) {
		old := readPID(t, pidFile)
		v2 := stepVars("api", "test", "1.0.1", api["PORT"])
		v2["DB_URL"] = dbURL
		if out, err := e.run("api", "deploy", v2); err != nil {
			t.Fatalf("redeploy api: %v\n%s", err, out)
		}
		if got := get(t, apiURL+"/version"); got != "1.0.1" {
			t.Errorf("version after redeploy = %q, want 1.0.1", got)
		}
		if readPID(t, pidFile) == old {
			t.Errorf("pid file still names the old process %s", old)
		}
	})
	t.Run("deploying the same release again is harmless", func(t *testing.T) {
		v2 := stepVars("api", "test", "1.0.1", api["PORT"])
		v2["DB_URL"] = dbURL
		if out, err := e.run("api", "deploy", v2); err != nil {
			t.Fatalf("deploy again: %v\n%s", err, out)
		}
		if got := get(t, apiURL+"/version"); got != "1.0.1" {
			t.Errorf("version = %q, want 1.0.1", got)
		}
	})
	t.Run("an app that cannot start fails its deploy step with its log", func(t *testing.T) {
		clash := stepVars("api", "clash", "1.0.1", api["PORT"]) // the port the api holds
		out, err := e.run("api", "deploy", clash)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || !strings.Contains(out, "address already in use") {
			t.Errorf("deploy on a taken port: %v\n%s", err, out)
		}
		for _, f := range []string{"api.pid", "api.ready"} {
			if _, err := os.Stat(filepath.Join(e.dir, ".run", "clash", f)); err == nil {
				t.Errorf("%s was left for the process that died", f)
			}
		}
		// What holds the port answers, but its answer is not the one clash's check wants.
		if got, want := get(t, apiURL+"/healthz"), e.wantHealth("api", "clash", "1.0.1"); strings.Contains(got, want) {
			t.Errorf("the other environment's api answers %q, which passes clash's check (%q)", got, want)
		}
	})
	t.Run("destroy stops both and can run again", func(t *testing.T) {
		for _, svc := range []string{"web", "api"} {
			for range 2 {
				if out, err := e.run(svc, "destroy", stepVars(svc, "test", "1.0.1", "")); err != nil {
					t.Fatalf("destroy %s: %v\n%s", svc, err, out)
				}
			}
		}
		for _, u := range []string{apiURL, webURL} {
			if !refused(u + "/healthz") {
				t.Errorf("%s still answers after destroy", u)
			}
		}
		if _, err := os.Stat(pidFile); err == nil {
			t.Error("destroy left the pid file")
		}
	})
}
