-- 0009: releases' bundles kept in the store, so that any checkout, server or agent on it can
-- deploy any release. A bundle is its tar stream cut into chunks of at most 1 MiB (bounded
-- memory to write and to read, whatever the bundle's size), kept once per digest however
-- many releases name it.
--
-- An upload writes its chunks as they arrive, each committed on its own (no transaction
-- stays open for as long as a client takes to send a large bundle), under an upload id of
-- its own; once the stream's digest has been checked, one short transaction records the
-- bundle, naming that upload. A bundle is kept when its row is: chunks of an upload that no
-- bundle names (refused, beaten by another upload of the same digest, or cut off by a
-- crash) are removed, at once or by a later put once they are a day old.
CREATE TABLE bundle_uploads (
    id         TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL
);
CREATE TABLE bundle_chunks (
    upload TEXT NOT NULL REFERENCES bundle_uploads (id) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    data   BYTEA NOT NULL,
    PRIMARY KEY (upload, seq)
);
CREATE TABLE bundles (
    digest     TEXT PRIMARY KEY,
    upload     TEXT NOT NULL UNIQUE REFERENCES bundle_uploads (id),
    artifacts  TEXT NOT NULL,
    recipe     TEXT NOT NULL DEFAULT '',
    size       BIGINT NOT NULL,
    chunks     INTEGER NOT NULL,
    created_at BIGINT NOT NULL
);
