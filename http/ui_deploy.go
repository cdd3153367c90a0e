package http

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/strata-dev/strata"
)

// deploymentView is a deployment page: the deployment, its step output as stored (redacted
// by the engine before it was stored), and where the live stream picks up.
type deploymentView struct {
	D     *strata.Deployment
	Logs  []strata.LogChunk
	After int64
	Live  bool
	Now   time.Time
}

// visibleDeployment loads a deployment whose environment the visitor reaches.
func (u *ui) visibleDeployment(ctx context.Context, v *visit, id string) (*strata.Deployment, error) {
	d, err := v.engine.Store.Deployment(ctx, id)
	if err != nil {
		return nil, err
	}
	if !v.covers(d.Environment) {
		return nil, strata.Errorf(strata.EUNAUTHORIZED, "token %s does not reach environment %s", v.token.Name, d.Environment)
	}
	return d, nil
}

// deployment shows one deployment; while it runs, its output and state follow live.
func (u *ui) deployment(w http.ResponseWriter, r *http.Request, v *visit) {
	d, err := u.visibleDeployment(r.Context(), v, r.PathValue("id"))
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	logs, err := v.engine.Store.Logs(r.Context(), d.ID, 0)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	view := deploymentView{D: d, Logs: logs, Live: strata.Active(d.State), Now: u.now()}
	if n := len(logs); n > 0 {
		view.After = logs[n-1].Seq
	}
	u.render(w, r, v, http.StatusOK, "deployment", d.Service+"@"+d.Version+" → "+d.Environment, view)
}

// deploymentEvents streams a deployment as server-sent events: "log" with each new chunk
// of output (an HTML fragment; its id is the chunk's seq, so a reconnecting browser picks
// up after the last one it saw), "state" with the deployment's summary whenever it
// changes, and "done" once it has ended and its output is all sent.
func (u *ui) deploymentEvents(w http.ResponseWriter, r *http.Request, v *visit) {
	ctx := r.Context()
	d, err := u.visibleDeployment(ctx, v, r.PathValue("id"))
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	if id, err := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64); err == nil {
		after = id
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// The stream outlives any write deadline the server sets for ordinary pages.
	rc.SetWriteDeadline(time.Time{})
	t := u.pages["deployment"]
	lastState := ""
	tick := time.NewTicker(u.poll)
	defer tick.Stop()
	beat := time.Now()
	var buf bytes.Buffer
	for {
		// The state is read before the logs: a deployment's output is stored before the
		// state that ends it, so logs read after an ended state hold its last lines, and the
		// stream ends only once a read after the end found nothing more.
		if d, err = v.engine.Store.Deployment(ctx, d.ID); err != nil {
			u.streamError(ctx, w, r.PathValue("id"), err)
			return
		}
		logs, err := v.engine.Store.Logs(ctx, d.ID, after)
		if err != nil {
			u.streamError(ctx, w, d.ID, err)
			return
		}
		for _, c := range logs {
			buf.Reset()
			if err := t.ExecuteTemplate(&buf, "chunk", c); err != nil {
				u.log.Error("render log chunk", "err", err)
				return
			}
			writeEvent(w, "log", strconv.FormatInt(c.Seq, 10), buf.String())
			after = c.Seq
		}
		if state := d.State + "/" + d.Health + "/" + strconv.Itoa(d.Attempt); state != lastState {
			lastState = state
			buf.Reset()
			if err := t.ExecuteTemplate(&buf, "summary", deploymentView{D: d, Now: u.now()}); err != nil {
				u.log.Error("render deployment summary", "err", err)
				return
			}
			writeEvent(w, "state", "", buf.String())
		}
		if !strata.Active(d.State) && len(logs) == 0 {
			writeEvent(w, "done", "", d.State)
			rc.Flush()
			return
		}
		if time.Since(beat) > 15*time.Second {
			io.WriteString(w, ": keep-alive\n\n")
			beat = time.Now()
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// streamError ends a stream whose store read failed, unless the browser left first.
func (u *ui) streamError(ctx context.Context, w io.Writer, id string, err error) {
	if ctx.Err() != nil {
		return
	}
	u.log.Error("deployment stream", "deployment", id, "err", err)
	writeEvent(w, "done", "", "error")
}

// writeEvent writes one server-sent event; every line of data gets its own "data:" field,
// which the browser joins back with newlines.
func writeEvent(w io.Writer, event, id, data string) {
	var b strings.Builder
	if id != "" {
		fmt.Fprintf(&b, "id: %s\n", id)
	}
	fmt.Fprintf(&b, "event: %s\n", event)
	for line := range strings.SplitSeq(strings.ReplaceAll(data, "\r", ""), "\n") {
		b.WriteString("data: ")
		b.WriteString(line)
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	io.WriteString(w, b.String())
}
