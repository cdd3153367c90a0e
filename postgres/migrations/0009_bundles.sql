-- 0009: releases' bundles kept in the store, so that any checkout, server or agent on it can
-- deploy any release. A bundle is its tar stream cut into chunks of at most 1 MiB (bounded
-- memory to write and to read, whatever the bundle's size), keyed by the bundle's digest, so
-- a bundle is kept once however many releases name it. A bundle's row is written in the
-- transaction that wrote its chunks, after its digest was checked: a bundle is kept when its
-- row is.
CREATE TABLE bundles (
    digest     TEXT PRIMARY KEY,
    artifacts  TEXT NOT NULL,
    recipe     TEXT NOT NULL DEFAULT '',
    size       BIGINT NOT NULL,
    chunks     INTEGER NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE bundle_chunks (
    digest TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    data   BYTEA NOT NULL,
    PRIMARY KEY (digest, seq)
);
