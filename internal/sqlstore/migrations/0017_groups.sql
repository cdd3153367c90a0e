-- 0017, the part every database reads alike: the switches' indexes (each store's own
-- 0017_groups.sql makes the table, in its database's types), and group_live, each group's
-- live member once a switch moved it (strata.yaml's live until then); it changes in the
-- transaction that records the switch succeeded. Times are unix nanoseconds.
CREATE INDEX IF NOT EXISTS switches_group ON switches (grp, created_at);
CREATE UNIQUE INDEX IF NOT EXISTS switches_open ON switches (grp) WHERE state IN ('waiting', 'running');
CREATE TABLE IF NOT EXISTS group_live (
	grp         text PRIMARY KEY,
	environment text NOT NULL,
	switch_id   text NOT NULL,
	since       bigint NOT NULL
);
