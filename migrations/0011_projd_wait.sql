-- Read-your-writes waits (docs/operations.md "Waiting for a projection: read-your-writes").
--
-- The rule, in this one place: projection NAME has processed position P when every
-- partition 0..N-1 of its replica set (N = projd_replica_sets.partitions) has a checkpoint
-- row of NAME's active version lane with position >= P. The active version is the 'active'
-- row of projd_projection_versions (none: version 1); 'NAME@N' names version N explicitly.
-- Lane keys as in orchestrator/versions/lane_key.h: version 1 is NAME, version N > 1 NAME@N.
--
--   projd_wait_lagging(projection, position, replica_set) lists the partitions that have
--     not processed it (none: processed), with their owner, whether a pause row covers them
--     and the runner state their owner last reported (projd_partition_states, '' when none).
--     `projd wait` and the workers' GET /wait poll it.
--   projd_wait(projection, position, timeout, replica_set) polls it for applications and
--     returns true once processed, false at the timeout.
--
-- A NULL replica_set means the only replica set that has the projection (a checkpoint or a
-- version row of it); two of them is an error, none is "not processed yet" (a replica set
-- that is still starting up has no checkpoints).
--
-- Schema safety (see 0007): applications call these with their own search_path and role.
-- Both are SECURITY DEFINER (they read only projd's own tables, whatever the caller may
-- read) with a pinned search_path: pg_catalog, then the schema these migrations ran in,
-- then pg_temp last, so nothing of the caller's schemas or temporary tables is looked up.
-- The schema name is baked in by the DO block at the end, which keeps this file's text
-- (its checksum) the same for every DATABASE_SCHEMA. A function-level SET costs a
-- configuration save and restore per call (0007), which is nothing next to a wait.

CREATE OR REPLACE FUNCTION projd_wait_lagging(projection TEXT, "position" BIGINT, replica_set TEXT DEFAULT NULL)
RETURNS TABLE (replica_set_name TEXT, lane TEXT, partition_no INT, checkpoint BIGINT, owner TEXT, paused BOOLEAN,
               state TEXT)
LANGUAGE plpgsql STABLE SECURITY DEFINER AS $$
#variable_conflict use_column
DECLARE
    base TEXT := split_part(projd_wait_lagging.projection, '@', 1);
    explicit_version TEXT := NULLIF(substr(projd_wait_lagging.projection, length(base) + 2), '');
    rs TEXT := projd_wait_lagging.replica_set;
    candidates TEXT[];
    lane_key TEXT;
    active INT;
    n INT;
