-- 0016, shared: at most one open promotion per (service, version, stage, environments,
-- members). A hotfix into one environment of a stage and a promotion into all of it, or a
-- train and a promotion of its first member alone, are different requests.
DROP INDEX IF EXISTS promotions_open;
CREATE UNIQUE INDEX promotions_open ON promotions (service, version, stage, only_envs, members)
	WHERE state IN ('waiting', 'running');
