package http

import (
	"slices"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/config"
	"github.com/strata-dev/strata/report"
)

// cloneProject returns a copy of p whose environment list can change without touching
// p's, which requests in flight may be reading.
func cloneProject(p *strata.Project) *strata.Project {
	np := *p
	np.Environments = slices.Clone(p.Environments)
	return &np
}

// changeProject publishes the project fn makes from a copy of the current one.
func (s *Server) changeProject(fn func(p *strata.Project)) {
	s.projMu.Lock()
	defer s.projMu.Unlock()
	np := cloneProject(s.cur.Load())
	fn(np)
	s.cur.Store(np)
}

// validate is `validate`: the summary of the project the server runs, as far as the token
// covers it. A scoped token sees the environments it covers, and the stages that hold any
// of them with only those; the document's scope names its selectors.
func (s *Server) validate(c *call) (any, error) {
	doc := report.NewValidation(c.p, nil)
	if coversAll(c.tok) {
		return doc, nil
	}
	doc.Scope = c.tok.Selectors()
	doc.Environments = slices.DeleteFunc(doc.Environments, func(name string) bool { return !c.covered(name) })
	stages := []report.Stage{}
	for _, st := range doc.Stages {
		st.Environments = slices.DeleteFunc(slices.Clone(st.Environments), func(name string) bool { return !c.covered(name) })
		if len(st.Environments) == 0 {
			continue
		}
		waves := [][]string{}
		for _, w := range st.Waves {
			if w = slices.DeleteFunc(slices.Clone(w), func(name string) bool { return !c.covered(name) }); len(w) > 0 {
				waves = append(waves, w)
			}
		}
		st.Waves = waves
		stages = append(stages, st)
	}
	doc.Stages = stages
	return doc, nil
}

// createEnv is `env create`: a short-lived environment like a declared one. The token must
// cover both the environment it is like and the new one (its labels may differ).
func (s *Server) createEnv(c *call) (any, error) {
	var req report.EnvCreateRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if req.Like != "" {
		if err := c.allow(strata.ActDeploy, req.Like); err != nil {
			return nil, err
		}
		trial := cloneProject(c.p)
		if err := config.AddEphemeral(trial, &strata.EphemeralEnv{Name: req.Name, Like: req.Like, Labels: req.Labels}); err == nil {
			if err := c.s.authorize(c.r.Context(), c.r, c.tok, trial, strata.ActDeploy, req.Name); err != nil {
				return nil, err
			}
		}
	}
	e := *c.eng
	e.Project = cloneProject(c.p)
	doc, err := report.CreateEnv(c.work(), &e, req)
	if err != nil {
		return doc, err
	}
	if env := e.Project.Environment(req.Name); env != nil {
		s.changeProject(func(p *strata.Project) {
			if p.Environment(env.Name) == nil {
				p.Environments = append(p.Environments, env)
			}
		})
	}
	return doc, nil
}

// destroyEnv is `env destroy`: the destroy steps of what runs in a short-lived
// environment, then it is forgotten.
func (s *Server) destroyEnv(c *call) (any, error) {
	name := c.r.PathValue("name")
	if err := c.allow(strata.ActDeploy, name); err != nil {
		return nil, err
	}
	e := *c.eng
	e.Project = cloneProject(c.p)
	doc, err := report.DestroyEnv(c.work(), &e, name)
	if doc != nil && doc.Forgotten {
		s.forget(name)
	}
	return doc, err
}

// forget drops short-lived environments from the published project.
func (s *Server) forget(names ...string) {
	s.changeProject(func(p *strata.Project) {
		p.Environments = slices.DeleteFunc(p.Environments, func(e *strata.Environment) bool {
			return e.Ephemeral && slices.Contains(names, e.Name)
		})
	})
}
