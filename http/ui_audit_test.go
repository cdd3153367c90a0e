package http_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// The audit page verifies the chain as `audit --verify` does, streaming the log: a chain
// that was tampered with is shown broken where it breaks, and the page still answers.
func TestTheAuditPageShowsWhereATamperedChainBreaks(t *testing.T) {
	x := newUIEstate(t, uiYAML)
	x.shipToProd(t)
	db, err := sql.Open("sqlite", filepath.Join(x.dir, ".strata", "state.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// What someone with the file in hand could do: drop the guard, rewrite history.
	for _, q := range []string{`DROP TRIGGER events_no_update`, `UPDATE events SET actor = 'mallory' WHERE seq = 2`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	res, page := x.login(t, "carol").get("/audit")
	if res.StatusCode != 200 || !strings.Contains(page, "Chain broken at event 2") {
		t.Fatalf("status %d; want 200 and the chain broken at event 2:\n%s", res.StatusCode, page)
	}
}
