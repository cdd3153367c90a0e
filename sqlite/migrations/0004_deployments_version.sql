-- 0004: the deployments of one release (service, version), newest first, without reading the
-- service's whole history: a promotion judges its gates by when that version first ran
-- healthy in each environment. IF NOT EXISTS: a store taken back to an older schema by hand
-- keeps the index.
CREATE INDEX IF NOT EXISTS deployments_version ON deployments (service, version, created_at);
