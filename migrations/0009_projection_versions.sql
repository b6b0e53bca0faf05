-- Projection versions (docs/projections.md, "Versions"): a projection whose code declares a
-- higher Version() is built beside the serving one, in a schema of its own, under its own
-- checkpoints, and applications keep querying stable names (views in this schema) that a
-- switch points at the new version's tables in one transaction.
--
-- One row per (replica set, projection, version). state:
--   building  catching up beside the active version (its workers run it)
--   ready     caught up, waiting for `projd versions promote` (VERSION_SWITCH=manual)
--   active    the version the stable names show
--   retired   switched away from; its tables are kept for a switch back
--   dropped   its schema is gone; the number is not built again
-- read_model_schema is where the version's tables live; NULL means this schema itself (a
-- version 1 that was never switched away from: its tables are the stable names).
CREATE TABLE IF NOT EXISTS projd_projection_versions (
    replica_set        TEXT        NOT NULL,
    projection         TEXT        NOT NULL,
    version            INT         NOT NULL CHECK (version > 0),
    state              TEXT        NOT NULL
                       CHECK (state IN ('building', 'ready', 'active', 'retired', 'dropped')),
    read_model_schema  TEXT,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    state_changed_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    activated_at       TIMESTAMPTZ,
    PRIMARY KEY (replica_set, projection, version)
);

-- The stable names are plain views, so a write through one would land in whichever version
-- is active. projd never writes through them (a version writes into its own schema), and
-- this trigger refuses anyone who tries, including a projection whose Setup forgot a table.
CREATE OR REPLACE FUNCTION projd_refuse_view_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'projd: %.% is a read-only view of the active projection version', TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = '42809', HINT = 'write into the version''s own schema (docs/projections.md, "Versions")';
END
$$;

-- Points the stable names in schema `stable` at the relations of schema `target`: one view
-- per table, view or materialized view of `target`, replacing the view of the same name;
-- the stable views of relations that `previous` has and `target` lacks are dropped. A
-- stable name taken by anything but a view projd made is refused (nothing is replaced).
-- Runs inside the caller's transaction: readers see the old views or the new ones.
-- Bodies are qualified (pg_catalog) so that no caller's search_path can change them.
CREATE OR REPLACE FUNCTION projd_point_stable_names(stable TEXT, target TEXT, previous TEXT)
RETURNS INT LANGUAGE plpgsql AS $$
DECLARE
    rel RECORD;
    kind "char";
    ours BOOLEAN;
    pointed INT := 0;
BEGIN
    FOR rel IN
        SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
        WHERE n.nspname OPERATOR(pg_catalog.=) target AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
        ORDER BY c.relname
    LOOP
        SELECT c.relkind, EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
                                  WHERE t.tgrelid OPERATOR(pg_catalog.=) c.oid AND t.tgname OPERATOR(pg_catalog.=) 'projd_read_only')
          INTO kind, ours
          FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
         WHERE n.nspname OPERATOR(pg_catalog.=) stable AND c.relname OPERATOR(pg_catalog.=) rel.relname;
        IF kind IS NOT NULL AND NOT (kind OPERATOR(pg_catalog.=) 'v' AND ours) THEN
            RAISE EXCEPTION 'projd: the stable name %.% is taken by a relation projd did not make', stable, rel.relname
                USING ERRCODE = '42P07', HINT = 'rename or move it, then switch again';
        END IF;
        EXECUTE pg_catalog.format('DROP VIEW IF EXISTS %I.%I', stable, rel.relname);
        EXECUTE pg_catalog.format('CREATE VIEW %I.%I AS SELECT * FROM %I.%I', stable, rel.relname, target, rel.relname);
        EXECUTE pg_catalog.format('CREATE TRIGGER projd_read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON %I.%I'
                                  ' FOR EACH ROW EXECUTE FUNCTION %I.projd_refuse_view_write()', stable, rel.relname, stable);
        pointed := pointed OPERATOR(pg_catalog.+) 1;
    END LOOP;
    IF previous IS NOT NULL THEN
        FOR rel IN
            SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
            WHERE n.nspname OPERATOR(pg_catalog.=) previous AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
              AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c2 JOIN pg_catalog.pg_namespace n2 ON n2.oid OPERATOR(pg_catalog.=) c2.relnamespace
                              WHERE n2.nspname OPERATOR(pg_catalog.=) target AND c2.relname OPERATOR(pg_catalog.=) c.relname)
              AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c3 JOIN pg_catalog.pg_namespace n3 ON n3.oid OPERATOR(pg_catalog.=) c3.relnamespace
                          JOIN pg_catalog.pg_trigger t ON t.tgrelid OPERATOR(pg_catalog.=) c3.oid AND t.tgname OPERATOR(pg_catalog.=) 'projd_read_only'
                          WHERE n3.nspname OPERATOR(pg_catalog.=) stable AND c3.relname OPERATOR(pg_catalog.=) c.relname AND c3.relkind OPERATOR(pg_catalog.=) 'v')
        LOOP
            EXECUTE pg_catalog.format('DROP VIEW %I.%I', stable, rel.relname);
        END LOOP;
    END IF;
    RETURN pointed;
END
$$;

-- True when every stable view of `target`'s relations exists and reads `target` with all its
-- columns: a worker start-up then leaves the views alone (no lock, no reader waits).
CREATE OR REPLACE FUNCTION projd_stable_names_current(stable TEXT, target TEXT)
RETURNS BOOLEAN LANGUAGE sql STABLE AS $$
    SELECT NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
        WHERE n.nspname OPERATOR(pg_catalog.=) target AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND NOT EXISTS (
            SELECT 1 FROM pg_catalog.pg_class v JOIN pg_catalog.pg_namespace vn ON vn.oid OPERATOR(pg_catalog.=) v.relnamespace
            JOIN pg_catalog.pg_rewrite r ON r.ev_class OPERATOR(pg_catalog.=) v.oid
            JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass
                 AND d.objid OPERATOR(pg_catalog.=) r.oid AND d.refobjid OPERATOR(pg_catalog.=) c.oid
            WHERE vn.nspname OPERATOR(pg_catalog.=) stable AND v.relname OPERATOR(pg_catalog.=) c.relname AND v.relkind OPERATOR(pg_catalog.=) 'v'
              AND (SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute a WHERE a.attrelid OPERATOR(pg_catalog.=) v.oid AND a.attnum OPERATOR(pg_catalog.>) 0)
                  OPERATOR(pg_catalog.=)
                  (SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute a WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid
                   AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped)))
$$;
