package report

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/plan"
)

// Status is the document of `status`: the environment x service matrix, environments in
// project order, each with every service in project order.
type Status struct {
	Cells []Cell `json:"cells"`
	// Next is the cursor of the next page of cells, when a limit cut this one short.
	Next string `json:"next,omitempty"`
	// Orphans are the environments strata.yaml no longer has where services still run
	// (engine.Orphans), on the first page, for a principal who sees every environment.
	Orphans []Orphan `json:"orphans,omitempty"`
	// Groups are the environment groups and their live members (MarkLive), when the
	// project declares any.
	Groups []StatusGroup `json:"groups,omitempty"`
}

// Orphan is an environment strata.yaml no longer has, and what still runs there.
type Orphan struct {
	Environment string       `json:"environment"`
	Running     []Deployment `json:"running"`
}

// AddOrphans adds to s the orphans of e's project.
func (s *Status) AddOrphans(ctx context.Context, e *engine.Engine) error {
	orphans, err := e.Orphans(ctx)
	if err != nil {
		return err
	}
	for _, o := range orphans {
		s.Orphans = append(s.Orphans, Orphan{Environment: o.Environment, Running: NewDeployments(o.Running)})
	}
	return nil
}

// Cell is one (service, environment) of the status matrix: the version that runs there, the
// state of the newest deployment, and when the running version was deployed.
type Cell struct {
	Service     string `json:"service"`
	Environment string `json:"environment"`
	Version     string `json:"version"`
	State       string `json:"state"`
	// Health is what runs there now: healthy, unhealthy or unknown (strata.HealthNow). A
	// check `serve` ran after the deployment says, with what it observed when it failed
	// (HealthDetail) and when it ran (HealthCheckedAt); else the deployment's own check.
	Health          string     `json:"health"`
	HealthDetail    string     `json:"health_detail,omitempty"`
	HealthCheckedAt *time.Time `json:"health_checked_at,omitempty"`
	DeployedAt      *time.Time `json:"deployed_at"`
	Latest          string     `json:"latest_deployment,omitempty"`
	// Detail says what the newest deployment waits for, or which agent runs it, when its
	// environment runs on a pool of agents ("waiting for an agent of pool eu").
	Detail string `json:"detail,omitempty"`
	// Ephemeral marks a short-lived environment; Expires is when it expires, if ever.
	Ephemeral bool       `json:"ephemeral,omitempty"`
	Expires   *time.Time `json:"expires,omitempty"`
	// Group names the environment group the environment is in; Live says it is the
	// group's live member (MarkLive).
	Group string `json:"group,omitempty"`
	Live  bool   `json:"live,omitempty"`
	// Recalled says who recalled the version that runs there, when and why (MarkRecalled).
	Recalled *strata.Recall `json:"recalled,omitempty"`
}

// MarkRecalled marks each cell whose running version is recalled, reading each release
// the matrix shows once.
func (s *Status) MarkRecalled(ctx context.Context, releases func(ctx context.Context, service, version string) (*strata.Release, error)) error {
	seen := map[plan.Pair]*strata.Recall{}
	for i, c := range s.Cells {
		if c.Version == "" {
			continue
		}
		k := plan.Pair{Service: c.Service, Environment: c.Version}
		r, ok := seen[k]
		if !ok {
			rel, err := releases(ctx, c.Service, c.Version)
			if err != nil && strata.ErrorCode(err) != strata.ENOTFOUND {
				return fmt.Errorf("is %s@%s recalled: %w", c.Service, c.Version, err)
			}
			if rel != nil {
				r = rel.Recalled
			}
			seen[k] = r
		}
		s.Cells[i].Recalled = r
	}
	return nil
}

