-- 0007: the health of what runs in each (service, environment), as `serve` last checked it
-- after the deployment (one row a pair; times are unix nanoseconds). since is when the
-- checked deployment's health last changed. IF NOT EXISTS: a store taken back to an older
-- schema by hand keeps the table.
CREATE TABLE IF NOT EXISTS health (
	service     TEXT NOT NULL,
	environment TEXT NOT NULL,
	deployment  TEXT NOT NULL,
	health      TEXT NOT NULL,
	detail      TEXT NOT NULL DEFAULT '',
	checked_at  INTEGER NOT NULL,
	since       INTEGER NOT NULL,
	PRIMARY KEY (service, environment)
);
