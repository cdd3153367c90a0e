-- 0013: webhooks that are never lost. The audit log is the outbox: an event that announces
-- something (a promotion waiting, succeeded, failed; a deployment unhealthy or recovered) is
-- committed with the change it records, so nothing announced can be lost to a crash. The
-- cursor is the newest event a deliverer has turned into deliveries (it starts at the log's
-- head: history is not announced again); a delivery is one event for one webhook, named by
-- the hash of its URL (the URL, often a credential, stays in strata.yaml), retried until it
-- is delivered or given up. claimed_by and claimed_until let one process of several (servers,
-- a CLI) send it at a time. Times are unix nanoseconds.
CREATE TABLE IF NOT EXISTS webhook_cursor (
	id  integer PRIMARY KEY CHECK (id = 1),
	seq bigint NOT NULL
);
INSERT INTO webhook_cursor (id, seq) SELECT 1, coalesce(max(seq), 0) FROM events
	WHERE NOT EXISTS (SELECT 1 FROM webhook_cursor);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
	seq           bigint NOT NULL,
	hook          text NOT NULL,
	event         text NOT NULL,
	state         text NOT NULL,
	tries         bigint NOT NULL DEFAULT 0,
	next_at       bigint NOT NULL,
	error         text NOT NULL DEFAULT '',
	claimed_by    text NOT NULL DEFAULT '',
	claimed_until bigint NOT NULL DEFAULT 0,
	updated_at    bigint NOT NULL,
	PRIMARY KEY (seq, hook)
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (next_at) WHERE state = 'pending';
