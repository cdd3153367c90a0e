-- 0015: runs of services' runbooks (`strata run`): an operational task in one environment,
-- waiting for approvals or running under an owner's lease, then succeeded or failed with its
-- exit code and its (redacted, bounded) output. approvals is a JSON array of
-- [principal, at] pairs. Times are unix nanoseconds.
CREATE TABLE IF NOT EXISTS task_runs (
	id          TEXT PRIMARY KEY,
	service     TEXT NOT NULL,
	environment TEXT NOT NULL,
	task        TEXT NOT NULL,
	state       TEXT NOT NULL,
	requester   TEXT NOT NULL,
	reason      TEXT NOT NULL DEFAULT '',
	approvals   TEXT NOT NULL DEFAULT '[]',
	exit_code   INTEGER NOT NULL DEFAULT -1,
	error       TEXT NOT NULL DEFAULT '',
	output      TEXT NOT NULL DEFAULT '',
	owner_id    TEXT NOT NULL DEFAULT '',
	owner_host  TEXT NOT NULL DEFAULT '',
	owner_pid   INTEGER NOT NULL DEFAULT 0,
	owner_start INTEGER NOT NULL DEFAULT 0,
	lease_until INTEGER NOT NULL DEFAULT 0,
	created_at  INTEGER NOT NULL,
	started_at  INTEGER NOT NULL DEFAULT 0,
	finished_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS task_runs_environment ON task_runs (environment, created_at);
