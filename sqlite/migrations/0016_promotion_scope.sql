-- 0016: a promotion may narrow its stage to some of its environments (`promote --only`, or
-- the one environment a `deploy` that needs approvals asked for), and may move several
-- releases at once (a release train). only_envs is the environments, comma separated in the
-- stage's order ('' for the whole stage); members is a JSON array of [service, version]
-- pairs ('' for one release). Both join the key of an open promotion (shared part).
ALTER TABLE promotions ADD COLUMN only_envs TEXT NOT NULL DEFAULT '';
ALTER TABLE promotions ADD COLUMN members TEXT NOT NULL DEFAULT '';
