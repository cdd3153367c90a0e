-- 0006: a running promotion has an owner and a lease, as a running deployment has: the
-- process that deploys its waves and records its outcome. When that process is gone (on its
-- host a dead pid, elsewhere a lapsed lease) resume and the scheduler take the promotion over
-- and carry it on, rather than leaving it running forever. Rows written before have no owner,
-- which reads as gone.
ALTER TABLE promotions ADD COLUMN owner_id TEXT NOT NULL DEFAULT '';
ALTER TABLE promotions ADD COLUMN owner_host TEXT NOT NULL DEFAULT '';
ALTER TABLE promotions ADD COLUMN owner_pid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE promotions ADD COLUMN owner_start INTEGER NOT NULL DEFAULT 0;
ALTER TABLE promotions ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
