package report

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// The DORA figures of `strata stats` (issue 14, point 6), per service, over a window that
// ends now:
//
//   - deployment_frequency: releases that reached the last stage (their first succeeded
//     deployment into one of its environments fell in the window), per day;
//   - lead_time_seconds: the median, over those releases, of the time from the release
//     being recorded to that first arrival in the last stage;
//   - change_failure_rate: deployments that failed or were rolled back over every finished
//     deployment (rollbacks themselves, which repair, are not counted as changes);
//   - time_to_restore_seconds: the median, over failures, of the time from a deployment
//     failing (or being rolled back) in an environment to the next succeeded deployment of
//     the service there.
//
// The last stage is the pipeline's last (every environment when there is no pipeline).
// They are computed from one scan of the window's deployments, oldest first, holding a
// little per (service, environment) and per release, never the history.

// StatsRequest is GET /api/v1/stats: `stats [--service S] [--since D]`.
type StatsRequest struct {
	Service string `query:"service" doc:"only this service"`
	Since   string `query:"since" doc:"the window, ending now: a Go duration or whole days (30d, the default)"`
}

// Stats is the document of `stats`.
type Stats struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	Days  float64   `json:"days"`
	// LastStage names the stage whose arrivals count as releases ("" without a pipeline:
	// every environment).
	LastStage string         `json:"last_stage"`
	Services  []ServiceStats `json:"services"`
}

// ServiceStats is one service's figures; a figure nothing in the window measured is null.
type ServiceStats struct {
	Service             string   `json:"service"`
	DeploymentFrequency float64  `json:"deployment_frequency"`
	LeadTimeSeconds     *float64 `json:"lead_time_seconds"`
	ChangeFailureRate   *float64 `json:"change_failure_rate"`
	TimeToRestore       *float64 `json:"time_to_restore_seconds"`
	// The counts the figures come from.
	Releases    int `json:"releases"`
	Deployments int `json:"deployments"`
	Failures    int `json:"failures"`
	Restores    int `json:"restores"`
	// Weeks are the window's weeks (Monday 00:00 UTC), oldest first: for the chart.
	Weeks []WeekStats `json:"weeks"`
}

// WeekStats is one week of a service's deployments.
type WeekStats struct {
	Week        time.Time `json:"week"`
	Deployments int       `json:"deployments"`
	Failures    int       `json:"failures"`
	Releases    int       `json:"releases"`
}

// DefaultStatsWindow is the window of `stats` without --since.
const DefaultStatsWindow = 30 * 24 * time.Hour

