-- 0019: PostgreSQL drops deployments_state here; SQLite dropped it in 0005. The migration
-- exists so both stores share one schema version.
SELECT 1;
