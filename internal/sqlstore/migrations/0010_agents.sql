-- 0010: deployments that agents run (issue 11 points 4, 5). pool is the environment's runs_on
-- ('' runs where it was asked for); agent is who claimed it last; fence grows with each claim
-- (an agent's owner_id names it, so a renew or a report carrying an older one matches no row);
-- job is what the agent needs to run it (engine.Job as JSON: no secret's plaintext, only the
-- environment's ciphertext). agents lists the agents that registered, by name; times are unix
-- nanoseconds.
ALTER TABLE deployments ADD COLUMN pool text NOT NULL DEFAULT '';
ALTER TABLE deployments ADD COLUMN agent text NOT NULL DEFAULT '';
ALTER TABLE deployments ADD COLUMN fence bigint NOT NULL DEFAULT 0;
ALTER TABLE deployments ADD COLUMN job text;
CREATE INDEX deployments_pool ON deployments (pool, created_at) WHERE pool <> '' AND state IN ('pending', 'running');
CREATE TABLE IF NOT EXISTS agents (
	name            text PRIMARY KEY,
	pool            text NOT NULL,
	version         text NOT NULL DEFAULT '',
	protocol        bigint NOT NULL DEFAULT 0,
	token           text NOT NULL DEFAULT '',
	connected_since bigint NOT NULL,
	last_seen       bigint NOT NULL
);
