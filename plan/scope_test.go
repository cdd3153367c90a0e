package plan_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/plan"
)

func TestNarrow(t *testing.T) {
	three := &strata.Stage{Name: "prod", Environments: []string{"us", "eu", "ap"}, Waves: 1}
	named := &strata.Stage{Name: "prod", Environments: []string{"us", "eu", "ap"}, WaveLists: [][]string{{"us"}, {"eu", "ap"}}}
	tests := []struct {
		name      string
		stage     *strata.Stage
		only      []string
		wantEnvs  []string
		wantWaves [][]string
		wantErr   string
	}{
		{"no --only is the whole stage", three, nil, []string{"us", "eu", "ap"}, [][]string{{"us"}, {"eu"}, {"ap"}}, ""},
		{"one environment is one wave of one", three, []string{"eu"}, []string{"eu"}, [][]string{{"eu"}}, ""},
		{"environments keep the stage's order, not the flags'", three, []string{"ap", "us"}, []string{"us", "ap"}, [][]string{{"us"}, {"ap"}}, ""},
		{"named waves keep their shape, less what is left out", named, []string{"us", "ap"}, []string{"us", "ap"}, [][]string{{"us"}, {"ap"}}, ""},
		{"an environment outside the stage names the flag and the stage's environments", three, []string{"dev"}, nil, nil, "--only dev: not an environment of stage prod; its environments are us, eu, ap"},
		{"an environment named twice is refused", three, []string{"us", "us"}, nil, nil, "--only us: named twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := plan.Narrow(tt.stage, tt.only)
			if tt.wantErr != "" {
				if strata.ErrorCode(err) != strata.EINVALID || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Narrow = %v; want EINVALID %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Environments, tt.wantEnvs) || !reflect.DeepEqual(plan.Waves(got), tt.wantWaves) || got.Name != "prod" {
				t.Errorf("Narrow = %v in waves %v; want %v in %v", got.Environments, plan.Waves(got), tt.wantEnvs, tt.wantWaves)
			}
		})
	}
}

func TestAPromotionIntoPartOfAStageIsJudgedOnThatPart(t *testing.T) {
	p := estate(strata.Policy{})
	p.Environments[3].Policy = strata.Policy{Approvals: intp(2)} // prod-eu alone needs approvals
	us, err := plan.Narrow(p.Stage("prod"), []string{"prod-us"})
	if err != nil {
		t.Fatal(err)
	}
	f := facts(now, []string{"dev", "staging"}, []string{"prod-us"}) // db missing in prod-eu
	f.Frozen["prod-eu"] = &strata.Freeze{Environment: "prod-eu", Reason: "x", Actor: "cy"}
	gates := plan.Gates(p, plan.Request{Service: "api", Version: "2", Stage: us, Requester: "ann"}, f)
	if !plan.Open(gates) {
		t.Errorf("a promotion into prod-us only is held by prod-eu's policy, freeze or dependencies: %+v", plan.Closed(gates))
	}
}

func TestAnEnvironmentsOwnStageHasNoEarlierStage(t *testing.T) {
	p := estate(strata.Policy{})
	p.Environments = append(p.Environments, &strata.Environment{Name: "lab", Policy: strata.Policy{Approvals: intp(1)}})
	st := p.Stage(strata.EnvStagePrefix + "lab")
	if st == nil || !reflect.DeepEqual(st.Environments, []string{"lab"}) || p.StageIndex(st.Name) != -1 {
		t.Fatalf("env:lab = %+v; want a stage of lab alone, outside the pipeline", st)
	}
	if p.Stage(strata.EnvStagePrefix+"prod-us") != nil {
		t.Error("prod-us is in stage prod; it has no stage of its own")
	}
	gates := plan.Gates(p, plan.Request{ID: "p-1", Service: "api", Version: "2", Stage: st, Requester: "ann"}, facts(now, nil, []string{"lab"}))
	if g := gate(gates, plan.GatePrevious); !g.OK || !strings.Contains(g.Detail, "no stage of the pipeline") {
		t.Errorf("previous-stage gate = %+v", g)
	}
	if g := gate(gates, plan.GateApprovals); g.OK || !strings.Contains(g.Detail, "strata approve p-1") {
		t.Errorf("approvals gate = %+v", g)
	}
}