// NewStats computes the figures of e's project from its store, over the window req.Since
// that ends now, for the environments covers accepts (nil: all).
func NewStats(ctx context.Context, e *engine.Engine, req StatsRequest, covers func(env string) bool) (*Stats, error) {
	window := DefaultStatsWindow
	if req.Since != "" {
		d, err := ParseTTL(req.Since)
		if err != nil || d <= 0 {
			return nil, strata.Errorf(strata.EINVALID, "--since %q: want a positive Go duration (12h) or whole days (30d)", req.Since)
		}
		window = d
	}
	var services []string
	if req.Service != "" {
		if err := NeedService(e.Project, req.Service); err != nil {
			return nil, err
		}
		services = []string{req.Service}
	} else {
		services = e.Project.ServiceNames()
	}
	until := now(e).UTC()
	stage, envs := lastStage(e.Project)
	b := NewStatsBuilder(until.Add(-window), until, stage, envs)
	for _, svc := range services {
		rs, err := e.Store.Releases(ctx, svc)
		if err != nil {
			return nil, fmt.Errorf("stats: read the releases of %s: %w", svc, err)
		}
		b.AddReleases(rs)
	}
	// Failures are restored by the next success: one before the window, still unrestored
	// when it opens, is not counted (its failure time is outside the window).
	err := e.Store.ScanDeployments(ctx, strata.DeploymentFilter{Service: req.Service, Since: b.since}, func(d *strata.Deployment) error {
		if covers == nil || covers(d.Environment) {
			b.Add(d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("stats: read the deployments: %w", err)
	}
	return b.Stats(services), nil
}

// lastStage returns the name of the project's last stage and its environments; none
// without a pipeline.
func lastStage(p *strata.Project) (name string, envs []string) {
	if len(p.Pipeline) == 0 {
		return "", nil
	}
	st := p.Pipeline[len(p.Pipeline)-1]
	return st.Name, st.Environments
}

// StatsBuilder gathers the figures from deployments given oldest first.
type StatsBuilder struct {
	since, until time.Time
	stage        string
	last         map[string]bool // the last stage's environments; nil: every one
	released     map[string]time.Time
	per          map[string]*serviceTally
}

// serviceTally is what the builder keeps per service.
type serviceTally struct {
	deployments, failures int
	arrived               map[string]bool // versions that reached the last stage
	leads, restores       []float64
	down                  map[string]time.Time // environment -> when it failed, until restored
	weeks                 map[time.Time]*WeekStats
}

// NewStatsBuilder returns a builder for the window [since, until] whose releases count
// when they reach the environments of stage (nil envs: every environment).
func NewStatsBuilder(since, until time.Time, stage string, envs []string) *StatsBuilder {
	b := &StatsBuilder{since: since, until: until, stage: stage, released: map[string]time.Time{}, per: map[string]*serviceTally{}}
	if envs != nil {
		b.last = map[string]bool{}
		for _, e := range envs {
			b.last[e] = true
		}
	}
	return b
}

// AddReleases records when each release was made, for the lead time.
func (b *StatsBuilder) AddReleases(rs []*strata.Release) {
	for _, r := range rs {
		b.released[r.Service+"@"+r.Version] = r.CreatedAt
	}
}

func (b *StatsBuilder) tally(service string) *serviceTally {
	t := b.per[service]
	if t == nil {
		t = &serviceTally{arrived: map[string]bool{}, down: map[string]time.Time{}, weeks: map[time.Time]*WeekStats{}}
		b.per[service] = t
	}
	return t
}

// weekOf returns the Monday 00:00 UTC that starts t's week.
func weekOf(t time.Time) time.Time {
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
}

// Add counts one deployment; deployments come oldest first. Unfinished ones are skipped.
func (b *StatsBuilder) Add(d *strata.Deployment) {
	if d.FinishedAt.IsZero() || d.CreatedAt.Before(b.since) || d.CreatedAt.After(b.until) {
		return
	}
	t := b.tally(d.Service)
	w := t.weeks[weekOf(d.FinishedAt)]
	if w == nil {
		w = &WeekStats{Week: weekOf(d.FinishedAt)}
		t.weeks[w.Week] = w
	}
	switch d.State {
	case strata.Succeeded:
		if at, ok := t.down[d.Environment]; ok {
			t.restores = append(t.restores, d.FinishedAt.Sub(at).Seconds())
			delete(t.down, d.Environment)
		}
		if (b.last == nil || b.last[d.Environment]) && !t.arrived[d.Version] {
			t.arrived[d.Version] = true
			w.Releases++
			if made, ok := b.released[d.Service+"@"+d.Version]; ok && !made.After(d.FinishedAt) {
				t.leads = append(t.leads, d.FinishedAt.Sub(made).Seconds())
			}
		}
	case strata.Failed, strata.RolledBack:
		if _, ok := t.down[d.Environment]; !ok {
			t.down[d.Environment] = d.FinishedAt
		}
	default:
		return
	}
	if d.Kind == "rollback" {
		return
	}
	t.deployments++
	w.Deployments++
	if d.State != strata.Succeeded {
		t.failures++
		w.Failures++
	}
}

// median returns the median of xs (sorted in place), nil for none.
func median(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	sort.Float64s(xs)
	m := xs[len(xs)/2]
	if len(xs)%2 == 0 {
		m = (xs[len(xs)/2-1] + m) / 2
	}
	return &m
}

// Stats returns the figures of services, in that order.
func (b *StatsBuilder) Stats(services []string) *Stats {
	days := b.until.Sub(b.since).Hours() / 24
	doc := &Stats{Since: b.since, Until: b.until, Days: days, LastStage: b.stage, Services: []ServiceStats{}}
	for _, svc := range services {
		t := b.tally(svc)
		s := ServiceStats{Service: svc, Releases: len(t.arrived), Deployments: t.deployments, Failures: t.failures, Restores: len(t.restores),
			LeadTimeSeconds: median(t.leads), TimeToRestore: median(t.restores), Weeks: []WeekStats{}}
		if days > 0 {
			s.DeploymentFrequency = float64(len(t.arrived)) / days
		}
		if t.deployments > 0 {
			r := float64(t.failures) / float64(t.deployments)
			s.ChangeFailureRate = &r
		}
		for w := weekOf(b.since); !w.After(b.until); w = w.AddDate(0, 0, 7) {
			ws := WeekStats{Week: w}
			if got := t.weeks[w]; got != nil {
				ws = *got
			}
			s.Weeks = append(s.Weeks, ws)
		}
		doc.Services = append(doc.Services, s)
	}
	return doc
}

// WriteText prints a row per service.
func (s *Stats) WriteText(w io.Writer) {
	stage := s.LastStage
	if stage == "" {
		stage = "any environment"
	}
	fmt.Fprintf(w, "%s to %s (%s days); releases count when they reach %s\n",
		s.Since.Format("2006-01-02 15:04Z"), s.Until.Format("2006-01-02 15:04Z"), strconv.FormatFloat(s.Days, 'f', -1, 64), stage)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tDEPLOYMENT FREQUENCY\tLEAD TIME\tCHANGE FAILURE RATE\tTIME TO RESTORE")
	for _, x := range s.Services {
		fmt.Fprintf(tw, "%s\t%s/day (%d releases)\t%s\t%s\t%s\n", x.Service, strconv.FormatFloat(x.DeploymentFrequency, 'f', 2, 64), x.Releases,
			seconds(x.LeadTimeSeconds), rate(x.ChangeFailureRate, x.Failures, x.Deployments), seconds(x.TimeToRestore))
	}
	tw.Flush()
}

// seconds writes a median duration, "-" for none.
func seconds(v *float64) string {
	if v == nil {
		return "-"
	}
	return (time.Duration(*v) * time.Second).Round(time.Second).String()
}

func rate(v *float64, failed, all int) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f%% (%d of %d)", *v*100, failed, all)
}

// WeeklyTotals sums the weeks of every service, for a chart of the whole estate.
func (s *Stats) WeeklyTotals() []WeekStats {
	var out []WeekStats
	for _, x := range s.Services {
		for i, w := range x.Weeks {
			if i >= len(out) {
				out = append(out, WeekStats{Week: w.Week})
			}
			out[i].Deployments += w.Deployments
			out[i].Failures += w.Failures
			out[i].Releases += w.Releases
		}
	}
	return slices.Clip(out)
}
