package http

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/strata-dev/strata"
)

// pairKey names one service in one environment.
type pairKey struct{ service, env string }

// matrixSnapshot is what the matrix needs from the deployments: per pair, the newest
// succeeded deployment (what runs there) and the newest of any state.
type matrixSnapshot struct {
	seq     int64 // the newest audit event when it was read
	read    time.Time
	current map[pairKey]*strata.Deployment
	latest  map[pairKey]*strata.Deployment
}

// snapshotTTL bounds how long a snapshot is used even when no event was appended.
const snapshotTTL = time.Minute

// snapshot returns the deployments snapshot, reading the store again only when an audit
// event was appended since the last read: every change of a deployment's state (created,
// ended, resumed, taken over) appends one, naming its service and environment, in the same
// transaction. A few new events refresh only the pairs they name; many, or a snapshot
// older than snapshotTTL, read everything again.
func (u *ui) snapshot(ctx context.Context, st strata.Store) (*matrixSnapshot, error) {
	last, err := st.Events(ctx, strata.EventFilter{Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("read the newest event: %w", err)
	}
	var seq int64
	if len(last) > 0 {
		seq = last[0].Seq
	}
	u.snapMu.Lock()
	defer u.snapMu.Unlock()
	old := u.snap
	fresh := old != nil && time.Since(old.read) < snapshotTTL
	if fresh && old.seq == seq {
		return old, nil
	}
	if fresh && seq > old.seq && seq-old.seq <= 200 {
		if s, err := u.refresh(ctx, st, old, seq); err == nil {
			u.snap = s
			return s, nil
		}
	}
	ds, err := st.Deployments(ctx, strata.DeploymentFilter{})
	if err != nil {
		return nil, fmt.Errorf("read deployments: %w", err)
	}
	s := &matrixSnapshot{seq: seq, read: time.Now(), current: map[pairKey]*strata.Deployment{}, latest: map[pairKey]*strata.Deployment{}}
	for _, d := range ds { // newest first
		k := pairKey{d.Service, d.Environment}
		if s.latest[k] == nil {
			s.latest[k] = d
		}
		if d.State == strata.Succeeded && s.current[k] == nil {
			s.current[k] = d
		}
	}
	u.snap = s
	return s, nil
}

// refresh returns a copy of old with the pairs that the events after old.seq name read
// again. The copy leaves old whole for requests still rendering from it.
func (u *ui) refresh(ctx context.Context, st strata.Store, old *matrixSnapshot, seq int64) (*matrixSnapshot, error) {
	events, err := st.Events(ctx, strata.EventFilter{Limit: int(seq - old.seq)})
	if err != nil {
		return nil, err
	}
	if len(events) == 0 || events[0].Seq != old.seq+1 {
		return nil, fmt.Errorf("events after %d are not contiguous", old.seq)
	}
	s := &matrixSnapshot{seq: seq, read: old.read, current: maps.Clone(old.current), latest: maps.Clone(old.latest)}
	done := map[pairKey]bool{}
	for _, e := range events {
		k := pairKey{e.Service, e.Environment}
		if k.service == "" || k.env == "" || done[k] {
			continue
		}
		done[k] = true
		f := strata.DeploymentFilter{Service: k.service, Environment: k.env, Limit: 1}
		latest, err := st.Deployments(ctx, f)
		if err != nil {
			return nil, err
		}
		f.States = []string{strata.Succeeded}
		current, err := st.Deployments(ctx, f)
		if err != nil {
			return nil, err
		}
		delete(s.latest, k)
		delete(s.current, k)
		if len(latest) > 0 {
			s.latest[k] = latest[0]
		}
		if len(current) > 0 {
			s.current[k] = current[0]
		}
	}
	return s, nil
}
