package http

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"
	"unique"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/plan"
)

// pairKey names one service in one environment.
type pairKey = plan.Pair

// snapshots keeps the one matrix snapshot that every request of a server shares: the
// dashboard's pages and live updates and the API's GET /api/v1/status all read it, so
// a poll costs one look at the audit log's head, not a read of every pair. It follows
// the store's changes through the audit log (get).
type snapshots struct {
	// mu makes one request read the store while the others wait for its result.
	mu   sync.Mutex
	snap *matrixSnapshot
	// renewing is set while a snapshot older than snapshotTTL is read again in the
	// background; requests meanwhile get the old one.
	renewing bool
}

// matrixSnapshot is what the matrix needs from the deployments: per pair, the newest
// succeeded deployment (what runs there) and the newest of any state.
type matrixSnapshot struct {
	seq   int64 // the newest audit event when it was read
	read  time.Time
	pairs map[pairKey]snapPair
	// health is each pair's newest health check after the deployment (HealthChecks); a
	// check that changes a deployment's health appends a health.* event, which reads it again.
	health map[pairKey]*strata.HealthCheck
}

// snapPair is a pair's entry in the snapshot: what runs there (cur, nil when nothing
// succeeded) and its newest deployment (latest); the same record when the newest succeeded.
type snapPair struct{ cur, latest *snapDep }

// snapDep is what the snapshot keeps of a deployment: what the matrix, the summary and the
// environment and service pages show of it. At 10,000 environments x 5 services the snapshot
// lives as long as the server, so a record is small and of fixed size (about 130 bytes, where
// a copy of a strata.Deployment is some 350) and shares its strings: the service and
// environment are the map's key, and states, versions, pools and agents are interned.
type snapDep struct {
	ID, Version, State, Health, Pool, Agent string
	CreatedAt, FinishedAt                   int64 // unix nanoseconds, 0 for none
}

// newSnapDep keeps of d what the snapshot needs.
func newSnapDep(d *strata.Deployment) *snapDep {
	return &snapDep{ID: d.ID, Version: intern(d.Version), State: intern(d.State), Health: intern(d.Health),
		Pool: intern(d.Pool), Agent: intern(d.Agent), CreatedAt: nanos(d.CreatedAt), FinishedAt: nanos(d.FinishedAt)}
}

// deployment fills the fields of *d that the record keeps (the rest zero), so that the
// rules about deployments (strata.HealthNow, Environment.Predates, report.StatusBy) are
// asked of it as of any deployment.
func (r *snapDep) deployment(d *strata.Deployment) {
	*d = strata.Deployment{ID: r.ID, Version: r.Version, State: r.State, Health: r.Health, Pool: r.Pool, Agent: r.Agent,
		CreatedAt: fromNanos(r.CreatedAt), FinishedAt: fromNanos(r.FinishedAt)}
}

// finished is when the deployment ended.
func (r *snapDep) finished() time.Time { return fromNanos(r.FinishedAt) }

// healthNow is strata.HealthNow of the deployment.
func (r *snapDep) healthNow(c *strata.HealthCheck) string {
	var d strata.Deployment
	r.deployment(&d)
	return strata.HealthNow(&d, c)
}

// of returns what runs of service in env and the pair's newest deployment, each nil when
// there is none or it was made in an earlier short-lived environment of env's name.
func (s *matrixSnapshot) of(env *strata.Environment, service string) (cur, latest *snapDep) {
	p := s.pairs[pairKey{Service: service, Environment: env.Name}]
	predates := func(r *snapDep) bool {
		return r != nil && env.Predates(&strata.Deployment{CreatedAt: fromNanos(r.CreatedAt)})
	}
	if predates(p.cur) {
		p.cur = nil
	}
	if predates(p.latest) {
		p.latest = nil
	}
	return p.cur, p.latest
}

