-- 0017: environment groups (blue/green, disaster recovery). switches are the moves of a
-- group's traffic (`strata switch`, `strata failover`): waiting for approvals, or running
-- under an owner's lease while the group's switch step runs, then succeeded, failed or
-- rejected. At most one switch of a group is open (waiting or running) at a time.
-- group_live is each group's live member once a switch moved it (strata.yaml's live until
-- then); it changes in the transaction that records the switch succeeded. approvals is a
-- JSON array of [principal, at] pairs. Times are unix nanoseconds.
CREATE TABLE IF NOT EXISTS switches (
	id          TEXT PRIMARY KEY,
	grp         TEXT NOT NULL,
	from_env    TEXT NOT NULL,
	to_env      TEXT NOT NULL,
	kind        TEXT NOT NULL,
	state       TEXT NOT NULL,
	requester   TEXT NOT NULL,
	reason      TEXT NOT NULL DEFAULT '',
	approvals   TEXT NOT NULL DEFAULT '[]',
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
CREATE INDEX IF NOT EXISTS switches_group ON switches (grp, created_at);
CREATE UNIQUE INDEX IF NOT EXISTS switches_open ON switches (grp) WHERE state IN ('waiting', 'running');
CREATE TABLE IF NOT EXISTS group_live (
	grp         TEXT PRIMARY KEY,
	environment TEXT NOT NULL,
	switch_id   TEXT NOT NULL,
	since       INTEGER NOT NULL
);
