-- 0020: runbook runs that agents run (issue 11 point 4). pool is the environment's runs_on
-- ('' runs where it was asked for); a run of a pool that is running with fence 0 is queued
-- for an agent of the pool; the claim sets fence 1 and names the agent, whose owner_id
-- (strata.AgentOwner) names the fence, so a renew or a report carrying another matches no
-- row. A claimed run is never claimed again: when its lease lapses it is failed. job is what
-- the agent needs to run it (engine.Job as JSON: no secret's plaintext). kind is what the run
-- does: 'run' (a runbook), 'destroy' (a service's destroy step, `env destroy` on an agent),
-- 'observe' (drift's observe step on an agent).
ALTER TABLE task_runs ADD COLUMN pool text NOT NULL DEFAULT '';
ALTER TABLE task_runs ADD COLUMN agent text NOT NULL DEFAULT '';
ALTER TABLE task_runs ADD COLUMN fence bigint NOT NULL DEFAULT 0;
ALTER TABLE task_runs ADD COLUMN job text;
ALTER TABLE task_runs ADD COLUMN kind text NOT NULL DEFAULT 'run';
CREATE INDEX task_runs_pool ON task_runs (pool, created_at) WHERE pool <> '' AND state = 'running' AND fence = 0;
