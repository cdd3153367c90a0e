package engine_test

import (
	"slices"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// trainWorld has dev (auto) and prod; web depends on schema. Deploys append "SERVICE
// VERSION" to the scratch file "order-ENV".
const trainWorld = `project: train
environments:
  dev: {}
  prod: {}
services:
  schema:
    deploy: echo "schema $STRATA_VERSION" >> "@SCRATCH@/order-$STRATA_ENV"
  web:
    deploy: echo "web $STRATA_VERSION" >> "@SCRATCH@/order-$STRATA_ENV"
    depends_on: [schema]
pipeline:
  - {stage: dev, environments: [dev], auto: true}
  - {stage: prod, environments: [prod]}
`

func TestATrain(t *testing.T) {
	w := newWorld(t, trainWorld)
	ctx := t.Context()
	e := w.engine()
	for _, r := range [][2]string{{"schema", "8"}, {"web", "2"}, {"schema", "9"}} {
		if _, err := e.Release(ctx, r[0], r[1]); err != nil {
			t.Fatal(err)
		}
	}
	m := func(s, v string) strata.Member { return strata.Member{Service: s, Version: v} }

	t.Run("naming a service twice is invalid", func(t *testing.T) {
		_, err := e.Plan(ctx, engine.PromoteRequest{Members: []strata.Member{m("schema", "8"), m("schema", "9")}, To: "prod"})
		if strata.ErrorCode(err) != strata.EINVALID {
			t.Errorf("plan = %v; want EINVALID", err)
		}
	})
	t.Run("an unknown member is not found", func(t *testing.T) {
		_, err := e.Plan(ctx, engine.PromoteRequest{Members: []strata.Member{m("web", "2"), m("nosuch", "1")}, To: "prod"})
		if strata.ErrorCode(err) != strata.ENOTFOUND {
			t.Errorf("plan = %v; want ENOTFOUND", err)
		}
	})
	t.Run("without --to it goes to the first stage a member has not reached", func(t *testing.T) {
		// Every release landed in dev by itself (auto): prod is next for each member.
		res, err := e.Plan(ctx, engine.PromoteRequest{Members: []strata.Member{m("web", "2"), m("schema", "")}})
		if err != nil {
			t.Fatal(err)
		}
		p := res.Promotion
		if p.Stage != "prod" || p.Service != "web" || !slices.Equal(p.Members, []strata.Member{m("web", "2"), m("schema", "9")}) {
			t.Errorf("plan = %+v; want web@2 and schema's newest, 9, into prod", p)
		}
	})
	t.Run("it deploys each member in dependency order and records one promotion", func(t *testing.T) {
		res, err := e.Promote(ctx, engine.PromoteRequest{Members: []strata.Member{m("web", "2"), m("schema", "9")}, To: "prod"})
		if err != nil {
			t.Fatal(err)
		}
		if got := w.read("order-prod"); got != "schema 9\nweb 2\n" {
			t.Errorf("prod saw %q; want schema before web", got)
		}
		ps, err := w.store.Promotions(ctx, strata.PromotionFilter{Stage: "prod"})
		if err != nil || len(ps) != 1 || ps[0].ID != res.Promotion.ID || len(ps[0].Members) != 2 {
			t.Errorf("stored promotions to prod: %+v, %v; want the one train", ps, err)
		}
	})
}
