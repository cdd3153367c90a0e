-- 0001, the part every database reads alike: the indexes of the first schema. Each store's
-- own 0001_init.sql makes the tables, in its database's types, and this follows it in the
-- same transaction.

CREATE INDEX releases_created ON releases (service, created_at);

-- At most one active deployment per (service, environment), whatever the code above does.
CREATE UNIQUE INDEX deployments_claim ON deployments (service, environment)
	WHERE state IN ('pending', 'running', 'interrupted');
CREATE INDEX deployments_pair ON deployments (service, environment, created_at);
CREATE INDEX deployments_created ON deployments (created_at);
CREATE INDEX deployments_promotion ON deployments (promotion_id) WHERE promotion_id <> '';
CREATE INDEX deployments_state ON deployments (state);

CREATE INDEX logs_deployment ON logs (deployment, seq);

-- At most one open promotion per (service, version, stage).
CREATE UNIQUE INDEX promotions_open ON promotions (service, version, stage)
	WHERE state IN ('waiting', 'running');
CREATE INDEX promotions_created ON promotions (created_at);

CREATE INDEX events_service ON events (service, seq);
CREATE INDEX events_environment ON events (environment, seq);
