-- 0009: on PostgreSQL, releases' bundles move into the store (tables bundles and
-- bundle_chunks). The SQLite store keeps them as files beside its database, as before
-- (package bundledir), so this migration only marks the schema's version.
SELECT 1;
