package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

// announced are the actions the webhook tests queue.
var announced = []string{"promotion.succeeded", "promotion.failed"}

// routeAll sends every event whose action is announced to hooks a and b, as the event's
// last word ("succeeded", "failed").
func routeAll(e *strata.Event) (string, []string) {
	switch e.Action {
	case "promotion.succeeded":
		return "succeeded", []string{"hook-a", "hook-b"}
	case "promotion.failed":
		return "failed", []string{"hook-a"}
	}
	return "", nil
}

// appendAction appends an event of action about subject.
func appendAction(t *testing.T, s strata.Store, action, subject string) *strata.Event {
	t.Helper()
	e := &strata.Event{Actor: "alice", Action: action, Subject: subject, Service: "api"}
	must(t, s.AppendEvent(ctx(t), e))
	return e
}

// deliveryKeys returns "seq/hook event state" for each delivery, in order.
func deliveryKeys(ds []*strata.WebhookDelivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%d/%s %s %s", d.Seq, d.Hook, d.Event, d.State))
	}
	return out
}

func testWebhooks(t *testing.T, open func(t *testing.T) strata.Store) {
	far := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

	t.Run("each announcing event is queued once for each webhook that wants it, however often queued", func(t *testing.T) {
		s := open(t)
		ok := appendAction(t, s, "promotion.succeeded", "p-1")
		appendAction(t, s, "deploy", "d-1")
		bad := appendAction(t, s, "promotion.failed", "p-2")
		n, err := s.QueueWebhooks(ctx(t), announced, time.Time{}, routeAll)
		must(t, err)
		if n != 3 {
			t.Fatalf("queued %d deliveries, want 3", n)
		}
		n, err = s.QueueWebhooks(ctx(t), announced, time.Time{}, routeAll)
		must(t, err)
		if n != 0 {
			t.Fatalf("queued %d deliveries the second time, want 0", n)
		}
		ds, err := s.WebhookDeliveries(ctx(t), 10)
		must(t, err)
		want := []string{
			fmt.Sprintf("%d/hook-a failed pending", bad.Seq),
			fmt.Sprintf("%d/hook-a succeeded pending", ok.Seq), fmt.Sprintf("%d/hook-b succeeded pending", ok.Seq),
		}
		if got := deliveryKeys(ds); !slices.Equal(got, want) {
			t.Fatalf("deliveries %q, want %q (newest first)", got, want)
		}
		if ds[0].Source == nil || ds[0].Source.Subject != "p-2" || ds[0].Source.Hash != bad.Hash {
			t.Errorf("the newest delivery's event is %+v, want p-2's", ds[0].Source)
		}
	})

	t.Run("events older than since are passed over for good", func(t *testing.T) {
		s := open(t)
		appendAction(t, s, "promotion.succeeded", "p-old")
		n, err := s.QueueWebhooks(ctx(t), announced, far, routeAll)
		must(t, err)
		if n != 0 {
			t.Fatalf("queued %d deliveries of an old event, want 0", n)
		}
		n, err = s.QueueWebhooks(ctx(t), announced, time.Time{}, routeAll)
		must(t, err)
		if n != 0 {
			t.Fatalf("queued %d deliveries of an event the cursor passed, want 0", n)
		}
	})

	t.Run("a delivery goes to one claimer until its claim lapses, and only its claimer finishes it", func(t *testing.T) {
		s := open(t)
		appendAction(t, s, "promotion.failed", "p-1")
		_, err := s.QueueWebhooks(ctx(t), announced, time.Time{}, routeAll)
		must(t, err)
		now := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
		got, err := s.ClaimWebhooks(ctx(t), "one", now, now.Add(time.Minute), 10)
		must(t, err)
		if len(got) != 1 || got[0].Event != "failed" || got[0].Source == nil || got[0].Source.Subject != "p-1" {
			t.Fatalf("claimed %q, want p-1's failed delivery with its event", deliveryKeys(got))
		}
		again, err := s.ClaimWebhooks(ctx(t), "two", now.Add(30*time.Second), now.Add(time.Hour), 10)
		must(t, err)
		if len(again) != 0 {
			t.Fatalf("another claimer took %q while the claim held", deliveryKeys(again))
		}
		d := got[0]
		d.State, d.Tries = strata.WebhookDelivered, 1
		wantCode(t, s.FinishWebhook(ctx(t), "two", d), strata.ECONFLICT)
		late, err := s.ClaimWebhooks(ctx(t), "two", now.Add(2*time.Minute), now.Add(time.Hour), 10)
		must(t, err)
		if len(late) != 1 {
			t.Fatalf("after the claim lapsed another claimer got %q, want the delivery", deliveryKeys(late))
		}
		wantCode(t, s.FinishWebhook(ctx(t), "one", d), strata.ECONFLICT)
		must(t, s.FinishWebhook(ctx(t), "two", d))
		none, err := s.ClaimWebhooks(ctx(t), "three", far, far.Add(time.Hour), 10)
		must(t, err)
		if len(none) != 0 {
			t.Fatalf("a delivered delivery was claimed again: %q", deliveryKeys(none))
		}
		counts, err := s.CountWebhooks(ctx(t))
		must(t, err)
		if counts[strata.WebhookDelivered] != 1 || len(counts) != 1 {
			t.Errorf("counts %v, want one delivered", counts)
		}
	})

	t.Run("a delivery to try again later is not claimed before it is due", func(t *testing.T) {
		s := open(t)
		appendAction(t, s, "promotion.failed", "p-1")
		_, err := s.QueueWebhooks(ctx(t), announced, time.Time{}, routeAll)
		must(t, err)
		now := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
		got, err := s.ClaimWebhooks(ctx(t), "one", now, now.Add(time.Minute), 10)
		must(t, err)
		d := got[0]
		d.State, d.Tries, d.NextAt, d.Error = strata.WebhookPending, 1, now.Add(10*time.Second), "receiver answered 503 Service Unavailable"
		must(t, s.FinishWebhook(ctx(t), "one", d))
		early, err := s.ClaimWebhooks(ctx(t), "one", now.Add(5*time.Second), now.Add(time.Minute), 10)
		must(t, err)
		if len(early) != 0 {
			t.Fatalf("claimed %q before it was due", deliveryKeys(early))
		}
		due, err := s.ClaimWebhooks(ctx(t), "one", now.Add(10*time.Second), now.Add(time.Minute), 10)
		must(t, err)
		if len(due) != 1 || due[0].Tries != 1 || due[0].Error != d.Error {
			t.Fatalf("claimed %+v when due, want the delivery with one try and its error", due)
		}
		wantCode(t, s.FinishWebhook(ctx(t), "one", &strata.WebhookDelivery{Seq: d.Seq, Hook: d.Hook, State: "sent"}), strata.EINVALID)
	})

	t.Run("claimers at once share the deliveries out, each to one", func(t *testing.T) {
		s := open(t)
		for i := range 20 {
			appendAction(t, s, "promotion.succeeded", fmt.Sprintf("p-%d", i))
		}
		_, err := s.QueueWebhooks(ctx(t), announced, time.Time{}, routeAll)
		must(t, err)
		now := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
		var mu sync.Mutex
		seen := map[string]string{}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				owner := fmt.Sprintf("w%d", w)
				for {
					got, err := s.ClaimWebhooks(ctx(t), owner, now, now.Add(time.Hour), 3)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, d := range got {
						key := fmt.Sprintf("%d/%s", d.Seq, d.Hook)
						if other, ok := seen[key]; ok {
							t.Errorf("%s claimed by %s and %s", key, other, owner)
						}
						seen[key] = owner
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != 40 {
			t.Errorf("%d deliveries claimed, want 40", len(seen))
		}
	})
}