// NewStatus builds the matrix of e's project from its store. It reads what the matrix shows
// and no more: what runs in each pair and each pair's newest deployment (one row a pair
// each, however long the history), and the active deployments, to show those whose process
// is gone as interrupted, and the health checks `serve` ran after the deployments (one row
// a pair). A short-lived environment made again under an old name shows nothing deployed
// until something is deployed in it, as Current says.
func NewStatus(ctx context.Context, e *engine.Engine) (*Status, error) {
	cur, err := e.Current(ctx)
	if err != nil {
		return nil, err
	}
	newest, err := e.Store.Deployments(ctx, strata.DeploymentFilter{Latest: true})
	if err != nil {
		return nil, err
	}
	checks, err := e.Store.HealthChecks(ctx)
	if err != nil {
		return nil, err
	}
	checked := map[plan.Pair]*strata.HealthCheck{}
	for _, c := range checks {
		checked[plan.Pair{Service: c.Service, Environment: c.Environment}] = c
	}
	latest := map[plan.Pair]*strata.Deployment{}
	for _, d := range newest {
		latest[plan.Pair{Service: d.Service, Environment: d.Environment}] = d
	}
	return StatusOf(e.Project, cur, latest, checked, Gone(ctx, e), ConnectedPools(ctx, e.Store, e.Now())), nil
}

// ConnectedPools returns the pools an agent was seen for within engine.AgentGone. A store
// that cannot say reads as every pool connected: the detail then says less, not wrong.
func ConnectedPools(ctx context.Context, s strata.AgentStore, now time.Time) map[string]bool {
	as, err := s.Agents(ctx)
	if err != nil {
		return nil
	}
	out := map[string]bool{}
	for _, a := range as {
		if now.Sub(a.LastSeen) < engine.AgentGone {
			out[a.Pool] = true
		}
	}
	return out
}

// Gone returns the ids of the active deployments whose process is gone: the store says
// running until `resume` takes them over, and the matrix says interrupted.
func Gone(ctx context.Context, e *engine.Engine) map[string]bool {
	gone := map[string]bool{}
	if ds, err := e.Interrupted(ctx); err == nil {
		for _, d := range ds {
			gone[d.ID] = true
		}
	}
	return gone
}

// StatusOf builds the matrix of p from what runs in each pair (cur), each pair's newest
// deployment (latest), the newest health check of each pair and the ids of the deployments
// whose process is gone, and the pools an agent has been seen for lately (a deployment
// waiting for another pool's agent says none is connected). It changes none of them. A
// deployment made in an earlier short-lived environment of the same name shows as nothing.
func StatusOf(p *strata.Project, cur, latest map[plan.Pair]*strata.Deployment, checked map[plan.Pair]*strata.HealthCheck, gone, connected map[string]bool) *Status {
	read := func(k plan.Pair, c, l *strata.Deployment) (hasCur, hasLatest bool) {
		if d := cur[k]; d != nil {
			*c, hasCur = *d, true
		}
		if d := latest[k]; d != nil {
			*l, hasLatest = *d, true
		}
		return hasCur, hasLatest
	}
	return StatusBy(p, read, checked, gone, connected)
}

// PairReader fills *cur with what runs in pair k and *latest with the pair's newest
// deployment, and says which it knows. Filling the caller's records, rather than returning
// its own, lets a server keep its snapshot in records smaller than a strata.Deployment.
type PairReader func(k plan.Pair, cur, latest *strata.Deployment) (hasCur, hasLatest bool)

