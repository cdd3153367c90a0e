-- 0006: a running promotion has an owner and a lease, as a running deployment has: the
-- process that deploys its waves and records its outcome. When that process is gone (on its
-- host a dead pid, elsewhere a lapsed lease) resume and the scheduler take the promotion over
-- and carry it on, rather than leaving it running forever. Rows written before have no owner,
-- which reads as gone. IF NOT EXISTS: a store taken back to an older schema by hand keeps them.
ALTER TABLE promotions ADD COLUMN IF NOT EXISTS owner_id text NOT NULL DEFAULT '';
ALTER TABLE promotions ADD COLUMN IF NOT EXISTS owner_host text NOT NULL DEFAULT '';
ALTER TABLE promotions ADD COLUMN IF NOT EXISTS owner_pid bigint NOT NULL DEFAULT 0;
ALTER TABLE promotions ADD COLUMN IF NOT EXISTS owner_start bigint NOT NULL DEFAULT 0;
ALTER TABLE promotions ADD COLUMN IF NOT EXISTS lease_until bigint NOT NULL DEFAULT 0;
