package main_test

import (
	"bytes"
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

const statusEstate = `project: matrix
environments:
  dev: {labels: {tier: dev}}
  staging: {labels: {tier: staging}}
services:
  api:
    build: echo "$STRATA_VERSION" > "$STRATA_ARTIFACTS/v"
    deploy: echo deploying api; sleep 0.2
  web:
    build: echo "$STRATA_VERSION" > "$STRATA_ARTIFACTS/v"
    deploy: exit 3
`

type statusCell struct {
	Service     string     `json:"service"`
	Environment string     `json:"environment"`
	Version     string     `json:"version"`
	State       string     `json:"state"`
	DeployedAt  *time.Time `json:"deployed_at"`
}

func TestStatusHistoryAndDiffShowWhatRunsWhere(t *testing.T) {
	t.Parallel()
	e := newEstate(t, statusEstate)
	e.release("api", "--version", "1")
	e.release("api", "--version", "2")
	e.release("web", "--version", "1")
	e.deploy(0, "api@1", "--env", "staging")
	e.deploy(0, "api@1", "--env", "dev")
	e.deploy(0, "api@2", "--env", "dev")
	e.deploy(1, "web@1", "--env", "dev")

	t.Run("status is the environment by service matrix", func(t *testing.T) {
		e := e.with(t)
		var doc struct{ Cells []statusCell }
		jsonDoc(t, e.must(0, "status", "-o", "json"), &doc)
		got := map[string]statusCell{}
		for _, c := range doc.Cells {
			got[c.Environment+"/"+c.Service] = c
		}
		if len(doc.Cells) != 4 {
			t.Errorf("want 4 cells (2 environments x 2 services), got %d", len(doc.Cells))
		}
		for key, want := range map[string][2]string{
			"dev/api": {"2", "succeeded"}, "staging/api": {"1", "succeeded"},
			"dev/web": {"", "failed"}, "staging/web": {"", ""},
		} {
			c := got[key]
			if c.Version != want[0] || c.State != want[1] {
				t.Errorf("%s: got version %q state %q, want %q %q", key, c.Version, c.State, want[0], want[1])
			}
			if (c.Version != "") != (c.DeployedAt != nil) {
				t.Errorf("%s: deployed_at %v with version %q", key, c.DeployedAt, c.Version)
			}
		}
		text := e.must(0, "status").stdout
		lines := strings.Split(text, "\n")
		if len(lines) < 3 || !strings.Contains(lines[0], "api") || !strings.Contains(lines[0], "web") {
			t.Fatalf("status text should have a header of services:\n%s", text)
		}
		if !regexp.MustCompile(`(?m)^dev\s+2 \d+s\s+- \(failed\)\s*$`).MatchString(text) || !regexp.MustCompile(`(?m)^staging\s+1 \d+s\s+-\s*$`).MatchString(text) {
			t.Errorf("status text should show versions, ages and states per environment:\n%s", text)
		}
	})

	t.Run("history is newest first and filters by service and environment", func(t *testing.T) {
		e := e.with(t)
		all := e.history()
		var got []string
		for _, d := range all {
			got = append(got, d.Service+"@"+d.Version+"/"+d.Environment+":"+d.State)
		}
		want := []string{"web@1/dev:failed", "api@2/dev:succeeded", "api@1/dev:succeeded", "api@1/staging:succeeded"}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("history:\ngot  %v\nwant %v", got, want)
		}
		for i := 1; i < len(all); i++ {
			if all[i].StartedAt.After(*all[i-1].StartedAt) {
				t.Errorf("history is not newest first at %d", i)
			}
		}
		for _, tc := range []struct {
			name string
			args []string
			want int
		}{
			{"a service", []string{"api"}, 3},
			{"an environment", []string{"--env", "staging"}, 1},
			{"both", []string{"api", "--env", "dev"}, 2},
			{"a service never deployed there", []string{"web", "--env", "staging"}, 0},
		} {
			ds := e.history(tc.args...)
			if len(ds) != tc.want {
				t.Errorf("history of %s: got %d, want %d", tc.name, len(ds), tc.want)
			}
			for _, d := range ds {
				if (len(tc.args) > 0 && tc.args[0] != "--env" && d.Service != tc.args[0]) || (strings.Contains(strings.Join(tc.args, " "), "--env") && d.Environment != tc.args[len(tc.args)-1]) {
					t.Errorf("history of %s holds %s in %s", tc.name, d.Service, d.Environment)
				}
			}
		}
		if text := e.must(0, "history", "api", "--env", "dev").stdout; !strings.Contains(text, "succeeded") || strings.Contains(text, "staging") {
			t.Errorf("history text:\n%s", text)
		}
	})

	t.Run("diff shows the version that differs", func(t *testing.T) {
		e := e.with(t)
		var doc struct {
			Differences []struct {
				Service, Kind, Key string
				A, B               any
			}
		}
		jsonDoc(t, e.must(0, "diff", "dev", "staging", "-o", "json"), &doc)
		var versions []string
		for _, d := range doc.Differences {
			if d.Kind == "version" {
				versions = append(versions, d.Service+":"+toString(d.A)+"->"+toString(d.B))
			}
		}
		if strings.Join(versions, " ") != "api:2->1" {
			t.Errorf("version differences: got %v, want api 2 in dev, 1 in staging (web runs nowhere)", versions)
		}
		if text := e.must(0, "diff", "dev", "staging").stdout; !regexp.MustCompile(`api\s+version\s+version\s+2\s+1`).MatchString(text) {
			t.Errorf("diff text should show api's versions:\n%s", text)
		}
	})
}

func toString(v any) string {
	if v == nil {
		return "-"
	}
	if s, ok := v.(string); ok {
		return s
	}
	return "?"
}

