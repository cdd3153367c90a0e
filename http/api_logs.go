package http

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/strata-dev/strata"
)

// logPoll is how often a followed deployment's new output is read from the store.
const logPoll = 250 * time.Millisecond

// followLogs is GET /api/v1/deployments/{id}/logs?follow=1 (command.Logs at a server's
// site): it streams a deployment's output as server-sent events until it ends or the
// client goes away: one "chunk" event per chunk (data: the chunk as JSON), then an "end"
// event with the deployment's final state once it is no longer active. Each event's id is the chunk's sequence number, so a reconnecting
// EventSource resumes after it (Last-Event-ID).
func (s *Server) followLogs(c *call, d *strata.Deployment, after int64) {
	w, ctx := c.w, c.r.Context()
	if v := c.r.Header.Get("Last-Event-ID"); v != "" {
		fmt.Sscan(v, &after)
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	h.Set(ExitHeader, "0")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(event, id string, v any) bool {
		b, _ := json.Marshal(v)
		if id != "" {
			fmt.Fprintf(w, "id: %s\n", id)
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	t := time.NewTicker(logPoll)
	defer t.Stop()
	for {
		// The state is read before the output, so everything written before it ended is
		// sent before "end".
		state := d.State
		chunks, err := s.store.Logs(ctx, d.ID, after)
		if err != nil {
			s.log.Warn("follow logs", "deployment", d.ID, "err", err)
			return
		}
		for _, ch := range chunks {
			after = ch.Seq
			if !send("chunk", fmt.Sprint(ch.Seq), ch) {
				return
			}
		}
		if !strata.Active(state) {
			send("end", "", map[string]any{"id": d.ID, "state": state})
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next, err := s.store.Deployment(ctx, d.ID)
		if err != nil {
			s.log.Warn("follow logs", "deployment", d.ID, "err", err)
			return
		}
		d = next
	}
}
