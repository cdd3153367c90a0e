-- 0017: environment groups (blue/green, disaster recovery). switches are the moves of a
-- group's traffic (`strata switch`, `strata failover`): waiting for approvals, or running
-- under an owner's lease while the group's switch step runs, then succeeded, failed or
-- rejected. At most one switch of a group is open (waiting or running) at a time.
-- group_live is each group's live member once a switch moved it (strata.yaml's live until
-- then); it changes in the transaction that records the switch succeeded. approvals is a
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
CREATE INDEX IF NOT EXISTS switches_group ON switches (grp, created_at);
CREATE UNIQUE INDEX IF NOT EXISTS switches_open ON switches (grp) WHERE state IN ('waiting', 'running');
CREATE TABLE IF NOT EXISTS group_live (
	grp         text PRIMARY KEY,
	environment text NOT NULL,
	switch_id   text NOT NULL,
	since       bigint NOT NULL
);