func TestProgressGoesToStderrAndJSONModePrintsOneDocument(t *testing.T) {
	t.Parallel()
	e := newEstate(t, statusEstate)

	t.Run("text mode names the service, environment, step and elapsed time", func(t *testing.T) {
		e := e.with(t)
		e.release("api", "--version", "1")
		r := e.must(0, "deploy", "api@1", "--env", "dev")
		for _, want := range []string{"api", "dev", "deploy", "deploying api"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("progress should mention %q:\n%s", want, r)
			}
		}
		if !regexp.MustCompile(`\d+(\.\d+)?(ms|s)\b`).MatchString(r.stderr) {
			t.Errorf("progress should say how long it took:\n%s", r)
		}
		if strings.Contains(r.stdout, "deploying api") {
			t.Errorf("step output belongs on stderr, not stdout:\n%s", r)
		}
	})

	t.Run("a silent step's progress repeats with the time it has run", func(t *testing.T) {
		e := e.with(t)
		// The step prints nothing and runs until the test has seen the repeated line (every
		// 5s), so the line cannot miss the step however slow the machine is.
		e.write("strata.yaml", statusEstate+"  quiet:\n    deploy: 'while [ ! -e \""+e.path("go")+"\" ]; do sleep 0.05; done'\n")
		t.Cleanup(func() { os.WriteFile(e.path("go"), nil, 0o644) })
		e.release("quiet", "--version", "1")
		b := e.start("deploy", "quiet@1", "--env", "staging")
		repeat := regexp.MustCompile(`(?m)quiet.*staging.*deploy.*\b\d+s\b`)
		waitFor(t, 60*time.Second, "a progress line while the silent step runs", func() bool {
			out, _ := os.ReadFile(b.stderr)
			return repeat.Match(out) || b.ended()
		})
		if b.ended() {
			t.Fatalf("the deploy ended while its step waits for the test:\n%s", b.wait(t, time.Second))
		}
		if err := os.WriteFile(e.path("go"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if r := b.wait(t, 60*time.Second); r.code != 0 || !repeat.MatchString(r.stderr) {
			t.Errorf("while the step ran, progress should name the service, environment, step and elapsed time:\n%s", r)
		}
	})

	t.Run("every command prints exactly one JSON document on stdout", func(t *testing.T) {
		e := e.with(t)
		runs := [][]string{
			{"release", "api", "--version", "2"},
			{"release", "web", "--version", "1"},
			{"release", "api", "--version", "2"},
			{"deploy", "api@2", "--env", "dev"},
			{"deploy", "api@1", "--env", "staging"},
			{"deploy", "web@1", "--env", "dev"},
			{"deploy", "api@9", "--env", "dev"},
			{"deploy", "api", "--env", "nowhere"},
			{"rollback", "api", "--env", "dev"},
			{"status"},
			{"history"},
			{"history", "api", "--env", "dev"},
			{"diff", "dev", "staging"},
			{"resume"},
			{"version"},
		}
		for _, args := range runs {
			r := e.run(append(args, "-o", "json")...)
			var v any
			if err := oneJSON([]byte(r.stdout), &v); err != nil {
				t.Errorf("not exactly one JSON document on stdout: %v\n%s", err, r)
			}
			if strings.Contains(r.stdout, "deploying api") {
				t.Errorf("step output on stdout in JSON mode:\n%s", r)
			}
		}
		id := e.history()[0].ID
		r := e.must(0, "logs", id, "-o", "json")
		var v any
		if err := oneJSON([]byte(r.stdout), &v); err != nil {
			t.Errorf("logs: %v\n%s", err, r)
		}
	})
}

func TestAFileThatIsNotAStrataStoreIsRefusedUntouched(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		content []byte
	}{
		{"garbage", bytes.Repeat([]byte("not a database\x00\xff"), 300)},
		{"a text file", []byte("hello\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEstate(t, statusEstate)
			path := filepath.Join(e.dir, ".strata", "state.db")
			os.MkdirAll(filepath.Dir(path), 0o755)
			if err := os.WriteFile(path, tc.content, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"status"}, {"history"}, {"release", "api", "--version", "1"}, {"deploy", "api", "--env", "dev"}, {"resume"}, {"status", "-o", "json"}} {
				r := e.must(2, args...)
				if !strings.Contains(r.stderr, "state.db") || !strings.Contains(r.stderr, "not a Strata store") {
					t.Errorf("the error should name the file and say it is not a Strata store:\n%s", r)
				}
				got, err := os.ReadFile(path)
				if err != nil || !bytes.Equal(got, tc.content) {
					t.Fatalf("%v changed the file (%v)", args, err)
				}
			}
			entries, _ := os.ReadDir(filepath.Dir(path))
			if len(entries) != 1 {
				var names []string
				for _, en := range entries {
					names = append(names, en.Name())
				}
				t.Errorf("files appeared beside the refused store: %v", names)
			}
		})
	}
}

func TestAStoreFromANewerStrataIsRefusedUntouched(t *testing.T) {
	t.Parallel()
	e := newEstate(t, statusEstate)
	e.release("api", "--version", "1")
	path := filepath.Join(e.dir, ".strata", "state.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_version (version, applied_at) VALUES (999, 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	os.Remove(path + "-wal")
	os.Remove(path + "-shm")
	before, _ := os.ReadFile(path)

	for _, args := range [][]string{{"status"}, {"history", "-o", "json"}, {"deploy", "api@1", "--env", "dev"}, {"resume"}} {
		r := e.must(2, args...)
		if !strings.Contains(r.stderr, "newer") || !strings.Contains(r.stderr, "999") {
			t.Errorf("the error should say a newer Strata wrote the store (schema 999):\n%s", r)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
			t.Fatalf("%v changed the store file", args)
		}
	}
}
