package http

import (
	"context"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/report"
)

// A request that claims (a claim, or a report that asks for the next claim) may lose its
// answer after the server committed the claim: a cut link, a server that died after the
// commit. The job is then the agent's, but the agent does not know it, and would wait for
// nothing while the job waited a whole lease for another agent. So the agent asks again, and
// the server answers as the first time:
//
//   - a report sent again with the same fence and outcome is answered as recorded (nothing
//     is written twice), and its next claim is the job claimed for the agent since the report
//     was recorded, if any: the agent, which runs one job at a time and is still reporting,
//     has started nothing since;
//   - a claim that says what the agent last heard (ClaimRequest.Heard: the newest claim it
//     received, or its registration) is first given the job claimed for it after that, if
//     its lease holds: one it never received, so never started.
//
// Either gives the job with its fence and attempt, its lease renewed from now (HeldJob).

// heldSince is the first moment a claim the agent never heard of can have been made, from
// what a claim says it heard; zero (no look) when it says nothing.
func heldSince(heard time.Time) time.Time {
	if heard.IsZero() {
		return time.Time{}
	}
	return heard.Add(time.Nanosecond)
}

// held gives the agent of req again the job it holds claimed since since, in the environments
// envs of its token (all of the pool's with all), deployments first as a claim takes them;
// ENOTFOUND when there is none.
func (s *Server) held(ctx context.Context, req ClaimRequest, envs []string, all bool, since time.Time, takeDeploys bool, taskKinds []string) (*Claimed, error) {
	lease := s.agentLease()
	now := s.now()
	c := strata.JobClaim{Pool: req.Pool, Envs: envs, AllEnvs: all, Agent: req.Name, Now: now, Until: now.Add(lease), Since: since, TaskKinds: taskKinds}
	var err error = strata.Errorf(strata.ENOTFOUND, "nothing held")
	if takeDeploys {
		var d *strata.Deployment
		if d, err = s.store.HeldJob(ctx, c); err == nil {
			s.log.Info("agent given its claim again", "agent", req.Name, "deployment", d.ID, "fence", d.Fence)
			return s.claimedDeployment(req, d, lease)
		}
	}
	if len(taskKinds) > 0 && strata.ErrorCode(err) == strata.ENOTFOUND {
		var r *strata.TaskRun
		if r, err = s.store.HeldRunJob(ctx, c); err == nil {
			s.log.Info("agent given its claim again", "agent", req.Name, "run", r.ID, "fence", r.Fence)
			return s.claimedRun(req, r, lease)
		}
	}
	return nil, err
}

// reportedAgain reports whether d, as stored, already holds report r: the same claim (agent
// and fence) ended with the same outcome (a failure may have been recorded rolled back).
func reportedAgain(d *strata.Deployment, r AgentReport) bool {
	same := d.State == r.State || (r.State == strata.Failed && d.State == strata.RolledBack)
	return !strata.Active(d.State) && same && d.Agent == r.Name && d.Fence == r.Fence && d.Error == r.Error
}

// runReportedAgain is reportedAgain for a task run.
func runReportedAgain(t *strata.TaskRun, r AgentReport) bool {
	exit := -1
	if r.ExitCode != nil {
		exit = *r.ExitCode
	}
	return t.State == r.State && t.Agent == r.Name && t.Fence == r.Fence && t.Error == r.Error && t.ExitCode == exit
}

// answerAgain answers report r of deployment d, which the store holds already, as the first
// answer did: the deployment as recorded and, when r asks for it, the job claimed for the
// agent since (or a new claim).
func (s *Server) answerAgain(c *call, r AgentReport, d *strata.Deployment) any {
	s.log.Info("agent reported again", "agent", r.Name, "deployment", d.ID, "state", d.State)
	if !r.Next {
		return report.NewDeployment(d)
	}
	return &ReportedNext{Deployment: report.NewDeployment(d), Next: s.claimNext(c, r, d.ID, d.FinishedAt)}
}

// answerRunAgain is answerAgain for a task run.
func (s *Server) answerRunAgain(c *call, rep AgentReport, r *strata.TaskRun) any {
	s.log.Info("agent reported again", "agent", rep.Name, "run", r.ID, "state", r.State)
	if !rep.Next {
		return r
	}
	return &ReportedNext{Run: r, Next: s.claimNext(c, rep, r.ID, r.FinishedAt)}
}
