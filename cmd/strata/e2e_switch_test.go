package main_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// switchEstate is a blue/green pair in one group. Each member runs the example shop's app
// as a real process on its own loopback port (@BLUE@, @GREEN@), started detached by the
// deploy step, which writes its pid to pid-ENV; the health check asks the process itself.
// The switch step appends a line to the scratch file switched (and sleeps while the file
// slow exists, so that a test can kill strata mid-step).
const switchEstate = `project: bg
environments:
  staging: {}
  blue:
    config: {PORT: @BLUE@}
  green:
    config: {PORT: @GREEN@}
groups:
  shop-us:
    environments: [blue, green]
    live: blue
    switch: |
      echo "$STRATA_SWITCH $STRATA_KIND $STRATA_GROUP $STRATA_FROM $STRATA_TO" >> @SCRATCH@/switched
      while [ -e @SCRATCH@/slow ]; do sleep 0.1; done
      echo "moved $STRATA_GROUP to $STRATA_TO"
    policy: {approvals: 1}
services:
  api:
    deploy: |
      if [ -s @SCRATCH@/pid-$STRATA_ENV ]; then kill $(cat @SCRATCH@/pid-$STRATA_ENV) 2>/dev/null || true; fi
      rm -f @SCRATCH@/ready-$STRATA_ENV
      SHOP_ROLE=api SHOP_ENV=$STRATA_ENV SHOP_READY=@SCRATCH@/ready-$STRATA_ENV setsid nohup @APP@ </dev/null >>@SCRATCH@/log-$STRATA_ENV 2>&1 &
      echo $! > @SCRATCH@/pid-$STRATA_ENV
      i=0; while [ ! -s @SCRATCH@/ready-$STRATA_ENV ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
    health: {http: "http://127.0.0.1:${config.PORT}/healthz", timeout: 5s, interval: 100ms}
    config:
      PORT: {type: integer, default: 1}
pipeline:
  - stage: staging
    environments: [staging]
  - stage: standby
    environments: {group: shop-us, role: standby}
`

