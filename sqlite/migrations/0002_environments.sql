-- 0002: short-lived environments (`strata env create`). They live here rather than in
-- strata.yaml; expires is unix nanoseconds, 0 for no time to live.
CREATE TABLE environments (
	name       TEXT PRIMARY KEY,
	like_env   TEXT NOT NULL,
	labels     TEXT,
	expires    INTEGER NOT NULL DEFAULT 0,
	created_by TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL
);
