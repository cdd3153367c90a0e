-- 0005: the SQLite store drops its index on state alone here (each state change rewrote it).
-- PostgreSQL keeps deployments_state: its planner sees the states a query binds and chooses
-- for itself. The migration exists so both stores share one schema version.
SELECT 1;
