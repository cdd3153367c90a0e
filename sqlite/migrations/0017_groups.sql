-- 0017: environment groups (blue/green, disaster recovery). switches are the moves of a
-- group's traffic (`strata switch`, `strata failover`): waiting for approvals, or running
-- under an owner's lease while the group's switch step runs, then succeeded, failed or
-- rejected. At most one switch of a group is open (waiting or running) at a time.
-- The indexes and group_live, which every database reads alike, are in
-- internal/sqlstore/migrations/0017_groups.sql. approvals is a
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
