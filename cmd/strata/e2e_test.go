package main_test

// End-to-end tests of issue 3 (releases and deployments): they build the strata binary once,
// write real estates into temporary directories, and run the binary as a user would, in
// separate processes, against the real SQLite store. Steps are real shell commands.
//
// Every top-level test calls t.Parallel first: each has its own estate (directory, SQLite
// store, scratch directory, key directory), serves on 127.0.0.1:0 and marks its processes,
// so tests never see each other, and most of their time is spent waiting on processes.
// A test waits on conditions (waitFor, a file a step writes, a line of output), never on
// time.Sleep, and asserts no duration: a busy machine must not fail it.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// strataBin is the binary TestMain builds.
var strataBin string

// parallelTests is how many parallel tests run at once unless -test.parallel says otherwise.
// The e2e tests mostly wait (on steps that sleep, health checks, soak times, servers), so
// GOMAXPROCS of them, go test's default, would leave a 2-core machine idle most of the time.
func parallelTests() int { return max(4, 2*runtime.GOMAXPROCS(0)) }

func TestMain(m *testing.M) {
	flag.Parse()
	if !flagGiven("test.parallel") {
		flag.Set("test.parallel", strconv.Itoa(parallelTests()))
	}
	dir, err := os.MkdirTemp("", "strata-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	strataBin = filepath.Join(dir, "strata")
	build := exec.Command("go", "build", "-o", strataBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build strata:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// flagGiven reports whether the command line set the flag name.
func flagGiven(name string) bool {
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// estate is a project directory written by a test, with a scratch directory beside it for
// files that steps write outside the project (counters, markers, locks).
type estate struct {
	t       *testing.T
	dir     string // holds strata.yaml
	scratch string
	env     []string
}

// newEstate writes yaml as strata.yaml into a fresh directory. In yaml, @SCRATCH@ is replaced
// by the scratch directory's path.
func newEstate(t *testing.T, yaml string) *estate {
	t.Helper()
	root := t.TempDir()
	e := &estate{t: t, dir: filepath.Join(root, "project"), scratch: filepath.Join(root, "scratch")}
	for _, d := range []string{e.dir, e.scratch} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.write("strata.yaml", strings.ReplaceAll(yaml, "@SCRATCH@", e.scratch))
	// Secret keys default to the user's config directory: give each estate its own, so that
	// parallel tests (and the user's own keys) never meet. A test that sets STRATA_KEYS wins.
	e.env = append(os.Environ(), "STRATA_ACTOR=e2e-tester", "STRATA_STORE=", "XDG_CONFIG_HOME="+filepath.Join(root, "config"))
	return e
}

// with returns e for a subtest: its helpers then fail t, not the parent test.
func (e *estate) with(t *testing.T) *estate {
	c := *e
	c.t = t
	return &c
}

// write writes a file in the project directory.
func (e *estate) write(name, content string) {
	e.t.Helper()
	path := filepath.Join(e.dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// path returns the path of a file in the scratch directory.
func (e *estate) path(name string) string { return filepath.Join(e.scratch, name) }

// read returns a scratch file's content ("" when it does not exist).
func (e *estate) read(name string) string {
	b, _ := os.ReadFile(e.path(name))
	return string(b)
}

// result is how one strata process ended.
type result struct {
	args           []string
	stdout, stderr string
	code           int
	took           time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("strata %s: exit %d\n--- stdout\n%s--- stderr\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// command returns the strata command for args, run in the project directory.
func (e *estate) command(args ...string) *exec.Cmd {
	cmd := exec.Command(strataBin, args...)
	cmd.Dir = e.dir
	cmd.Env = e.env
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs strata with args in the project directory and waits for it (60s at most).
func (e *estate) run(args ...string) result {
	e.t.Helper()
	cmd := e.command(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("start strata: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		e.t.Fatalf("strata %s did not finish in 60s\n%s", strings.Join(args, " "), errb.String())
	}
	r := result{args: args, stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	if err != nil {
		var exit *exec.ExitError
		if !asExit(err, &exit) {
			e.t.Fatalf("strata %s: %v", strings.Join(args, " "), err)
		}
		r.code = exit.ExitCode()
	}
	return r
}

func asExit(err error, target **exec.ExitError) bool {
	x, ok := err.(*exec.ExitError)
	if ok {
		*target = x
	}
	return ok
}

// must runs strata and fails the test unless it exits with want.
func (e *estate) must(want int, args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != want {
		e.t.Fatalf("want exit %d, got\n%s", want, r)
	}
	return r
}

// background is a strata process a test runs while doing other things. Its output goes to
// files, so that a step left running after strata dies cannot hold the test's pipes.
type background struct {
	cmd    *exec.Cmd
	stdout string
	stderr string
	done   chan struct{}
	code   int
}

// start starts strata with args and returns at once.
func (e *estate) start(args ...string) *background {
	e.t.Helper()
	return e.startCmd(e.command(args...))
}

// startCmd starts cmd (strata, or a command that runs it) as start does.
func (e *estate) startCmd(cmd *exec.Cmd) *background {
	e.t.Helper()
	dir := e.t.TempDir()
	b := &background{cmd: cmd, stdout: filepath.Join(dir, "stdout"), stderr: filepath.Join(dir, "stderr"), done: make(chan struct{})}
	o, err := os.Create(b.stdout)
	if err != nil {
		e.t.Fatal(err)
	}
	se, err := os.Create(b.stderr)
	if err != nil {
		e.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = o, se
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("start strata: %v", err)
	}
	go func() {
		err := cmd.Wait()
		o.Close()
		se.Close()
		b.code = 0
		var exit *exec.ExitError
		if asExit(err, &exit) {
			b.code = exit.ExitCode()
		} else if err != nil {
			b.code = -1
		}
		close(b.done)
	}()
	e.t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			cmd.Process.Kill()
			<-b.done
		}
	})
	return b
}

// wait waits for the background process to end (within d) and returns its result.
func (b *background) wait(t *testing.T, d time.Duration) result {
	t.Helper()
	select {
	case <-b.done:
	case <-time.After(d):
		t.Fatalf("strata %v did not end in %s", b.cmd.Args[1:], d)
	}
	out, _ := os.ReadFile(b.stdout)
	errb, _ := os.ReadFile(b.stderr)
	return result{args: b.cmd.Args[1:], stdout: string(out), stderr: string(errb), code: b.code}
}

// ended reports whether the background process has exited.
func (b *background) ended() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// waitFor polls cond every 20ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// jsonDoc decodes r's stdout, which must be exactly one JSON document, into v.
func jsonDoc(t *testing.T, r result, v any) {
	t.Helper()
	if err := oneJSON([]byte(r.stdout), v); err != nil {
		t.Fatalf("stdout is not exactly one JSON document: %v\n%s", err, r)
	}
}

// oneJSON decodes b into v and fails when anything but white space follows the document.
func oneJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return fmt.Errorf("a second document or trailing text follows the first (%v)", err)
	}
	return nil
}

// deployment is the JSON document of `deploy`, `rollback` and one entry of `history`.
type deployment struct {
	ID          string            `json:"id"`
	Service     string            `json:"service"`
	Environment string            `json:"environment"`
	Version     string            `json:"version"`
	State       string            `json:"state"`
	Attempt     int               `json:"attempt"`
	Kind        string            `json:"kind"`
	Promotion   string            `json:"promotion"`
	RollbackOf  string            `json:"rollback_of"`
	Error       string            `json:"error"`
	Outputs     map[string]string `json:"outputs"`
	StartedAt   *time.Time        `json:"started_at"`
	FinishedAt  *time.Time        `json:"finished_at"`
}

// releaseDoc is the JSON document of `release`.
type releaseDoc struct {
	ID          string       `json:"id"`
	Service     string       `json:"service"`
	Version     string       `json:"version"`
	Digest      string       `json:"digest"`
	Bundle      string       `json:"bundle"`
	Recipe      string       `json:"recipe"`
	Commit      string       `json:"commit"`
	Reused      bool         `json:"reused"`
	Deployments []deployment `json:"deployments"`
}

// history returns `history ARGS -o json`.
func (e *estate) history(args ...string) []deployment {
	e.t.Helper()
	r := e.must(0, append([]string{"history", "-o", "json"}, args...)...)
	var ds []deployment
	jsonDoc(e.t, r, &ds)
	return ds
}

// release runs `release ARGS -o json` and wants exit 0.
func (e *estate) release(args ...string) releaseDoc {
	e.t.Helper()
	r := e.must(0, append([]string{"release", "-o", "json"}, args...)...)
	var doc releaseDoc
	jsonDoc(e.t, r, &doc)
	return doc
}

// deploy runs `deploy ARGS -o json`, wants exit code want, and returns the deployment.
func (e *estate) deploy(want int, args ...string) deployment {
	e.t.Helper()
	r := e.must(want, append([]string{"deploy", "-o", "json"}, args...)...)
	var d deployment
	jsonDoc(e.t, r, &d)
	return d
}

// markerSleep makes a sleep program whose path, and so whose argv[0], holds a marker unique
// to the test, so that the test can find its processes in /proc.
func (e *estate) markerSleep() (path, marker string) {
	e.t.Helper()
	bin, err := exec.LookPath("sleep")
	if err != nil {
		e.t.Skip("no sleep program")
	}
	marker = fmt.Sprintf("e2e-sleep-%d-%d", os.Getpid(), time.Now().UnixNano())
	path = filepath.Join(e.scratch, marker)
	if err := os.Symlink(bin, path); err != nil {
		e.t.Fatal(err)
	}
	return path, marker
}

// processesWith returns the live (not zombie) processes whose command line holds marker.
func processesWith(marker string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(marker)) {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "stat")); err == nil {
			if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X') {
				continue
			}
		}
		out = append(out, pid)
	}
	return out
}

// killMarked kills what is left of a test's marked processes when the test ends.
func killMarked(t *testing.T, marker string) {
	t.Cleanup(func() {
		for _, pid := range processesWith(marker) {
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
		}
	})
}

// find returns the deployments of ds in env (all when env is "").
func find(ds []deployment, service, env string) []deployment {
	var out []deployment
	for _, d := range ds {
		if (service == "" || d.Service == service) && (env == "" || d.Environment == env) {
			out = append(out, d)
		}
	}
	return out
}
