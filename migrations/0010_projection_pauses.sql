-- Operator pauses (`projd projections pause|resume`, docs/operations.md "Pausing a
-- projection"): a row per paused (replica set, projection, partition); partition -1 pauses
-- every partition of the projection, of every version. Workers read the rows once per
-- heartbeat interval and stop reading those partitions after the batch in flight; the rows
-- outlive the workers (a restart or a handover keeps the pause).
CREATE TABLE IF NOT EXISTS projd_projection_pauses (
    replica_set  TEXT        NOT NULL,
    projection   TEXT        NOT NULL,
    partition    INT         NOT NULL CHECK (partition >= -1),
    paused_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    paused_by    TEXT        NOT NULL DEFAULT '',
    reason       TEXT        NOT NULL DEFAULT '',
    PRIMARY KEY (replica_set, projection, partition)
);