// shopApp builds the example estate's app once per test binary run.
func shopApp(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(filepath.Dir(strataBin), "shop-app")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	build := exec.Command("go", "build", "-o", bin, filepath.Join("..", "..", "examples", "shop", "app", "main.go"))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the shop app: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func newSwitchEstate(t *testing.T) *estate {
	t.Helper()
	app := shopApp(t)
	yaml := strings.NewReplacer("@APP@", app, "@BLUE@", strconv.Itoa(freePort(t)), "@GREEN@", strconv.Itoa(freePort(t))).Replace(switchEstate)
	e := newEstate(t, yaml)
	t.Cleanup(func() {
		for _, env := range []string{"blue", "green"} {
			e.killApp(env)
		}
	})
	e.release("api", "--version", "1.0.0")
	for _, env := range []string{"blue", "green"} {
		if d := e.deploy(0, "api@1.0.0", "--env", env); d.State != "succeeded" {
			t.Fatalf("deploy to %s: %s", env, d.State)
		}
	}
	return e
}

// killApp kills the app process of env, as an outage would.
func (e *estate) killApp(env string) {
	pid, err := strconv.Atoi(strings.TrimSpace(e.read("pid-" + env)))
	if err != nil || pid <= 0 {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	// Wait until it no longer answers: its port closes with it.
	for i := 0; i < 100; i++ {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); strings.Contains(string(b), ") Z ") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type groupDoc struct {
	Name         string   `json:"name"`
	Live         string   `json:"live"`
	Environments []string `json:"environments"`
}

type switchDoc struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	State  string `json:"state"`
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason"`
	Gates  []struct {
		Name   string `json:"name"`
		OK     bool   `json:"ok"`
		Detail string `json:"detail"`
	} `json:"gates"`
	Diff *struct {
		Differences []json.RawMessage `json:"differences"`
	} `json:"diff"`
}

func (e *estate) live(group string) string {
	e.t.Helper()
	var gs []groupDoc
	r := e.must(0, "-o", "json", "groups")
	if err := json.Unmarshal([]byte(r.stdout), &gs); err != nil {
		e.t.Fatalf("groups: %v\n%s", err, r)
	}
	for _, g := range gs {
		if g.Name == group {
			return g.Live
		}
	}
	e.t.Fatalf("no group %s in %s", group, r.stdout)
	return ""
}

func decodeSwitch(t *testing.T, r result) switchDoc {
	t.Helper()
	var d switchDoc
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("switch document: %v\n%s", err, r)
	}
	return d
}

func TestASwitchIsGatedApprovedByAnotherAndMovesTheLiveMember(t *testing.T) {
	t.Parallel()
	e := newSwitchEstate(t)
	if got := e.live("shop-us"); got != "blue" {
		t.Fatalf("live %q before any switch, want strata.yaml's blue", got)
	}
	plan := decodeSwitch(t, e.must(0, "-o", "json", "plan", "--switch", "shop-us", "--to", "green"))
	if plan.ID != "" || plan.Diff == nil || len(plan.Gates) != 5 {
		t.Fatalf("plan --switch: %+v, want no id, the gates and the diff", plan)
	}

	r := e.must(3, "-o", "json", "--as", "alice", "switch", "shop-us", "--to", "green", "--reason", "1.0.0 verified on green")
	waiting := decodeSwitch(t, r)
	if waiting.State != "waiting" || !strings.HasPrefix(waiting.ID, "sw-") || !strings.Contains(r.stderr, "strata approve "+waiting.ID) {
		t.Fatalf("an unapproved switch: %+v\n%s", waiting, r)
	}
	e.must(2, "--as", "alice", "approve", waiting.ID) // the requester cannot approve
	if e.read("switched") != "" || e.live("shop-us") != "blue" {
		t.Fatal("a waiting switch ran its step or moved the live member")
	}
	done := decodeSwitch(t, e.must(0, "-o", "json", "--as", "bob", "approve", waiting.ID))
	if done.State != "succeeded" || e.live("shop-us") != "green" {
		t.Fatalf("approved switch: %+v, live %s", done, e.live("shop-us"))
	}
	if got, want := e.read("switched"), waiting.ID+" switch shop-us blue green\n"; got != want {
		t.Fatalf("the switch step saw %q, want %q", got, want)
	}

	var st struct {
		Cells []struct {
			Environment string `json:"environment"`
			Group       string `json:"group"`
			Live        bool   `json:"live"`
		} `json:"cells"`
		Groups []groupDoc `json:"groups"`
	}
	if err := json.Unmarshal([]byte(e.must(0, "-o", "json", "status").stdout), &st); err != nil {
		t.Fatal(err)
	}
	for _, c := range st.Cells {
		if c.Environment != "staging" && (c.Group != "shop-us" || c.Live != (c.Environment == "green")) {
			t.Fatalf("status cell %+v: want green marked live in shop-us", c)
		}
	}
	if len(st.Groups) != 1 || st.Groups[0].Live != "green" {
		t.Fatalf("status groups %+v", st.Groups)
	}
	if text := e.must(0, "status").stdout; !strings.Contains(text, "green (live shop-us)") || !strings.Contains(text, "blue (standby shop-us)") {
		t.Fatalf("status text does not mark the live member:\n%s", text)
	}
	// The standby stage now targets blue, the old live member.
	if r := e.must(0, "-o", "json", "plan", "api@1.0.0", "--to", "standby"); !strings.Contains(r.stdout, `"blue"`) || strings.Contains(r.stdout, `"green"`) {
		t.Fatalf("plan into the standby stage after the switch:\n%s", r.stdout)
	}
	audit := e.must(0, "audit").stdout
	for _, action := range []string{"switch.request", "switch.approve", "switch.running", "switch.succeeded"} {
		if !strings.Contains(audit, action) {
			t.Fatalf("the audit log has no %s:\n%s", action, audit)
		}
	}
}

func TestASwitchToAMemberThatIsDownIsRefusedNamingTheHealthGate(t *testing.T) {
	t.Parallel()
	e := newSwitchEstate(t)
	e.killApp("green")
	r := e.must(3, "--as", "alice", "switch", "shop-us", "--to", "green")
	if !strings.Contains(r.stderr, "gate health") || !strings.Contains(r.stderr, "api@1.0.0 fails its health check in green") {
		t.Fatalf("want the health gate named:\n%s", r)
	}
	if e.read("switched") != "" || e.live("shop-us") != "blue" {
		t.Fatal("a refused switch ran its step or moved the live member")
	}
}

func TestBadSwitchInputIsRefusedWithStatusTwo(t *testing.T) {
	t.Parallel()
	e := newEstate(t, strings.NewReplacer("@APP@", "true", "@BLUE@", "1", "@GREEN@", "2").Replace(switchEstate))
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"a --to that is no member names the flag and the members", []string{"switch", "shop-us", "--to", "staging"}, "--to staging: unknown member of group shop-us"},
		{"an unknown group names the groups", []string{"switch", "shop-eu", "--to", "blue"}, `unknown group "shop-eu"; known: shop-us`},
		{"a switch without --to says so", []string{"switch", "shop-us"}, "switch needs --to ENV"},
		{"a failover without a reason says so", []string{"failover", "shop-us"}, "failover needs --reason"},
		{"a hostile reason is refused", []string{"switch", "shop-us", "--to", "green", "--reason", "a\x1b[2Jb"}, "--reason"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.with(t).must(2, c.args...)
			if !strings.Contains(r.stderr, c.want) {
				t.Fatalf("want %q in stderr:\n%s", c.want, r)
			}
		})
	}
	if _, err := os.Stat(e.path("switched")); err == nil {
		t.Fatal("bad input ran the switch step")
	}
	t.Run("an environment in two groups is a config error at its line", func(t *testing.T) {
		bad := strings.NewReplacer("@APP@", "true", "@BLUE@", "1", "@GREEN@", "2", "services:", "  other:\n    environments: [green, staging]\nservices:").Replace(switchEstate)
		e := newEstate(t, bad)
		r := e.must(2, "groups")
		if !strings.Contains(r.stderr, `strata.yaml:18:20: environment "green" is in two groups`) {
			t.Fatalf("want file:line:col of the second mention:\n%s", r)
		}
	})
}