// StatusBy is StatusOf with the deployments of each pair read through read: a server
// builds it from the snapshot that every request shares.
func StatusBy(p *strata.Project, read PairReader, checked map[plan.Pair]*strata.HealthCheck, gone, connected map[string]bool) *Status {
	doc := &Status{Cells: make([]Cell, 0, len(p.Environments)*len(p.Services))}
	var cur, latest strata.Deployment
	for _, env := range p.Environments {
		for _, s := range p.Services {
			k := plan.Pair{Service: s.Name, Environment: env.Name}
			c := Cell{Service: s.Name, Environment: env.Name, Health: strata.HealthUnknown, Ephemeral: env.Ephemeral, Expires: TimePtr(env.Expires)}
			hasCur, hasLatest := read(k, &cur, &latest)
			if d := &cur; hasCur && !env.Predates(d) {
				c.Version, c.Health, c.DeployedAt = d.Version, strata.HealthNow(d, checked[k]), TimePtr(d.FinishedAt)
				if ch := checked[k]; ch != nil && ch.Deployment == d.ID {
					c.HealthDetail, c.HealthCheckedAt = ch.Detail, TimePtr(ch.CheckedAt)
				}
			}
			if d := &latest; hasLatest && !env.Predates(d) {
				c.State, c.Latest, c.Detail = d.State, d.ID, poolDetail(d)
				if d.State == strata.Pending && d.Pool != "" && !connected[d.Pool] {
					c.Detail += "; none connected"
				}
				if gone[d.ID] {
					c.State = strata.Interrupted
				}
			}
			doc.Cells = append(doc.Cells, c)
		}
	}
	return doc
}

