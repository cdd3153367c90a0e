-- 0001: Strata's first schema. Times are unix nanoseconds in UTC (0 is "not set"), so they
-- sort as numbers; maps and lists are JSON text.

-- strata_store marks the file as a Strata store: a database with tables but without this one
-- belongs to something else and is left alone.
CREATE TABLE strata_store (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	created_at INTEGER NOT NULL
);
INSERT INTO strata_store (id, created_at) VALUES (1, CAST((julianday('now') - 2440587.5) * 86400000000000 AS INTEGER));

CREATE TABLE schema_version (
	version    INTEGER PRIMARY KEY,
	applied_at INTEGER NOT NULL
);

CREATE TABLE releases (
	id         TEXT PRIMARY KEY,
	service    TEXT NOT NULL,
	version    TEXT NOT NULL,
	digest     TEXT NOT NULL,
	git_commit TEXT NOT NULL DEFAULT '',
	created_by TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	UNIQUE (service, version)
);

CREATE TABLE deployments (
	id           TEXT PRIMARY KEY,
	service      TEXT NOT NULL,
	environment  TEXT NOT NULL,
	version      TEXT NOT NULL,
	release_id   TEXT NOT NULL DEFAULT '',
	state        TEXT NOT NULL,
	attempt      INTEGER NOT NULL DEFAULT 0,
	kind         TEXT NOT NULL DEFAULT '',
	promotion_id TEXT NOT NULL DEFAULT '',
	rollback_of  TEXT NOT NULL DEFAULT '',
	actor        TEXT NOT NULL DEFAULT '',
	config       TEXT,
	config_hash  TEXT NOT NULL DEFAULT '',
	outputs      TEXT,
	health       TEXT NOT NULL DEFAULT '',
	error        TEXT NOT NULL DEFAULT '',
	owner_id     TEXT NOT NULL DEFAULT '',
	owner_host   TEXT NOT NULL DEFAULT '',
	owner_pid    INTEGER NOT NULL DEFAULT 0,
	owner_start  INTEGER NOT NULL DEFAULT 0,
	pgid         INTEGER NOT NULL DEFAULT 0,
	lease_until  INTEGER NOT NULL DEFAULT 0,
	created_at   INTEGER NOT NULL,
	started_at   INTEGER NOT NULL DEFAULT 0,
	finished_at  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE logs (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	deployment TEXT NOT NULL REFERENCES deployments (id),
	attempt    INTEGER NOT NULL,
	step       TEXT NOT NULL,
	at         INTEGER NOT NULL,
	data       TEXT NOT NULL
);

CREATE TABLE promotions (
	id         TEXT PRIMARY KEY,
	service    TEXT NOT NULL,
	version    TEXT NOT NULL,
	stage      TEXT NOT NULL,
	state      TEXT NOT NULL,
	requester  TEXT NOT NULL DEFAULT '',
	override   INTEGER NOT NULL DEFAULT 0,
	reason     TEXT NOT NULL DEFAULT '',
	error      TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);

CREATE TABLE approvals (
	promotion TEXT NOT NULL REFERENCES promotions (id),
	principal TEXT NOT NULL,
	at        INTEGER NOT NULL,
	UNIQUE (promotion, principal)
);

CREATE TABLE freezes (
	environment TEXT PRIMARY KEY,
	reason      TEXT NOT NULL,
	actor       TEXT NOT NULL,
	at          INTEGER NOT NULL
);

CREATE TABLE events (
	seq         INTEGER PRIMARY KEY,
	at          INTEGER NOT NULL,
	actor       TEXT NOT NULL,
	action      TEXT NOT NULL,
	service     TEXT NOT NULL DEFAULT '',
	environment TEXT NOT NULL DEFAULT '',
	subject     TEXT NOT NULL DEFAULT '',
	detail      BLOB,
	prev        TEXT NOT NULL,
	hash        TEXT NOT NULL
);

-- The audit log is append-only: no statement may edit or remove an event.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
	SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
	SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- The indexes, the same on every database, follow from internal/sqlstore/migrations/0001_indexes.sql.