func TestAFailoverOffADeadLiveSideSkipsItsGatesAndLeavesDriftUntilItIsHealthy(t *testing.T) {
	t.Parallel()
	e := newSwitchEstate(t)
	e.killApp("blue") // the live side goes down

	r := e.must(3, "-o", "json", "--as", "alice", "switch", "shop-us", "--to", "green", "--reason", "blue is down")
	if !strings.Contains(r.stderr, "gate approvals") {
		t.Fatalf("a plain switch still needs its approvals:\n%s", r)
	}
	// Asked again, the waiting switch is given back; it holds the group until rejected.
	id := decodeSwitch(t, r).ID
	if again := decodeSwitch(t, e.must(3, "-o", "json", "--as", "alice", "switch", "shop-us", "--to", "green")); again.ID != id {
		t.Fatalf("a second request made %s, want the waiting %s", again.ID, id)
	}
	e.must(2, "--as", "carol", "failover", "shop-us", "--reason", "too early")
	e.must(0, "--as", "bob", "reject", id, "--reason", "failing over instead")

	fo := decodeSwitch(t, e.must(0, "-o", "json", "--as", "carol", "failover", "shop-us", "--reason", "INC-1: us-east down"))
	if fo.Kind != "failover" || fo.State != "succeeded" || fo.From != "blue" || fo.To != "green" || fo.Reason != "INC-1: us-east down" {
		t.Fatalf("failover: %+v", fo)
	}
	for _, g := range fo.Gates[:3] {
		if !g.OK || !strings.Contains(g.Detail, "skipped: failover by carol (INC-1: us-east down)") {
			t.Fatalf("gate %s of a failover: %+v, want it skipped with who and why", g.Name, g)
		}
	}
	if e.live("shop-us") != "green" {
		t.Fatal("the failover did not make green live")
	}
	if audit := e.must(0, "audit").stdout; !strings.Contains(audit, "failover.succeeded") || !strings.Contains(audit, "INC-1: us-east down") {
		t.Fatalf("the audit log lacks the break-glass record:\n%s", audit)
	}

	r = e.must(1, "-o", "json", "drift")
	var drift struct {
		Drift []struct {
			Service, Environment, Kind, Detail string
		} `json:"drift"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &drift); err != nil {
		t.Fatal(err)
	}
	if len(drift.Drift) != 1 || drift.Drift[0].Kind != "failover" || drift.Drift[0].Environment != "blue" ||
		!strings.Contains(drift.Drift[0].Detail, "failed over from blue to green") {
		t.Fatalf("drift after the failover: %+v", drift.Drift)
	}

	// Mended: blue runs again, and the failover's drift ends by itself.
	e.must(0, "deploy", "api@1.0.0", "--env", "blue")
	if r := e.must(0, "drift"); strings.Contains(r.stdout, "failover") {
		t.Fatalf("drift still reports the failover once blue is healthy:\n%s", r)
	}
}

func TestAFailoverNeedsTheAdminOrApproverRoleOnAServer(t *testing.T) {
	t.Parallel()
	e := newEstate(t, strings.NewReplacer("@APP@", "true", "@BLUE@", "1", "@GREEN@", "2").Replace(switchEstate))
	deployer := createToken(t, e, "dep", "--role", "deployer").Token
	approver := createToken(t, e, "appr", "--role", "approver").Token
	srv := serve(t, e)
	r := e.as(srv, deployer).must(4, "failover", "shop-us", "--reason", "test")
	if !strings.Contains(r.stderr, "approve") {
		t.Fatalf("a deployer's failover: want a refusal naming the action:\n%s", r)
	}
	fo := decodeSwitch(t, e.as(srv, approver).must(0, "-o", "json", "failover", "shop-us", "--reason", "drill"))
	if fo.State != "succeeded" || fo.To != "green" {
		t.Fatalf("an approver's failover: %+v", fo)
	}
	var gs []groupDoc
	if err := json.Unmarshal([]byte(e.as(srv, deployer).must(0, "-o", "json", "groups").stdout), &gs); err != nil || len(gs) != 1 || gs[0].Live != "green" {
		t.Fatalf("groups over the server: %+v %v", gs, err)
	}
}

func TestASwitchWhoseProcessDiedIsResumedAndMovesTheLiveMemberOnce(t *testing.T) {
	t.Parallel()
	e := newEstate(t, strings.NewReplacer("@APP@", "true", "@BLUE@", "1", "@GREEN@", "2", "policy: {approvals: 1}", "policy: {approvals: 0}").Replace(switchEstate))
	if err := os.WriteFile(e.path("slow"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	bg := e.start("--as", "alice", "switch", "shop-us", "--to", "green")
	waitFor(t, 30*time.Second, "the switch step to start", func() bool { return strings.Contains(e.read("switched"), "green") })
	bg.cmd.Process.Kill()
	bg.wait(t, 10*time.Second)
	if e.live("shop-us") != "blue" {
		t.Fatal("the live member moved before the switch step ended")
	}
	if r := e.must(0, "groups"); !strings.Contains(r.stderr, "was interrupted; `strata resume` runs its step again") {
		t.Fatalf("the interrupted switch is not reported:\n%s", r)
	}
	os.Remove(e.path("slow"))
	r := e.must(0, "resume")
	if !strings.Contains(r.stdout, "shop-us blue -> green succeeded") {
		t.Fatalf("resume did not finish the switch:\n%s", r)
	}
	lines := strings.Split(strings.TrimSpace(e.read("switched")), "\n")
	if len(lines) != 2 || lines[0] != lines[1] {
		t.Fatalf("the switch step ran %d times with %q; want twice, with the same id", len(lines), lines)
	}
	if e.live("shop-us") != "green" {
		t.Fatal("the resumed switch did not make green live")
	}
	e.must(0, "resume") // nothing left: the pointer is not moved twice
	audit := e.must(0, "audit").stdout
	if n := strings.Count(audit, "switch.succeeded"); n != 1 {
		t.Fatalf("%d switch.succeeded events, want 1:\n%s", n, audit)
	}
}

func TestTheSwitchStepsOutputHasTheMembersSecretsRedacted(t *testing.T) {
	t.Parallel()
	const secretValue = "s3cr3t-green-7f1c"
	yaml := strings.NewReplacer("@APP@", "true", "@BLUE@", "1", "@GREEN@", "2", "policy: {approvals: 1}", "policy: {approvals: 0}",
		`echo "moved $STRATA_GROUP to $STRATA_TO"`, `echo "moved $STRATA_GROUP to $STRATA_TO with $LEAK"`,
		"      PORT: {type: integer, default: 1}", "      PORT: {type: integer, default: 1}\n      TOKEN: {type: string, secret: true}").Replace(switchEstate)
	e := newEstate(t, yaml)
	e.must(0, "secret", "keygen", "green")
	setSecret(t, e, "green", "TOKEN", secretValue)
	leaky := e.plusEnv("LEAK=" + secretValue)
	r := leaky.must(0, "-o", "json", "switch", "shop-us", "--to", "green")
	if strings.Contains(r.stdout+r.stderr, secretValue) {
		t.Fatalf("the secret is in the switch's output:\n%s", r)
	}
	if !strings.Contains(r.stdout, "moved shop-us to green with ***") {
		t.Fatalf("want the redacted line in the stored output:\n%s", r)
	}
	if audit := e.must(0, "audit").stdout; strings.Contains(audit, secretValue) {
		t.Fatalf("the secret is in the audit log:\n%s", audit)
	}
}
