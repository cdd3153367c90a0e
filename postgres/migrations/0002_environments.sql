-- 0002: short-lived environments (`strata env create`). They live here rather than in
-- strata.yaml; expires is unix nanoseconds, 0 for no time to live.
CREATE TABLE environments (
	n          bigserial UNIQUE,
	name       text PRIMARY KEY,
	like_env   text NOT NULL,
	labels     text,
	expires    bigint NOT NULL DEFAULT 0,
	created_by text NOT NULL DEFAULT '',
	created_at bigint NOT NULL
);
