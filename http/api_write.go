package http

import (
	"strings"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/report"
)

// The routes that change something. Each runs package report's operation (what the CLI runs
// locally) on the request's engine, whose actor is the token's name, once the token is
// known to cover every environment the change touches. Changes run in a context a client
// hanging up does not cancel.

func (s *Server) release(c *call) (any, error) {
	var req report.ReleaseRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if err := report.NeedService(c.p, req.Service); err != nil {
		return nil, err
	}
	return report.CutRelease(c.work(), c.eng, req)
}

func (s *Server) deploy(c *call) (any, error) {
	var req report.DeployRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if err := c.allow(strata.ActDeploy, req.Env); err != nil {
		return nil, err
	}
	return report.Deploy(c.work(), c.eng, req)
}

func (s *Server) rollback(c *call) (any, error) {
	var req report.RollbackRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if err := c.allow(strata.ActDeploy, req.Env); err != nil {
		return nil, err
	}
	return report.Rollback(c.work(), c.eng, req)
}

// stageEnvs returns the environments of a stage (none for an unknown one).
func (c *call) stageEnvs(stage string) []string {
	if st := c.p.Stage(stage); st != nil {
		return st.Environments
	}
	return nil
}

func (s *Server) promote(c *call) (any, error) {
	var req report.PromoteRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	// Plan names the stage (the next one when none is given) and changes nothing, so the
	// token is checked against its environments before anything is recorded.
	pl, err := c.eng.Plan(c.r.Context(), req.Engine())
	if err != nil {
		return nil, err
	}
	if err := c.allow(strata.ActDeploy, c.stageEnvs(pl.Promotion.Stage)...); err != nil {
		return nil, err
	}
	if req.OverrideWindow {
		if err := c.allow(strata.ActAdmin); err != nil {
			return nil, err
		}
	}
	return report.Promote(c.work(), c.eng, req)
}

func (s *Server) plan(c *call) (any, error) {
	var req report.PromoteRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	pl, err := c.eng.Plan(c.r.Context(), req.Engine())
	if err != nil {
		return nil, err
	}
	if err := c.allow(strata.ActRead, c.stageEnvs(pl.Promotion.Stage)...); err != nil {
		return nil, err
	}
	return report.Plan(c.r.Context(), c.eng, req.Engine())
}

// decodeOptional reads a body that may be absent.
func (c *call) decodeOptional(v any) error {
	if c.r.ContentLength == 0 {
		return nil
	}
	err := c.decode(v)
	if err != nil && strings.HasPrefix(err.Error(), "request body is empty") {
		return nil
	}
	return err
}

// decidable checks the token may approve or reject promotion id: it covers every
// environment of the promotion's stage.
func (c *call) decidable(id string) error {
	p, err := c.s.store.Promotion(c.r.Context(), id)
	if err != nil {
		return err
	}
	return c.allow(strata.ActApprove, c.stageEnvs(p.Stage)...)
}

func (s *Server) approve(c *call) (any, error) {
	var req report.ApproveRequest
	if err := c.decodeOptional(&req); err != nil {
		return nil, err
	}
	id := c.r.PathValue("id")
	if err := c.decidable(id); err != nil {
		return nil, err
	}
	return report.Approve(c.work(), c.eng, id, req)
}

func (s *Server) reject(c *call) (any, error) {
	var req report.RejectRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	id := c.r.PathValue("id")
	if err := c.decidable(id); err != nil {
		return nil, err
	}
	return report.Reject(c.work(), c.eng, id, req)
}

func (s *Server) freeze(c *call) (any, error) {
	var req report.FreezeRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if err := c.allow(strata.ActAdmin, req.Env); err != nil {
		return nil, err
	}
	return report.Freeze(c.work(), c.eng, req.Env, req.Reason)
}

func (s *Server) unfreeze(c *call) (any, error) {
	env := c.r.PathValue("env")
	if err := c.allow(strata.ActAdmin, env); err != nil {
		return nil, err
	}
	return report.Unfreeze(c.work(), c.eng, env)
}

func (s *Server) resume(c *call) (any, error) {
	return report.ResumeAll(c.work(), c.eng)
}
