package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

func TestARollbackWhoseOnlyEarlierReleaseIsRecalledSaysSo(t *testing.T) {
	w := newWorld(t, rollbackEstate)
	c := &clock{t: monday(9, 0)}
	ctx := t.Context()
	e := w.promoter(c, "alice")
	for _, v := range []string{"1", "2"} {
		c.move(time.Minute)
		w.ship(e, "api", v, "staging")
	}
	if _, err := e.Recall(ctx, engine.RecallRequest{Service: "api", Version: "1", Reason: "corrupts carts"}); err != nil {
		t.Fatal(err)
	}
	_, err := e.Rollback(ctx, "api", "staging", "")
	if strata.ErrorCode(err) != strata.EINVALID || !strings.Contains(err.Error(), "is not recalled") {
		t.Errorf("rollback = %v; want EINVALID saying the earlier release must not be recalled", err)
	}
}
