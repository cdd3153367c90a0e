-- 0005: no index on state alone. Every deployment changes state at least twice, and each
-- change rewrote this index; the only queries by state alone ask for the active deployments
-- (pending, running, interrupted), which the partial unique index deployments_claim holds.
DROP INDEX IF EXISTS deployments_state;
