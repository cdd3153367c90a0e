-- 0016: a promotion may narrow its stage to some of its environments (`promote --only`, or
-- the one environment a `deploy` that needs approvals asked for), and may move several
-- releases at once (a release train). only_envs is the environments, comma separated in the
-- stage's order ('' for the whole stage); members is a JSON array of [service, version]
-- pairs ('' for one release). Both join the key of an open promotion: a hotfix into one
-- environment of a stage and a promotion into all of it, or a train and a promotion of its
-- first member alone, are different requests, and each may be open at once.
ALTER TABLE promotions ADD COLUMN only_envs text NOT NULL DEFAULT '';
ALTER TABLE promotions ADD COLUMN members text NOT NULL DEFAULT '';
DROP INDEX IF EXISTS promotions_open;
CREATE UNIQUE INDEX promotions_open ON promotions (service, version, stage, only_envs, members)
	WHERE state IN ('waiting', 'running');
