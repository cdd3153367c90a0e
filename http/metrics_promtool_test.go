package http_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMetricsPassPromtool feeds /metrics to Prometheus's own checker (promtool, from
// Debian's prometheus package, which .ci/run installs), and checks the standard process and
// runtime metrics and strata_build_info are there.
func TestMetricsPassPromtool(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	x.shipViaAPI("1.0.0", "alice")
	r := x.do("victor", "GET", "/metrics", nil)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	for _, want := range []string{
		`strata_build_info{goversion="go`, `# TYPE go_goroutines gauge`, `# TYPE process_resident_memory_bytes gauge`,
		`# TYPE process_cpu_seconds_total counter`, `strata_webhook_deliveries{state="pending"}`,
		`strata_agents_connected{pool="edge"} 0`, `strata_pool_queue{pool="edge"} 0`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("STRATA_TEST_PROMTOOL") == "require" {
			t.Fatal("promtool is not on PATH and STRATA_TEST_PROMTOOL=require")
		}
		t.Skip("promtool is not on PATH (Debian: apt-get install prometheus; .ci/run installs it)")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(r.body)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}
