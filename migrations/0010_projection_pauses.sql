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

-- What each partition of each projection lane is doing, as its owner last saw it, for
-- `projd status` and operators' queries: written by the owning worker once per heartbeat
-- interval when something changed (so updated_at is when the state last changed; the
-- owner's liveness is projd_workers.last_heartbeat). projection is the lane key (NAME, or
-- NAME@N for version N > 1). state is a runner state (running, caught_up, held, failing,
-- stalled, stopped, paused, idle); last_error is the latest error of that partition's runner
-- ('' when none), error_at when it was seen.
CREATE TABLE IF NOT EXISTS projd_partition_states (
    replica_set  TEXT        NOT NULL,
    projection   TEXT        NOT NULL,
    partition    INT         NOT NULL CHECK (partition >= 0),
    worker_id    TEXT        NOT NULL DEFAULT '',
    state        TEXT        NOT NULL DEFAULT '',
    last_error   TEXT        NOT NULL DEFAULT '',
    error_at     TIMESTAMPTZ,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (replica_set, projection, partition)
);
