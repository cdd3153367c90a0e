-- 0007: the health of what runs in each (service, environment), as `serve` last checked it
-- after the deployment (one row a pair; times are unix nanoseconds). since is when the
-- checked deployment's health last changed. IF NOT EXISTS: a store taken back to an older
-- schema by hand keeps the table.
CREATE TABLE IF NOT EXISTS health (
	service     text NOT NULL,
	environment text NOT NULL,
	deployment  text NOT NULL,
	health      text NOT NULL,
	detail      text NOT NULL DEFAULT '',
	checked_at  bigint NOT NULL,
	since       bigint NOT NULL,
	PRIMARY KEY (service, environment)
);
