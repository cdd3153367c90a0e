-- 0017: environment groups (blue/green, disaster recovery). switches are the moves of a
-- group's traffic (`strata switch`, `strata failover`): waiting for approvals, or running
-- under an owner's lease while the group's switch step runs, then succeeded, failed or
-- rejected. At most one switch of a group is open (waiting or running) at a time.
-- The indexes and group_live, which every database reads alike, are in
-- internal/sqlstore/migrations/0017_groups.sql. approvals is a
-- JSON array of [principal, at] pairs. Times are unix nanoseconds; n breaks ties of "newest first".
CREATE TABLE IF NOT EXISTS switches (
	n           bigserial NOT NULL,
	id          text PRIMARY KEY,
	grp         text NOT NULL,
	from_env    text NOT NULL,
	to_env      text NOT NULL,
	kind        text NOT NULL,
	state       text NOT NULL,
	requester   text NOT NULL,
	reason      text NOT NULL DEFAULT '',
	approvals   text NOT NULL DEFAULT '[]',
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
