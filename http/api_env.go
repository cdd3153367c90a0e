package http

import (
	"slices"

	"github.com/strata-dev/strata"
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

// forget drops short-lived environments from the published project.
func (s *Server) forget(names ...string) {
	s.changeProject(func(p *strata.Project) {
		p.Environments = slices.DeleteFunc(p.Environments, func(e *strata.Environment) bool {
			return e.Ephemeral && slices.Contains(names, e.Name)
		})
	})
}
