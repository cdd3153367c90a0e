-- 0003: API tokens of `strata serve`. Only the hex sha256 of a token's secret is kept.
-- A revoked token stays listed (revoked_at, unix nanoseconds, is 0 while it is valid); its
-- name may then be given to a new token, so names are unique among valid tokens only.
CREATE TABLE tokens (
	id         bigserial PRIMARY KEY,
	name       text NOT NULL,
	role       text NOT NULL,
	envs       text,
	hash       text NOT NULL,
	created_by text NOT NULL DEFAULT '',
	created_at bigint NOT NULL,
	revoked_at bigint NOT NULL DEFAULT 0,
	CONSTRAINT tokens_hash UNIQUE (hash)
);
CREATE UNIQUE INDEX tokens_valid_name ON tokens (name) WHERE revoked_at = 0;