// WriteText prints the matrix: a row per environment, a column per service.
func (s *Status) WriteText(w io.Writer, now time.Time) {
	// The cells come environment by environment, each with every service in order.
	var services []string
	seen := map[string]bool{}
	for _, c := range s.Cells {
		if seen[c.Service] {
			break
		}
		seen[c.Service] = true
		services = append(services, c.Service)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "ENVIRONMENT")
	for _, svc := range services {
		fmt.Fprintf(tw, "\t%s", svc)
	}
	fmt.Fprintln(tw)
	for i := 0; len(services) > 0 && i < len(s.Cells); i += len(services) {
		first := s.Cells[i]
		fmt.Fprint(tw, first.Environment)
		if first.Group != "" {
			fmt.Fprint(tw, " ("+GroupRole(first.Live)+" "+first.Group+")")
		}
		if first.Ephemeral {
			fmt.Fprint(tw, " ("+EnvExpiry(now, timeOf(first.Expires))+")")
		}
		for _, c := range s.Cells[i:min(i+len(services), len(s.Cells))] {
			if c.State == "" {
				fmt.Fprint(tw, "\t-")
				continue
			}
			text := Dash(c.Version)
			if c.DeployedAt != nil {
				text += " " + Age(now, *c.DeployedAt)
			}
			if c.State != strata.Succeeded && c.Detail != "" {
				text += " (" + c.State + ": " + c.Detail + ")"
			} else if c.State != strata.Succeeded {
				text += " (" + c.State + ")"
			} else if c.Health == strata.Unhealthy {
				text += " (unhealthy)"
			}
			if c.Recalled != nil {
				text += " (recalled)"
			}
			fmt.Fprintf(tw, "\t%s", text)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	for _, o := range s.Orphans {
		var running []string
		for _, d := range o.Running {
			running = append(running, d.Service+" "+d.Version)
		}
		fmt.Fprintf(w, "%s (orphan: no longer in strata.yaml; `strata env retire %s` destroys it): %s\n", o.Environment, o.Environment, strings.Join(running, ", "))
	}
}

// HistoryQuery selects the deployments of `history` (GET /api/v1/deployments).
type HistoryQuery struct {
	Service     string `query:"service" doc:"only this service"`
	Environment string `query:"env" doc:"only this environment"`
	Limit       int    `query:"limit" doc:"at most this many (0: all); the X-Next-Cursor header gives the next page"`
	Cursor      string `query:"cursor" doc:"where the page begins: the X-Next-Cursor of the page before"`
}

// NewHistory returns the deployments q selects, newest first. Unknown names are ENOTFOUND.
func NewHistory(ctx context.Context, e *engine.Engine, q HistoryQuery) ([]Deployment, error) {
	if q.Service != "" {
		if err := NeedService(e.Project, q.Service); err != nil {
			return nil, err
		}
	}
	if q.Environment != "" {
		if err := needGoneEnv(ctx, e, q.Environment); err != nil {
			return nil, err
		}
	}
	before, err := DeploymentCursor(q.Cursor)
	if err != nil {
		return nil, err
	}
	if before != "" {
		if _, err := e.Store.Deployment(ctx, before); err != nil {
			return nil, strata.Errorf(strata.EINVALID, "query parameter cursor=%q: the deployment it names is not in the store; start again without a cursor", q.Cursor)
		}
	}
	ds, err := e.Store.Deployments(ctx, strata.DeploymentFilter{Service: q.Service, Environment: q.Environment, Limit: q.Limit, Before: before})
	if err != nil {
		return nil, err
	}
	MarkInterrupted(ctx, e, ds)
	out := NewDeployments(ds)
	return out, MarkRecalled(ctx, e.Store, out)
}

// MarkRecalled sets Recalled on each deployment of ds whose release is recalled, reading
// the releases of each service ds holds once.
func MarkRecalled(ctx context.Context, s strata.ReleaseStore, ds []Deployment) error {
	recalls := map[string]*strata.Recall{}
	read := map[string]bool{}
	for i := range ds {
		d := &ds[i]
		if !read[d.Service] {
			read[d.Service] = true
			rs, err := s.Releases(ctx, d.Service)
			if err != nil {
				return fmt.Errorf("read the releases of %s: %w", d.Service, err)
			}
			for _, r := range rs {
				if r.Recalled != nil {
					recalls[r.Service+"@"+r.Version] = r.Recalled
				}
			}
		}
		d.Recalled = recalls[d.Service+"@"+d.Version]
	}
	return nil
}

// WriteHistory prints the `history` table.
func WriteHistory(w io.Writer, ds []Deployment, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSERVICE\tENVIRONMENT\tVERSION\tSTATE\tATTEMPT\tKIND\tACTOR\tSTARTED")
	for _, d := range ds {
		version := d.Version
		if d.Recalled != nil {
			version += " (recalled)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s ago\n", d.ID, d.Service, d.Environment, version, d.State, d.Attempt, Dash(d.Kind), Dash(d.Actor), Age(now, timeOf(d.StartedAt)))
	}
	tw.Flush()
}

// MarkInterrupted shows the deployments whose process is gone as interrupted: the store says
// running until `resume` takes them over, which would tell the user something false.
func MarkInterrupted(ctx context.Context, e *engine.Engine, ds []*strata.Deployment) {
	gone, err := e.Interrupted(ctx)
	if err != nil || len(gone) == 0 {
		return
	}
	ids := map[string]bool{}
	for _, d := range gone {
		ids[d.ID] = true
	}
	for _, d := range ds {
		if ids[d.ID] {
			d.State = strata.Interrupted
		}
	}
}

// WriteJSON writes s as the API and `-o json` write it (indented by two spaces, a newline
// at the end), a cell at a time: at 50,000 cells the document is some 15 MB, which a
// server streams into its compressor rather than holding whole.
func (s *Status) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if len(s.Cells) == 0 {
		bw.WriteString("{\n  \"cells\": []")
	} else {
		bw.WriteString("{\n  \"cells\": [\n    ")
		// One encoder for every cell reuses its buffers: a cell costs no garbage.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("    ", "  ")
		for i := range s.Cells {
			if i > 0 {
				bw.WriteString(",\n    ")
			}
			buf.Reset()
			if err := enc.Encode(&s.Cells[i]); err != nil {
				return fmt.Errorf("encode cell %s/%s: %w", s.Cells[i].Environment, s.Cells[i].Service, err)
			}
			bw.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		}
		bw.WriteString("\n  ]")
	}
	if s.Next != "" {
		next, _ := json.Marshal(s.Next)
		bw.WriteString(",\n  \"next\": ")
		bw.Write(next)
	}
	bw.WriteString("\n}\n")
	return bw.Flush()
}
