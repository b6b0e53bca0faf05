-- The writer contract for clients other than projd (docs/event-store.md, "Writing from
-- other clients"): any role, any search_path, and two-phase commit.
--
-- Schema safety. A plpgsql body is resolved at run time with the search_path of whoever
-- runs it; for the events triggers that is the inserting client. Before this migration a
-- writer whose search_path lacked projd's schema failed ("function projd_fnv1a32(text) does
-- not exist"), and a function or operator of a matching name in a schema the writer
-- searches ran instead of projd's, with the writer's privileges. A function of the writer's
-- own schema even won against pg_catalog when it matched better (convert_to(text, text)
-- for the 'UTF8' literal). Now no body below looks anything up through search_path:
-- functions, operators and types are qualified with pg_catalog, and the partition-hash
-- trigger computes FNV-1a inline instead of calling projd_fnv1a32 (an unqualified call
-- needs the writer's search_path, a qualified one would bake this schema's name into the
-- body). The hash is fixed for good (pupsourcing routing), so the copy cannot drift; the
-- writer-contract test compares both with the C++ Fnv1a32.
--
-- A function-level SET search_path would be shorter but costs a configuration save and
-- restore on every call: measured on PostgreSQL 15, it doubled the CPU of a projd_fnv1a32
-- call (used by reader scans) and added about a fifth to the backend CPU of a bulk INSERT,
-- as these functions run once per inserted row. Qualified bodies cost nothing.
--
-- CREATE OR REPLACE FUNCTION replaces the whole definition: a later migration that
-- replaces one of these functions must keep every name qualified.

CREATE OR REPLACE FUNCTION projd_fnv1a32(id TEXT) RETURNS BIGINT
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    bytes pg_catalog.bytea := pg_catalog.convert_to(id, 'UTF8');
    h pg_catalog.int8 := 2166136261;
BEGIN
    FOR i IN 0 .. pg_catalog.length(bytes) OPERATOR(pg_catalog.-) 1 LOOP
        h := ((h OPERATOR(pg_catalog.#) pg_catalog.get_byte(bytes, i)::pg_catalog.int8)
              OPERATOR(pg_catalog.*) 16777619) OPERATOR(pg_catalog.&) 4294967295;
    END LOOP;
    RETURN h;
END
$$;

CREATE OR REPLACE FUNCTION projd_events_set_partition_hash() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bytes pg_catalog.bytea := pg_catalog.convert_to(NEW.aggregate_id, 'UTF8');
    h pg_catalog.int8 := 2166136261;
BEGIN
    IF NEW.aggregate_id IS NULL THEN
        RETURN NEW;  -- the NOT NULL constraint reports it
    END IF;
    -- projd_fnv1a32, inlined (see above).
    FOR i IN 0 .. pg_catalog.length(bytes) OPERATOR(pg_catalog.-) 1 LOOP
        h := ((h OPERATOR(pg_catalog.#) pg_catalog.get_byte(bytes, i)::pg_catalog.int8)
              OPERATOR(pg_catalog.*) 16777619) OPERATOR(pg_catalog.&) 4294967295;
    END LOOP;
    NEW.partition_hash := h;
    RETURN NEW;
END
$$;

-- Two-phase writers. PostgreSQL refuses PREPARE TRANSACTION in a transaction that has
-- executed NOTIFY, so a writer that prepares its transactions opts out of the wake-up with
-- SET LOCAL projd.notify = off; readers then pick its events up on POLL_INTERVAL. The
-- setting is a boolean; unset is NULL, and '' once a SET LOCAL of it has ended in the
-- session, and both mean on. A value that is not a boolean fails the INSERT.
CREATE OR REPLACE FUNCTION projd_events_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    setting pg_catalog.text := pg_catalog.current_setting('projd.notify', true);
BEGIN
    IF setting IS NOT NULL AND setting OPERATOR(pg_catalog.<>) '' THEN
        IF NOT setting::pg_catalog.bool THEN
            RETURN NULL;
        END IF;
    END IF;
    PERFORM pg_catalog.pg_notify(
        pg_catalog.left('projd_events_' OPERATOR(pg_catalog.||) TG_TABLE_SCHEMA::pg_catalog.text, 63), '');
    RETURN NULL;
END
$$;
