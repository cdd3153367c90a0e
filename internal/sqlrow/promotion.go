package sqlrow

import (
	"time"

	"github.com/strata-dev/strata"
)

// PromotionOwner returns the owner and lease to store with p: its own while it is running,
// none otherwise, so that an ended or waiting promotion never looks owned.
func PromotionOwner(p *strata.Promotion) (strata.Owner, time.Time) {
	if p.State != strata.Running {
		return strata.Owner{}, time.Time{}
	}
	return p.Owner, p.LeaseUntil
}

// PromotionLost explains why a write by owner to promotion id, stored in state and held by
// holder (an Owner.ID, "" for none), matched no row: ECONFLICT naming who holds it now, or
// that it is no longer running.
func PromotionLost(id, state, holder string, owner strata.Owner) error {
	if state != strata.Running {
		return strata.Errorf(strata.ECONFLICT, "promotion %s is %s, not running", id, state)
	}
	if holder == "" {
		holder = "no one"
	}
	mine := owner.ID()
	if mine == "" {
		mine = "no one"
	}
	return strata.Errorf(strata.ECONFLICT, "promotion %s is held by %s, not %s", id, holder, mine)
}
