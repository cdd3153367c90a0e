package report

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/strata-dev/strata"
)

// Paging. Every list route (status, deployments, audit, promotions, environments) takes
// `limit` and `cursor`, and says where the next page begins: in the document's "next" when
// the document is an object (status), in the Link and X-Next-Cursor headers when it is a
// JSON array (the others; docs/api.md, "Paging"). A page that ends its list says nothing,
// even when it is exactly full: each list reads one item more than its limit to know. A cursor names the last item a page held, so a
// list goes on where it ended however many items were added in front since; it is opaque
// to clients (base64url of a key this package writes) and only ever read back here.

// cursorPrefix marks the cursors of each kind of list, so that one list's cursor given to
// another is refused rather than misread.
const (
	cursorCell       = "cell:"
	cursorDeployment = "deployment:"
	cursorEvent      = "event:"
	cursorPromotion  = "promotion:"
	cursorEnv        = "env:"
)

// encodeCursor returns the cursor of key in a list of the kind prefix names.
func encodeCursor(prefix, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(prefix + key))
}

// decodeCursor returns the key of cursor c, which must have been made for a list of the
// kind prefix names; "" gives "". A cursor that is not one is EINVALID, naming the
// parameter.
func decodeCursor(prefix, c string) (string, error) {
	if c == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	key, ok := strings.CutPrefix(string(raw), prefix)
	if err != nil || !ok || key == "" {
		return "", strata.Errorf(strata.EINVALID, "query parameter cursor=%q: not a cursor of this list; pass the \"next\" of the page before, or leave cursor out to start at the beginning", c)
	}
	return key, nil
}

// pageOf returns the page of items after the one whose key is after ("" starts at the
// beginning), at most limit of them (0: all), and the cursor of the next page ("" when
// this page ends the list). A key that is no longer in the list is EINVALID: its place
// is gone, and the client starts again.
func pageOf[T any](items []T, limit int, prefix, cursor string, key func(T) string) ([]T, string, error) {
	after, err := decodeCursor(prefix, cursor)
	if err != nil {
		return nil, "", err
	}
	start := 0
	if after != "" {
		start = -1
		for i, it := range items {
			if key(it) == after {
				start = i + 1
				break
			}
		}
		if start < 0 {
			return nil, "", strata.Errorf(strata.EINVALID, "query parameter cursor=%q: the item it names is no longer listed; start again without a cursor", cursor)
		}
	}
	items = items[start:]
	if limit <= 0 || len(items) <= limit {
		return items, "", nil
	}
	return items[:limit], encodeCursor(prefix, key(items[limit-1])), nil
}

// PageCells returns the cells of s after cursor, at most limit of them, with the cursor of
// the next page in s.Next. A cell's key is its environment and service.
func (s *Status) PageCells(limit int, cursor string) error {
	cells, next, err := pageOf(s.Cells, limit, cursorCell, cursor, func(c Cell) string { return c.Environment + "\x00" + c.Service })
	if err != nil {
		return err
	}
	s.Cells, s.Next = cells, next
	return nil
}

// PageEnvironments returns the environments after cursor, at most limit, and the cursor of
// the next page.
func PageEnvironments(envs []Environment, limit int, cursor string) ([]Environment, string, error) {
	return pageOf(envs, limit, cursorEnv, cursor, func(e Environment) string { return e.Name })
}

// DeploymentCursor returns the deployment id cursor names (the last of a page of
// deployments), "" for none.
func DeploymentCursor(cursor string) (string, error) { return decodeCursor(cursorDeployment, cursor) }

// NextDeployments returns the cursor of the page after one that ended with the deployment
// id.
func NextDeployments(id string) string { return encodeCursor(cursorDeployment, id) }

// PromotionCursor returns the promotion id cursor names, "" for none.
func PromotionCursor(cursor string) (string, error) { return decodeCursor(cursorPromotion, cursor) }

// NextPromotions returns the cursor of the page after one that ended with the promotion id.
func NextPromotions(id string) string { return encodeCursor(cursorPromotion, id) }

// EventCursor returns the sequence number cursor names (the oldest event of a page of the
// audit log, which pages from the newest back), 0 for none.
func EventCursor(cursor string) (int64, error) {
	key, err := decodeCursor(cursorEvent, cursor)
	if err != nil || key == "" {
		return 0, err
	}
	seq, err := strconv.ParseInt(key, 10, 64)
	if err != nil || seq <= 0 {
		return 0, strata.Errorf(strata.EINVALID, "query parameter cursor=%q: not a cursor of the audit log; pass the \"next\" of the page before", cursor)
	}
	return seq, nil
}

// NextEvents returns the cursor of the page of older events after one whose oldest event
// is seq.
func NextEvents(seq int64) string { return encodeCursor(cursorEvent, strconv.FormatInt(seq, 10)) }
