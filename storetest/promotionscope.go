package storetest

import (
	"reflect"
	"testing"

	"github.com/strata-dev/strata"
)

func testPromotionScopes(t *testing.T, open func(t *testing.T) strata.Store) {
	t.Run("a promotion's environments and members read back as written", func(t *testing.T) {
		s := open(t)
		p := promotion("1.0.0", "prod")
		p.Only = []string{"prod-us", "prod-ap"}
		p.Members = []strata.Member{{Service: "api", Version: "1.0.0"}, {Service: "schema", Version: "8+build.1"}}
		must(t, s.CreatePromotion(ctx(t), p, nil))
		got, err := s.Promotion(ctx(t), p.ID)
		must(t, err)
		if !reflect.DeepEqual(got.Only, p.Only) || !reflect.DeepEqual(got.Members, p.Members) {
			t.Fatalf("read back only %v members %v; want %v and %v", got.Only, got.Members, p.Only, p.Members)
		}
		ps, err := s.Promotions(ctx(t), strata.PromotionFilter{Service: "api"})
		must(t, err)
		if len(ps) != 1 || !reflect.DeepEqual(ps[0].Members, p.Members) {
			t.Fatalf("listed %+v; want the train with its members", ps)
		}
	})

	t.Run("a promotion into part of a stage, or a train, is another open promotion than the whole", func(t *testing.T) {
		s := open(t)
		whole := promotion("1.0.0", "prod")
		must(t, s.CreatePromotion(ctx(t), whole, nil))
		us := promotion("1.0.0", "prod")
		us.Only = []string{"prod-us"}
		must(t, s.CreatePromotion(ctx(t), us, nil))
		eu := promotion("1.0.0", "prod")
		eu.Only = []string{"prod-eu"}
		must(t, s.CreatePromotion(ctx(t), eu, nil))
		train := promotion("1.0.0", "prod")
		train.Members = []strata.Member{{Service: "api", Version: "1.0.0"}, {Service: "db", Version: "2"}}
		must(t, s.CreatePromotion(ctx(t), train, nil))

		again := promotion("1.0.0", "prod")
		again.Only = []string{"prod-us"}
		wantCode(t, s.CreatePromotion(ctx(t), again, nil), strata.ECONFLICT)
		if again.ID != us.ID {
			t.Errorf("the duplicate of the prod-us hotfix was filled with %s, want %s", again.ID, us.ID)
		}
		trainAgain := promotion("1.0.0", "prod")
		trainAgain.Members = train.Members
		wantCode(t, s.CreatePromotion(ctx(t), trainAgain, nil), strata.ECONFLICT)
		if trainAgain.ID != train.ID {
			t.Errorf("the duplicate train was filled with %s, want %s", trainAgain.ID, train.ID)
		}
	})

	t.Run("an environment name with a comma is refused", func(t *testing.T) {
		s := open(t)
		p := promotion("1.0.0", "prod")
		p.Only = []string{"prod-us,prod-eu"}
		wantCode(t, s.CreatePromotion(ctx(t), p, nil), strata.EINVALID)
	})
}