// readPair is a report.PairReader over the snapshot, for report.StatusBy.
func (s *matrixSnapshot) readPair(k plan.Pair, cur, latest *strata.Deployment) (hasCur, hasLatest bool) {
	p := s.pairs[k]
	if p.cur != nil {
		p.cur.deployment(cur)
	}
	if p.latest != nil {
		p.latest.deployment(latest)
	}
	return p.cur != nil, p.latest != nil
}

// intern returns the one copy of s the process keeps: the snapshot's 50,000 records name a
// handful of states and versions, and each read of the store makes new strings of them.
func intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// key returns the pair of d, its names interned (the snapshot's keys are its biggest strings).
func key(d *strata.Deployment) pairKey {
	return pairKey{Service: intern(d.Service), Environment: intern(d.Environment)}
}

// readHealth reads every pair's newest health check.
func readHealth(ctx context.Context, st strata.Store) (map[pairKey]*strata.HealthCheck, error) {
	cs, err := st.HealthChecks(ctx)
	if err != nil {
		return nil, fmt.Errorf("read health checks: %w", err)
	}
	out := make(map[pairKey]*strata.HealthCheck, len(cs))
	for _, c := range cs {
		out[pairKey{Service: c.Service, Environment: c.Environment}] = c
	}
	return out, nil
}

// pairReadCost is how many pairs' share of a read of every pair a read of one pair costs:
// on SQLite, 0.2 ms against 0.73 s for 50,000 pairs (about 13). readSnapshot reads every
// pair's newest succeeded deployment at once when reading the unsettled ones one at a time
// would cost more.
const pairReadCost = 16

// snapshotTTL bounds how long a snapshot is used even when no event was appended.
const snapshotTTL = time.Minute

