package engine

import "testing"

func TestAReportWakesOnlyTheProcessWaitingForThatDeployment(t *testing.T) {
	w := &Wakes{}
	a, doneA := w.awaitReport("d-a")
	b, doneB := w.awaitReport("d-b")
	a2, doneA2 := w.awaitReport("d-a") // a rollback's asker and a promotion, say
	wa, wb, wa2 := a.Wait(), b.Wait(), a2.Wait()
	w.ReportedOf("d-a")
	for name, ch := range map[string]<-chan struct{}{"d-a": wa, "d-a again": wa2} {
		select {
		case <-ch:
		default:
			t.Errorf("the waiter of %s was not woken", name)
		}
	}
	select {
	case <-wb:
		t.Errorf("the waiter of d-b was woken by d-a's report")
	default:
	}
	doneA()
	doneA2()
	doneB()
	if len(w.reports) != 0 {
		t.Errorf("%d deployments still registered after their waiters stopped", len(w.reports))
	}
	w.ReportedOf("d-a") // no one waits: nothing to wake, nothing kept
	var none *Wakes
	s, done := none.awaitReport("d-x")
	done()
	if s.Wait() != nil {
		t.Errorf("a nil Wakes gave a signal that can be woken")
	}
}
