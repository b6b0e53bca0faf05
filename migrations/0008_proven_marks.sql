-- The proven high-water mark per events table (docs/reading.md "The durable proven mark").
--
-- Every position <= mark is visible or proven never to appear, so a follower that starts
-- here neither proves the history again nor waits on live transactions for old gaps. One
-- row per events table, keyed by its oid: a dropped and recreated table starts afresh.
-- `history` names the storage of events and of its position sequence when the mark was
-- proven (pg_relation_filenode of both): TRUNCATE, RESTART IDENTITY and table rewrites
-- replace it, and a mark of another history is never used. Written by whichever worker
-- proves a higher mark in the current history; never lowered within a history.
CREATE TABLE IF NOT EXISTS projd_proven_marks (
    events_relid  OID         PRIMARY KEY,
    events_table  TEXT        NOT NULL,
    history       TEXT        NOT NULL,
    mark          BIGINT      NOT NULL,
    proven_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
