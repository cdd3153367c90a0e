-- 0001: Strata's first schema, as the SQLite store's 0001. Times are unix nanoseconds in UTC
-- (0 is "not set"): they round-trip exactly, which the audit chain's hashes need, where
-- timestamptz would keep microseconds only. Maps and lists are JSON text; an event's detail is
-- kept byte for byte (bytea), since its hash covers those bytes. Each table that is listed
-- "newest first" has a serial column n that breaks ties between equal times.

-- strata_store marks the schema as a Strata store: a schema with tables but without this one
-- belongs to something else and is left alone.
CREATE TABLE strata_store (
	id         integer PRIMARY KEY CHECK (id = 1),
	created_at bigint NOT NULL
);
INSERT INTO strata_store (id, created_at)
	VALUES (1, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint * 1000);

CREATE TABLE schema_version (
	version    integer PRIMARY KEY,
	applied_at bigint NOT NULL
);

CREATE TABLE releases (
	n          bigserial UNIQUE,
	id         text PRIMARY KEY,
	service    text NOT NULL,
	version    text NOT NULL,
	digest     text NOT NULL,
	git_commit text NOT NULL DEFAULT '',
	created_by text NOT NULL DEFAULT '',
	created_at bigint NOT NULL,
	UNIQUE (service, version)
);

CREATE TABLE deployments (
	n            bigserial UNIQUE,
	id           text PRIMARY KEY,
	service      text NOT NULL,
	environment  text NOT NULL,
	version      text NOT NULL,
	release_id   text NOT NULL DEFAULT '',
	state        text NOT NULL,
	attempt      bigint NOT NULL DEFAULT 0,
	kind         text NOT NULL DEFAULT '',
	promotion_id text NOT NULL DEFAULT '',
	rollback_of  text NOT NULL DEFAULT '',
	actor        text NOT NULL DEFAULT '',
	config       text,
	config_hash  text NOT NULL DEFAULT '',
	outputs      text,
	health       text NOT NULL DEFAULT '',
	error        text NOT NULL DEFAULT '',
	owner_id     text NOT NULL DEFAULT '',
	owner_host   text NOT NULL DEFAULT '',
	owner_pid    bigint NOT NULL DEFAULT 0,
	owner_start  bigint NOT NULL DEFAULT 0,
	pgid         bigint NOT NULL DEFAULT 0,
	lease_until  bigint NOT NULL DEFAULT 0,
	created_at   bigint NOT NULL,
	started_at   bigint NOT NULL DEFAULT 0,
	finished_at  bigint NOT NULL DEFAULT 0
);
-- Active deployments by lease, for reclaiming those whose owner stopped renewing.
CREATE INDEX deployments_lease ON deployments (lease_until)
	WHERE state IN ('pending', 'running', 'interrupted');

CREATE TABLE logs (
	seq        bigserial PRIMARY KEY,
	deployment text NOT NULL REFERENCES deployments (id),
	attempt    bigint NOT NULL,
	step       text NOT NULL,
	at         bigint NOT NULL,
	data       text NOT NULL
);

CREATE TABLE promotions (
	n          bigserial UNIQUE,
	id         text PRIMARY KEY,
	service    text NOT NULL,
	version    text NOT NULL,
	stage      text NOT NULL,
	state      text NOT NULL,
	requester  text NOT NULL DEFAULT '',
	override   boolean NOT NULL DEFAULT false,
	reason     text NOT NULL DEFAULT '',
	error      text NOT NULL DEFAULT '',
	created_at bigint NOT NULL,
	updated_at bigint NOT NULL
);

CREATE TABLE approvals (
	n         bigserial,
	promotion text NOT NULL REFERENCES promotions (id),
	principal text NOT NULL,
	at        bigint NOT NULL,
	UNIQUE (promotion, principal)
);

CREATE TABLE freezes (
	environment text PRIMARY KEY,
	reason      text NOT NULL,
	actor       text NOT NULL,
	at          bigint NOT NULL
);

CREATE TABLE events (
	seq         bigint PRIMARY KEY,
	at          bigint NOT NULL,
	actor       text NOT NULL,
	action      text NOT NULL,
	service     text NOT NULL DEFAULT '',
	environment text NOT NULL DEFAULT '',
	subject     text NOT NULL DEFAULT '',
	detail      bytea,
	prev        text NOT NULL,
	hash        text NOT NULL
);

-- The audit log is append-only: no statement may edit, remove or truncate an event.
CREATE FUNCTION strata_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
	FOR EACH ROW EXECUTE FUNCTION strata_events_append_only();
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
	FOR EACH ROW EXECUTE FUNCTION strata_events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
	FOR EACH STATEMENT EXECUTE FUNCTION strata_events_append_only();

-- The indexes, the same on every database, follow from internal/sqlstore/migrations/0001_indexes.sql.
