-- projd's own coordination and progress tables. Lease/heartbeat rows (projd_workers) are
-- kept apart from checkpoint rows (projd_checkpoints) so heartbeats never wait on
-- checkpoint batches and vice versa.

-- One row per replica set: its partition count and current generation. Membership changes
-- lock this row (SELECT ... FOR UPDATE) and write generation + 1.
CREATE TABLE IF NOT EXISTS projd_replica_sets (
    name                 TEXT        PRIMARY KEY,
    partitions           INT         NOT NULL CHECK (partitions > 0),
    generation           BIGINT      NOT NULL DEFAULT 0,
    generation_formed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Live members. last_heartbeat is always the database clock (now()).
CREATE TABLE IF NOT EXISTS projd_workers (
    worker_id         TEXT        PRIMARY KEY,
    replica_set       TEXT        NOT NULL REFERENCES projd_replica_sets (name) ON DELETE CASCADE,
    worker_name       TEXT        NOT NULL,
    host              TEXT        NOT NULL DEFAULT '',
    pid               INT         NOT NULL DEFAULT 0,
    version           TEXT        NOT NULL DEFAULT '',
    registered_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_heartbeat    TIMESTAMPTZ NOT NULL DEFAULT now(),
    acked_generation  BIGINT      NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS projd_workers_replica_set_idx ON projd_workers (replica_set, last_heartbeat);

-- Who owns which partition under which generation (an operator can query it).
CREATE TABLE IF NOT EXISTS projd_assignments (
    replica_set       TEXT        NOT NULL REFERENCES projd_replica_sets (name) ON DELETE CASCADE,
    partition         INT         NOT NULL CHECK (partition >= 0),
    generation        BIGINT      NOT NULL,
    worker_id         TEXT,
    worker_name       TEXT,
    previous_worker_id TEXT,
    assigned_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (replica_set, partition)
);

-- Progress per (replica set, projection, partition). generation is the newest generation
-- that stamped or wrote the row; a write carrying an older generation is fenced.
CREATE TABLE IF NOT EXISTS projd_checkpoints (
    replica_set  TEXT        NOT NULL,
    projection   TEXT        NOT NULL,
    partition    INT         NOT NULL CHECK (partition >= 0),
    position     BIGINT      NOT NULL DEFAULT 0 CHECK (position >= 0),
    generation   BIGINT      NOT NULL DEFAULT 0,
    writer       TEXT        NOT NULL DEFAULT '',
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (replica_set, projection, partition)
);

-- Poison events set aside by a projection whose error policy is `skip`, and the events of
-- the same aggregate parked behind them (parked = true) to keep per-aggregate order.
CREATE TABLE IF NOT EXISTS projd_dead_letters (
    id               BIGSERIAL   PRIMARY KEY,
    replica_set      TEXT        NOT NULL,
    projection       TEXT        NOT NULL,
    global_position  BIGINT      NOT NULL,
    aggregate_id     TEXT        NOT NULL,
    event_type       TEXT        NOT NULL DEFAULT '',
    parked           BOOLEAN     NOT NULL DEFAULT false,
    error            TEXT        NOT NULL DEFAULT '',
    attempts         INT         NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    replayed_at      TIMESTAMPTZ,
    UNIQUE (replica_set, projection, global_position)
);
CREATE INDEX IF NOT EXISTS projd_dead_letters_aggregate_idx
    ON projd_dead_letters (replica_set, projection, aggregate_id) WHERE replayed_at IS NULL;
