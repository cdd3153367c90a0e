package http

import (
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
