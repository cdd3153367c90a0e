-- 0018: recalled releases, retired environments, and previews that stand alone.
-- A release's recall (who, why, when; '' and 0 when it is not recalled) lives on its row, so
-- every read of a release says whether it may be deployed.
ALTER TABLE releases ADD COLUMN recalled_by text NOT NULL DEFAULT '';
ALTER TABLE releases ADD COLUMN recall_reason text NOT NULL DEFAULT '';
ALTER TABLE releases ADD COLUMN recalled_at bigint NOT NULL DEFAULT 0;

-- A short-lived environment's own config (`env create --set`, JSON) and whether it keeps its
-- parent's windows and approvals (`--policy inherit`).
ALTER TABLE environments ADD COLUMN config text;
ALTER TABLE environments ADD COLUMN inherit_policy bigint NOT NULL DEFAULT 0;

-- Environments that are gone: retired (`env retire`) or destroyed short-lived ones. What ran
-- in one before at is history, not an orphan. services is a JSON list.
CREATE TABLE IF NOT EXISTS retired_environments (
	name     text PRIMARY KEY,
	how      text NOT NULL,
	services text NOT NULL DEFAULT '[]',
	actor    text NOT NULL DEFAULT '',
	at       bigint NOT NULL
);

-- Short-lived environments destroyed before this migration are gone too.
INSERT INTO retired_environments (name, how, actor, at)
	SELECT environment, 'destroy', '', MAX(at) FROM events
	WHERE action = 'env.destroy' AND environment <> '' AND environment NOT IN (SELECT name FROM environments)
	GROUP BY environment
	ON CONFLICT (name) DO NOTHING;
