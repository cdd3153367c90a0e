-- 0011: feature flags changed at run time (`strata flag set/rollout/kill`), one row per
-- (environment, flag), above what strata.yaml says. value is JSON (NULL when not set),
-- percent the rollout percent given at run time (NULL when not set); times are unix
-- nanoseconds. flags_version holds one row whose n every change moves, so that a server
-- caching flags learns with one read whether anything changed.
CREATE TABLE IF NOT EXISTS flag_states (
	environment TEXT NOT NULL,
	flag        TEXT NOT NULL,
	value       TEXT,
	percent     INTEGER,
	killed      INTEGER NOT NULL DEFAULT 0,
	kill_reason TEXT NOT NULL DEFAULT '',
	updated_by  TEXT NOT NULL DEFAULT '',
	updated_at  INTEGER NOT NULL,
	PRIMARY KEY (environment, flag)
);
CREATE TABLE IF NOT EXISTS flags_version (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	n  INTEGER NOT NULL
);
INSERT INTO flags_version (id, n) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
-- A runtime change that waits for approvals (policy.flag_approvals): change is the
-- strata.FlagChange as JSON, approvals the list of {principal, at}; state is waiting until
-- the last approval applies it (applied).
CREATE TABLE IF NOT EXISTS flag_requests (
	id           TEXT PRIMARY KEY,
	environment  TEXT NOT NULL,
	flag         TEXT NOT NULL,
	action       TEXT NOT NULL,
	change       TEXT NOT NULL,
	detail       TEXT,
	requested_by TEXT NOT NULL,
	needed       INTEGER NOT NULL,
	approvals    TEXT NOT NULL DEFAULT '[]',
	state        TEXT NOT NULL,
	created_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS flag_requests_waiting ON flag_requests (environment, state);
