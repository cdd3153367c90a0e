package http

import (
	"fmt"
	"net/http"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/report"
)

// The routes of the commands are declared in package command (declared.go serves them);
// these are the server's own.

// unknownEnv is the error for an environment the project does not have.
func unknownEnv(p *strata.Project, name string) error {
	if name == "" {
		return strata.Errorf(strata.EINVALID, "an environment is required; environments: %s", report.KnownList(p.EnvironmentNames()))
	}
	return report.Unknown("environment", name, p.EnvironmentNames())
}

// healthz is GET /healthz: the server runs and its store answers.
func (s *Server) healthz(c *call) (any, error) {
	if _, err := s.store.Freezes(c.r.Context()); err != nil {
		return nil, err
	}
	return map[string]any{"ok": true, "project": c.p.Name, "schema": strata.SchemaVersion}, nil
}

// readiness is GET /readyz's document: ready, and each check's finding ("ok" or what is
// wrong, in words a person on call can act on).
type readiness struct {
	Ready  bool              `json:"ready"`
	Checks map[string]string `json:"checks"`
}

// readyz is GET /readyz: whether this server should be sent traffic. Apart from /healthz
// (the process answers), it is ready when its store answers, holds the schema this binary
// reads (every migration applied, none newer: a server left behind by an upgrade of the
// shared store is not ready), and its scheduler runs. 503 otherwise, naming what is not.
func (s *Server) readyz(c *call) (any, error) {
	doc := readiness{Ready: true, Checks: map[string]string{"store": "ok", "migrations": "ok", "scheduler": "ok"}}
	notReady := func(check, why string) {
		doc.Ready = false
		doc.Checks[check] = why
	}
	switch v, err := s.store.StoredSchema(c.r.Context()); {
	case err != nil:
		// The store's own words may name hosts and schemas: they go to the log only.
		s.log.Warn("readyz: the store does not answer", "err", err)
		notReady("store", "the store does not answer (the server's log says why)")
		doc.Checks["migrations"] = "unknown: the store does not answer"
	case v < strata.SchemaVersion:
		notReady("migrations", fmt.Sprintf("the store is at schema %d; this binary needs %d: restart strata serve to migrate it", v, strata.SchemaVersion))
	case v > strata.SchemaVersion:
		notReady("migrations", fmt.Sprintf("the store is at schema %d, written by a newer strata; this binary reads up to %d: upgrade it", v, strata.SchemaVersion))
	}
	if !s.scheduling.Load() {
		notReady("scheduler", "the scheduler is not running")
	}
	status := http.StatusOK
	if !doc.Ready {
		status = http.StatusServiceUnavailable
	}
	c.wrote = true
	s.writeJSON(c.w, c.r, status, doc)
	return nil, nil
}
