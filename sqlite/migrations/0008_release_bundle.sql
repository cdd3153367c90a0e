-- 0008: a release records its whole recipe: the digest of the step files it copied (recipe)
-- and the one digest over artifacts and recipe (bundle). Empty for releases recorded before.
ALTER TABLE releases ADD COLUMN recipe TEXT NOT NULL DEFAULT '';
ALTER TABLE releases ADD COLUMN bundle TEXT NOT NULL DEFAULT '';
