package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// jsClient is the OpenFeature JavaScript server SDK with its OFREP provider, running in node
// (testdata/ofrep-js/evaluate.mjs), one evaluation a line.
type jsClient struct {
	t   *testing.T
	in  io.WriteCloser
	out *bufio.Scanner
}

type jsResult struct {
	Value     any
	Reason    string
	Variant   string
	ErrorCode string
}

// startJS starts the JavaScript client against url with token, or skips t saying what is
// missing: node, or the npm packages (.ci/run installs them with npm ci).
func startJS(t *testing.T, url, token string) *jsClient {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the OpenFeature JavaScript SDK cannot run")
	}
	dir, err := filepath.Abs(filepath.Join("testdata", "ofrep-js"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@openfeature", "ofrep-provider")); err != nil {
		t.Skipf("the OpenFeature npm packages are not installed: run `npm ci --prefix %s` (.ci/run does)", dir)
	}
	cmd := exec.Command(node, "evaluate.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "STRATA_URL="+url, "STRATA_TOKEN="+token)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return &jsClient{t: t, in: in, out: bufio.NewScanner(out)}
}

// eval evaluates key (of typ, with def as the code's default) for ctx through the SDK.
func (c *jsClient) eval(typ, key string, def any, ctx map[string]any) jsResult {
	c.t.Helper()
	q, _ := json.Marshal(map[string]any{"type": typ, "key": key, "default": def, "context": ctx})
	if _, err := fmt.Fprintf(c.in, "%s\n", q); err != nil {
		c.t.Fatalf("write to the JavaScript client: %v", err)
	}
	if !c.out.Scan() {
		c.t.Fatalf("the JavaScript client ended: %v", c.out.Err())
	}
	var r jsResult
	if err := json.Unmarshal(c.out.Bytes(), &r); err != nil {
		c.t.Fatalf("the JavaScript client wrote %q: %v", c.out.Text(), err)
	}
	return r
}

func TestOFREPWithTheOpenFeatureJavaScriptSDK(t *testing.T) {
	e := newEstate(t, flagEstate+`  banner:
    type: string
    variants: {blue: "#00f", red: "#f00"}
    default: red
    rollout: {percent: 50, value: blue}
`)
	token := createToken(t, e, "web", "--role", "client", "--env", "prod-eu").Token
	url := serveFlags(t, e)
	js := startJS(t, url, token)
	user := map[string]any{"targetingKey": "user-7"}

	for _, tc := range []struct {
		name, typ, key string
		def            any
		ctx            map[string]any
		value, reason  string
	}{
		{"a boolean inherited through extends", "boolean", "checkout", false, user, "true", "DEFAULT"},
		{"a rule match", "boolean", "checkout", true, map[string]any{"targetingKey": "u", "plan": "gold"}, "false", "TARGETING_MATCH"},
		{"an object", "object", "theme", map[string]any{}, user, `{"color":"blue"}`, "STATIC"},
		{"a requires flag before its version runs", "boolean", "search", true, user, "false", "DISABLED"},
		{"an unknown flag gives the code's default", "string", "nope", "fallback", user, `"fallback"`, "ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := js.eval(tc.typ, tc.key, tc.def, tc.ctx)
			v, _ := json.Marshal(got.Value)
			if string(v) != tc.value || got.Reason != tc.reason {
				t.Errorf("got %+v, want value %s reason %s", got, tc.value, tc.reason)
			}
		})
	}

	t.Run("a rollout gives a user the same variant every time", func(t *testing.T) {
		first := js.eval("string", "banner", "", user)
		for range 5 {
			if again := js.eval("string", "banner", "", user); again.Value != first.Value || again.Reason != "SPLIT" {
				t.Fatalf("user-7 got %+v, then %+v", first, again)
			}
		}
		if miss := js.eval("string", "banner", "none", map[string]any{}); miss.ErrorCode != "TARGETING_KEY_MISSING" || miss.Value != "none" {
			t.Errorf("without a targeting key: %+v, want TARGETING_KEY_MISSING and the code's default", miss)
		}
	})

	t.Run("a kill and a change are seen while the client keeps evaluating", func(t *testing.T) {
		e := e.with(t)
		e.must(0, "flag", "kill", "checkout", "--env", "prod-eu", "--reason", "incident")
		waitFor(t, 10*time.Second, "the SDK to see the kill", func() bool {
			r := js.eval("boolean", "checkout", false, map[string]any{"plan": "gold"})
			return r.Reason == "DISABLED" && r.Value == true
		})
		e.must(0, "flag", "unkill", "checkout", "--env", "prod-eu")
		e.must(0, "flag", "set", "checkout", "false", "--env", "prod-eu", "--reason", "dark launch over")
		waitFor(t, 10*time.Second, "the SDK to see the set value", func() bool {
			r := js.eval("boolean", "checkout", true, user)
			return r.Reason == "STATIC" && r.Value == false
		})
	})

	t.Run("a requires flag turns on with the deployment and off with the rollback", func(t *testing.T) {
		e := e.with(t)
		e.must(0, "release", "api", "--version", "1.3.0")
		e.must(0, "release", "api", "--version", "1.4.0")
		e.must(0, "deploy", "api@1.3.0", "--env", "prod-eu")
		e.must(0, "deploy", "api@1.4.0", "--env", "prod-eu")
		waitFor(t, 10*time.Second, "search to turn on once api 1.4.0 runs", func() bool {
			return js.eval("boolean", "search", false, user).Reason == "SPLIT"
		})
		e.must(0, "rollback", "api", "--env", "prod-eu")
		waitFor(t, 10*time.Second, "search to turn off after the rollback to 1.3.0", func() bool {
			r := js.eval("boolean", "search", true, user)
			return r.Reason == "DISABLED" && r.Value == false
		})
	})
}
