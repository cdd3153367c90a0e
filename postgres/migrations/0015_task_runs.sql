-- 0015: runs of services' runbooks (`strata run`): an operational task in one environment,
-- waiting for approvals or running under an owner's lease, then succeeded or failed with its
-- exit code and its (redacted, bounded) output. approvals is a JSON array of
-- [principal, at] pairs. Times are unix nanoseconds; n breaks ties of "newest first".
CREATE TABLE IF NOT EXISTS task_runs (
	n           bigserial NOT NULL,
	id          text PRIMARY KEY,
	service     text NOT NULL,
	environment text NOT NULL,
	task        text NOT NULL,
	state       text NOT NULL,
	requester   text NOT NULL,
	reason      text NOT NULL DEFAULT '',
	approvals   text NOT NULL DEFAULT '[]',
	exit_code   bigint NOT NULL DEFAULT -1,
	error       text NOT NULL DEFAULT '',
	output      text NOT NULL DEFAULT '',
	owner_id    text NOT NULL DEFAULT '',
	owner_host  text NOT NULL DEFAULT '',
	owner_pid   bigint NOT NULL DEFAULT 0,
	owner_start bigint NOT NULL DEFAULT 0,
	lease_until bigint NOT NULL DEFAULT 0,
	created_at  bigint NOT NULL,
	started_at  bigint NOT NULL DEFAULT 0,
	finished_at bigint NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS task_runs_environment ON task_runs (environment, created_at);
