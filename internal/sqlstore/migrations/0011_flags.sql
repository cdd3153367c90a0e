-- 0011: feature flags changed at run time (`strata flag set/rollout/kill`), one row per
-- (environment, flag), above what strata.yaml says. value is JSON text (NULL when not set),
-- percent the rollout percent given at run time (NULL when not set); times are unix
-- nanoseconds. flags_version holds one row whose n every change moves (the UPDATE locks
-- it, so concurrent changes count one after another), so that a server caching flags
-- learns with one read whether anything changed.
CREATE TABLE IF NOT EXISTS flag_states (
	environment text NOT NULL,
	flag        text NOT NULL,
	value       text,
	percent     integer,
	killed      integer NOT NULL DEFAULT 0,
	kill_reason text NOT NULL DEFAULT '',
	updated_by  text NOT NULL DEFAULT '',
	updated_at  bigint NOT NULL,
	PRIMARY KEY (environment, flag)
);
CREATE TABLE IF NOT EXISTS flags_version (
	id integer PRIMARY KEY CHECK (id = 1),
	n  bigint NOT NULL
);
INSERT INTO flags_version (id, n) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
-- A runtime change that waits for approvals (policy.flag_approvals): change is the
-- strata.FlagChange as JSON, approvals the list of {principal, at}; state is waiting until
-- the last approval applies it (applied).
CREATE TABLE IF NOT EXISTS flag_requests (
	id           text PRIMARY KEY,
	environment  text NOT NULL,
	flag         text NOT NULL,
	action       text NOT NULL,
	change       text NOT NULL,
	detail       text,
	requested_by text NOT NULL,
	needed       bigint NOT NULL,
	approvals    text NOT NULL DEFAULT '[]',
	state        text NOT NULL,
	created_at   bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS flag_requests_waiting ON flag_requests (environment, state);