BEGIN
    IF projd_wait_lagging.projection IS NULL OR base = '' OR projd_wait_lagging."position" IS NULL THEN
        RAISE EXCEPTION 'projd_wait: projection and position must be given'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF explicit_version IS NOT NULL AND (explicit_version !~ '^[0-9]{1,9}$' OR explicit_version::INT < 1) THEN
        RAISE EXCEPTION 'projd_wait: "%" is not NAME or NAME@N with a version N >= 1', projd_wait_lagging.projection
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF rs IS NULL THEN
        SELECT array_agg(DISTINCT s.name ORDER BY s.name) INTO candidates FROM (
            SELECT c.replica_set AS name FROM projd_checkpoints c
             WHERE c.projection = base OR c.projection LIKE replace(replace(replace(base, '\', '\\'), '%', '\%'), '_', '\_') || '@%'
            UNION
            SELECT v.replica_set FROM projd_projection_versions v WHERE v.projection = base) s;
        IF coalesce(array_length(candidates, 1), 0) > 1 THEN
            RAISE EXCEPTION 'projd_wait: projection % runs in replica sets %; name one (replica_set => ...)',
                base, array_to_string(candidates, ', ')
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        rs := candidates[1];
    END IF;
    IF explicit_version IS NOT NULL THEN
        lane_key := CASE WHEN explicit_version::INT = 1 THEN base ELSE base || '@' || explicit_version::INT END;
    ELSE
        SELECT v.version INTO active FROM projd_projection_versions v
         WHERE v.replica_set = rs AND v.projection = base AND v.state = 'active';
        lane_key := CASE WHEN coalesce(active, 1) = 1 THEN base ELSE base || '@' || active END;
    END IF;
    SELECT r.partitions INTO n FROM projd_replica_sets r WHERE r.name = rs;
    IF n IS NULL THEN
        -- No such replica set (yet): one row without a partition says so.
        RETURN QUERY SELECT rs, lane_key, NULL::INT, NULL::BIGINT, NULL::TEXT, false, NULL::TEXT;
        RETURN;
    END IF;
    RETURN QUERY
        SELECT rs, lane_key, p.p, c.position, coalesce(a.worker_name, ''),
               EXISTS (SELECT 1 FROM projd_projection_pauses z
                        WHERE z.replica_set = rs AND z.projection = base AND z.partition IN (-1, p.p)),
               coalesce(st.state, '')
          FROM generate_series(0, n - 1) AS p(p)
          LEFT JOIN projd_checkpoints c
                 ON c.replica_set = rs AND c.projection = lane_key AND c.partition = p.p
          LEFT JOIN projd_assignments a
                 ON a.replica_set = rs AND a.partition = p.p
          LEFT JOIN projd_partition_states st
                 ON st.replica_set = rs AND st.projection = lane_key AND st.partition = p.p
         WHERE c.position IS NULL OR c.position < projd_wait_lagging."position"
         ORDER BY p.p;
END
$$;

CREATE OR REPLACE FUNCTION projd_wait(projection TEXT, "position" BIGINT,
                                      timeout INTERVAL DEFAULT '30 seconds', replica_set TEXT DEFAULT NULL)
RETURNS BOOLEAN
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
#variable_conflict use_column
DECLARE
    deadline TIMESTAMPTZ;
    pause_s DOUBLE PRECISION := 0.01;
    first BOOLEAN := true;
    writer XID;
BEGIN
    IF projd_wait.timeout IS NULL OR projd_wait.timeout < INTERVAL '0' THEN
        RAISE EXCEPTION 'projd_wait: timeout must be an interval >= 0, not %', projd_wait.timeout
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    deadline := clock_timestamp() + projd_wait.timeout;
    LOOP
        -- Each statement of a VOLATILE function in READ COMMITTED takes a new snapshot, so
        -- this sees checkpoints committed while we wait.
        IF NOT EXISTS (SELECT 1 FROM projd_wait_lagging(projd_wait.projection, projd_wait."position",
                                                        projd_wait.replica_set)) THEN
            RETURN true;
        END IF;
        IF current_setting('transaction_isolation') <> 'read committed' THEN
            RAISE EXCEPTION 'projd_wait: % has not processed position % yet, and a % transaction would never see it progress',
                projd_wait.projection, projd_wait."position", upper(current_setting('transaction_isolation'))
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'call projd_wait in a READ COMMITTED transaction, or on its own before BEGIN ISOLATION LEVEL ...';
        END IF;
        IF first THEN
            first := false;
            -- The caller's own uncommitted event: no worker can see it before the commit.
            SELECT e.xmin INTO writer FROM events e WHERE e.global_position = projd_wait."position";
            IF writer IS NOT NULL AND writer = pg_catalog.xid(pg_catalog.pg_current_xact_id_if_assigned()) THEN
                RAISE EXCEPTION 'projd_wait: position % was written by this transaction; wait after its COMMIT',
                    projd_wait."position"
                    USING ERRCODE = 'object_not_in_prerequisite_state';
            END IF;
        END IF;
        IF clock_timestamp() >= deadline THEN
            RETURN false;
        END IF;
        PERFORM pg_sleep(least(pause_s, extract(epoch FROM deadline - clock_timestamp())));
        pause_s := least(pause_s * 2, 0.1);
    END LOOP;
END
$$;

DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION projd_wait_lagging(TEXT, BIGINT, TEXT) SET search_path = pg_catalog, %I, pg_temp',
                   current_schema());
    EXECUTE format('ALTER FUNCTION projd_wait(TEXT, BIGINT, INTERVAL, TEXT) SET search_path = pg_catalog, %I, pg_temp',
                   current_schema());
END
$$;