// get returns the deployments snapshot, reading the store again only when an audit
// event was appended since the last read: every change of a deployment's state (created,
// ended, resumed, taken over) appends one, naming its service and environment, in the same
// transaction. A few new events refresh only the pairs they name; many read every pair
// again (readSnapshot). A snapshot older than snapshotTTL is read again in the background
// while requests go on with it, so no request waits for a full read once there is one.
// The snapshot holds what the store says; the matrix drops what belongs to an earlier
// short-lived environment as it renders, since which environment is current is the
// visit's project's to say.
func (sn *snapshots) get(ctx context.Context, st strata.Store) (*matrixSnapshot, error) {
	last, err := st.Events(ctx, strata.EventFilter{Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("read the newest event: %w", err)
	}
	var seq int64
	if len(last) > 0 {
		seq = last[0].Seq
	}
	sn.mu.Lock()
	defer sn.mu.Unlock()
	old := sn.snap
	if old != nil && old.seq == seq {
		if time.Since(old.read) >= snapshotTTL && !sn.renewing {
			sn.renewing = true
			go sn.renew(context.WithoutCancel(ctx), st, seq)
		}
		return old, nil
	}
	if old != nil && seq > old.seq && seq-old.seq <= 200 {
		if s, err := refresh(ctx, st, old, seq); err == nil {
			sn.snap = s
			return s, nil
		}
	}
	s, err := readSnapshot(ctx, st, seq)
	if err != nil {
		return nil, err
	}
	sn.snap = s
	return s, nil
}

// renew reads every pair again for a snapshot that has aged past snapshotTTL, and keeps
// the result unless a newer snapshot took its place meanwhile.
func (sn *snapshots) renew(ctx context.Context, st strata.Store, seq int64) {
	s, err := readSnapshot(ctx, st, seq)
	sn.mu.Lock()
	defer sn.mu.Unlock()
	sn.renewing = false
	if err == nil && sn.snap != nil && sn.snap.seq == seq {
		sn.snap = s
	}
}

// readSnapshot reads the snapshot of every pair, one row a pair however long the history:
// its newest deployment, which is also what runs there when it succeeded, and for the
// pairs whose newest did not succeed (unsettled) the newest that did. Those are few in an
// estate that mostly works, and are read a pair at a time; when many are, in one more read
// of every pair.
func readSnapshot(ctx context.Context, st strata.Store, seq int64) (*matrixSnapshot, error) {
	health, err := readHealth(ctx, st)
	if err != nil {
		return nil, err
	}
	s := &matrixSnapshot{seq: seq, read: time.Now(), pairs: map[pairKey]snapPair{}, health: health}
	var unsettled []pairKey
	// A scan holds one whole deployment at a time: the snapshot keeps only what the
	// matrix shows of each pair's (snapDep).
	err = st.ScanDeployments(ctx, strata.DeploymentFilter{Latest: true}, func(d *strata.Deployment) error {
		k, r := key(d), newSnapDep(d)
		p := snapPair{latest: r}
		if r.State == strata.Succeeded {
			p.cur = r
		} else {
			unsettled = append(unsettled, k)
		}
		s.pairs[k] = p
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the newest deployment of each pair: %w", err)
	}
	setCur := func(d *strata.Deployment) {
		k := key(d)
		p := s.pairs[k]
		p.cur = newSnapDep(d)
		s.pairs[k] = p
	}
	succeeded := []string{strata.Succeeded}
	if len(unsettled)*pairReadCost > len(s.pairs) {
		err := st.ScanDeployments(ctx, strata.DeploymentFilter{States: succeeded, Latest: true}, func(d *strata.Deployment) error {
			setCur(d)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read what runs in each pair: %w", err)
		}
		return s, nil
	}
	for _, k := range unsettled {
		ds, err := st.Deployments(ctx, strata.DeploymentFilter{Service: k.Service, Environment: k.Environment, States: succeeded, Limit: 1})
		if err != nil {
			return nil, fmt.Errorf("read what runs of %s in %s: %w", k.Service, k.Environment, err)
		}
		if len(ds) > 0 {
			setCur(ds[0])
		}
	}
	return s, nil
}

// refresh returns a copy of old with the pairs that the events after old.seq name read
// again. The copy leaves old whole for requests still rendering from it.
func refresh(ctx context.Context, st strata.Store, old *matrixSnapshot, seq int64) (*matrixSnapshot, error) {
	events, err := st.Events(ctx, strata.EventFilter{Limit: int(seq - old.seq)})
	if err != nil {
		return nil, err
	}
	if len(events) == 0 || events[0].Seq != old.seq+1 {
		return nil, fmt.Errorf("events after %d are not contiguous", old.seq)
	}
	s := &matrixSnapshot{seq: seq, read: old.read, pairs: maps.Clone(old.pairs), health: old.health}
	for _, e := range events {
		if strings.HasPrefix(e.Action, "health.") {
			if s.health, err = readHealth(ctx, st); err != nil {
				return nil, err
			}
			break
		}
	}
	done := map[pairKey]bool{}
	for _, e := range events {
		k := pairKey{Service: e.Service, Environment: e.Environment}
		if k.Service == "" || k.Environment == "" || done[k] {
			continue
		}
		done[k] = true
		f := strata.DeploymentFilter{Service: k.Service, Environment: k.Environment, Limit: 1}
		latest, err := st.Deployments(ctx, f)
		if err != nil {
			return nil, err
		}
		f.States = []string{strata.Succeeded}
		current, err := st.Deployments(ctx, f)
		if err != nil {
			return nil, err
		}
		var p snapPair
		if len(latest) > 0 {
			p.latest = newSnapDep(latest[0])
		}
		switch {
		case len(current) > 0 && p.latest != nil && current[0].ID == p.latest.ID:
			p.cur = p.latest
		case len(current) > 0:
			p.cur = newSnapDep(current[0])
		}
		if p.latest == nil && p.cur == nil {
			delete(s.pairs, k)
		} else {
			s.pairs[pairKey{Service: intern(k.Service), Environment: intern(k.Environment)}] = p
		}
	}
	return s, nil
}
