-- The proven high-water mark per events table (docs/reading.md "The durable proven mark").
--
-- Every position <= mark is visible or proven never to appear, so a follower that starts
-- here neither proves the history again nor waits on live transactions for old gaps. One
-- row per events table, keyed by its oid: a dropped and recreated table starts afresh.
-- Written by whichever worker proves a higher mark; never lowered, except when the stored
-- mark is above the position sequence (the table was emptied and its sequence restarted),
-- where readers ignore it and the next save replaces it.
CREATE TABLE IF NOT EXISTS projd_proven_marks (
    events_relid  OID         PRIMARY KEY,
    events_table  TEXT        NOT NULL,
    mark          BIGINT      NOT NULL,
    proven_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
