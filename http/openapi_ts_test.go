package http_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// checkTS is a small program against the generated client types: it reads a page of the
// status and the typed query of the deployments, so that a response schema or a parameter
// type that is wrong fails to compile.
const checkTS = `import type { paths, components } from "./strata";

declare const process: { argv: string[]; exit(code: number): never };

type Status = paths["/api/v1/status"]["get"]["responses"]["200"]["content"]["application/json"];
type HistoryQuery = NonNullable<paths["/api/v1/deployments"]["get"]["parameters"]["query"]>;
type Cell = components["schemas"]["ReportCell"];

const q: HistoryQuery = { limit: 2, service: "api" };

async function main(base: string, token: string): Promise<void> {
  const res = await fetch(base + "/api/v1/status?limit=" + q.limit, { headers: { Authorization: "Bearer " + token } });
  const doc = (await res.json()) as Status;
  const cells: Cell[] = doc.cells;
  const next: string | undefined = doc.next;
  console.log(JSON.stringify({ cells: cells.length, first: cells[0].environment, next: next ?? "" }));
}

main(process.argv[2], process.argv[3]).catch((e) => { console.error(e); process.exit(1); });
`

// TestATypeScriptClientGeneratedFromTheDocumentCompilesAndRuns generates a client with
// openapi-typescript (npm) from a running server's document, type-checks checkTS against it
// with tsc, and runs it against the server. .ci/run installs the tools (npm ci in
// testdata/tsclient, from the committed lockfile); without them the test says so and skips.
func TestATypeScriptClientGeneratedFromTheDocumentCompilesAndRuns(t *testing.T) {
	tools, _ := filepath.Abs(filepath.Join("testdata", "tsclient", "node_modules"))
	gen := filepath.Join(tools, "openapi-typescript", "bin", "cli.js")
	tsc := filepath.Join(tools, "typescript", "bin", "tsc")
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the generated TypeScript client is not checked")
	}
	for _, f := range []string{gen, tsc} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("%s is missing: run npm ci in http/testdata/tsclient (.ci/run does)", f)
		}
	}
	x := newAPIEstate(t, apiYAML)
	x.shipToProd("1.0", "alice")
	dir := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(node, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("node %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	spec := x.do("carol", "GET", "/api/v1/openapi.json", nil).body
	if err := os.WriteFile(filepath.Join(dir, "openapi.json"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "check.ts"), []byte(checkTS), 0o644); err != nil {
		t.Fatal(err)
	}
	run(gen, "openapi.json", "-o", "strata.d.ts")
	run(tsc, "--strict", "--target", "es2022", "--module", "es2022", "--moduleResolution", "bundler", "--lib", "es2022,dom", "--outDir", "out", "check.ts")
	if err := os.WriteFile(filepath.Join(dir, "out", "package.json"), []byte(`{"type": "module"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Cells int
		First string
		Next  string
	}
	out := run(filepath.Join("out", "check.js"), x.url, x.tokens["victor"])
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &got); err != nil {
		t.Fatalf("the program printed %q: %v", out, err)
	}
	if got.Cells != 2 || got.First != "dev" || got.Next == "" {
		t.Errorf("the program read %+v; want the first 2 cells from dev, and a next page", got)
	}
}
