-- Event store, column-compatible with the pupsourcing Go event store so Go writers and
-- projd share one database unchanged. global_position is allocated by the column default
-- inside the INSERT (sequence cache 1: allocation order is time order, see docs/event-store.md).
CREATE TABLE IF NOT EXISTS events (
    global_position   BIGSERIAL   PRIMARY KEY,
    bounded_context   TEXT        NOT NULL,
    aggregate_type    TEXT        NOT NULL,
    aggregate_id      TEXT        NOT NULL,
    aggregate_version BIGINT      NOT NULL,
    event_id          UUID        NOT NULL DEFAULT gen_random_uuid(),
    event_type        TEXT        NOT NULL,
    event_version     INT         NOT NULL DEFAULT 1,
    payload           BYTEA       NOT NULL DEFAULT ''::bytea,
    trace_id          TEXT,
    correlation_id    TEXT,
    causation_id      TEXT,
    metadata          JSONB       DEFAULT '{}'::jsonb,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_aggregate_version_key
        UNIQUE (bounded_context, aggregate_type, aggregate_id, aggregate_version)
);

-- The newest version per aggregate, maintained by appenders that use optimistic
-- concurrency. The unique constraint on events stays the final judge, so a plain INSERT
-- that does not touch this table can never be overwritten silently.
CREATE TABLE IF NOT EXISTS aggregate_heads (
    bounded_context   TEXT        NOT NULL,
    aggregate_type    TEXT        NOT NULL,
    aggregate_id      TEXT        NOT NULL,
    aggregate_version BIGINT      NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (bounded_context, aggregate_type, aggregate_id)
);
