-- 0019: PostgreSQL drops deployments_state, the index on state alone, as SQLite did in 0005.
-- On a fresh schema without statistics the planner took it for "the newest succeeded
-- deployment of each (service, environment)" (plan, status, /metrics): it read every
-- succeeded row through it and sorted them, where deployments_pair walks back from each
-- pair's newest entry. Every query by state alone asks for the active deployments, which
-- the partial unique index deployments_claim holds.
DROP INDEX IF EXISTS deployments_state;
