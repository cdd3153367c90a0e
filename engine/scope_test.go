package engine_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

func TestADeployThatNeedsApprovalsOpensAOneEnvironmentPromotion(t *testing.T) {
	w, c := gatedAt(t, "1", monday(10, 0))
	c.move(time.Hour) // past prod's soak, inside its window
	ctx := t.Context()
	alice := w.promoter(c, "alice")

	d, err := alice.Deploy(ctx, engine.DeployRequest{Service: "api", Version: "1", Env: "prod"})
	var opened *engine.OpenedPromotion
	if d != nil || !errors.As(err, &opened) || strata.ErrorCode(err) != strata.EBLOCKED {
		t.Fatalf("deploy to prod = %+v, %v; want an opened promotion, blocked", d, err)
	}
	p := opened.Result.Promotion
	if p.State != strata.Waiting || p.Stage != "prod" || !slices.Equal(p.Only, []string{"prod"}) || p.Requester != "alice" {
		t.Fatalf("the opened promotion: %+v", p)
	}
	if g := gate(opened.Result.Gates, "approvals"); g.OK {
		t.Errorf("its approvals gate holds already: %+v", g)
	}
	_, again := alice.Deploy(ctx, engine.DeployRequest{Service: "api", Version: "1", Env: "prod"})
	if !errors.As(again, &opened) || opened.Result.Promotion.ID != p.ID {
		t.Errorf("asking again = %v; want the same promotion %s", again, p.ID)
	}
	res, err := w.promoter(c, "bob").Approve(ctx, p.ID)
	if err != nil || res.Promotion.State != strata.Succeeded || w.read("api-prod") != "1\n" {
		t.Fatalf("approved: %+v, %v; prod saw %q", res, err, w.read("api-prod"))
	}
	if res.Next != nil {
		t.Errorf("a promotion into part of a stage moved on by itself: %+v", res.Next)
	}
}
