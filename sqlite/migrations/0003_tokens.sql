-- 0003: API tokens of `strata serve`. Only the hex sha256 of a token's secret is kept.
-- A revoked token stays listed (revoked_at, unix nanoseconds, is 0 while it is valid); its
-- name may then be given to a new token, so names are unique among valid tokens only.
CREATE TABLE IF NOT EXISTS tokens (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	role       TEXT NOT NULL,
	envs       TEXT,
	hash       TEXT NOT NULL UNIQUE,
	created_by TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	revoked_at INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS tokens_valid_name ON tokens (name) WHERE revoked_at = 0;
