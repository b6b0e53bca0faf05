-- Partitioning and wake-ups for the event reader (docs/reading.md).
--
-- partition = FNV-1a-32(aggregate_id bytes) mod PARTITIONS. The 32-bit hash is stored in
-- events.partition_hash by a BEFORE INSERT trigger, so plain INSERTs need nothing extra and
-- readers filter on a stored integer instead of hashing every row they scan.
-- ADD COLUMN without a default is a catalog-only change (no table rewrite); rows that
-- existed before this migration keep NULL and readers fall back to computing the hash for
-- them (coalesce), so no long backfill runs inside the migration.

CREATE OR REPLACE FUNCTION projd_fnv1a32(id TEXT) RETURNS BIGINT
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    bytes BYTEA := convert_to(id, 'UTF8');
    h BIGINT := 2166136261;
BEGIN
    FOR i IN 0 .. length(bytes) - 1 LOOP
        h := ((h # get_byte(bytes, i)::bigint) * 16777619) & 4294967295;
    END LOOP;
    RETURN h;
END
$$;

ALTER TABLE events ADD COLUMN IF NOT EXISTS partition_hash BIGINT;

CREATE OR REPLACE FUNCTION projd_events_set_partition_hash() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.partition_hash := projd_fnv1a32(NEW.aggregate_id);
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS projd_events_partition_hash ON events;
CREATE TRIGGER projd_events_partition_hash
    BEFORE INSERT OR UPDATE OF aggregate_id ON events
    FOR EACH ROW EXECUTE FUNCTION projd_events_set_partition_hash();

-- One notification per inserting statement, delivered at commit. The channel carries the
-- schema so several projd schemas in one database do not wake each other.
CREATE OR REPLACE FUNCTION projd_events_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(left('projd_events_' || TG_TABLE_SCHEMA, 63), '');
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS projd_events_notify ON events;
CREATE TRIGGER projd_events_notify
    AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION projd_events_notify();
