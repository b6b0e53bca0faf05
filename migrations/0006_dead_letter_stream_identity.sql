-- Dead letters and parking keyed by the full stream identity (bounded_context,
-- aggregate_type, aggregate_id), the key of events_aggregate_version_key. Before, a dead
-- letter of aggregate "42" parked every "42" of any type and bounded context.

-- A constant default makes both ADD COLUMNs catalog-only: no table rewrite, and the
-- ACCESS EXCLUSIVE lock is held only for the catalog update. The default also keeps a
-- pre-0006 worker's INSERT (without these columns) working during a rolling upgrade; such
-- rows get '' like the orphans below.
ALTER TABLE projd_dead_letters
    ADD COLUMN IF NOT EXISTS bounded_context TEXT NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS aggregate_type  TEXT NOT NULL DEFAULT '';

-- Existing rows take the identity of their event. A row whose event no longer exists (or
-- whose position now holds another aggregate's event) keeps '' for both: it parks no real
-- stream, stays listed, and `projd dead-letters replay` clears it (docs/projections.md).
UPDATE projd_dead_letters d
   SET bounded_context = e.bounded_context, aggregate_type = e.aggregate_type
  FROM events e
 WHERE e.global_position = d.global_position
   AND e.aggregate_id = d.aggregate_id
   AND d.bounded_context = '' AND d.aggregate_type = '';

-- The runners' parked-set read and the replay lock look streams up by the full identity.
DROP INDEX IF EXISTS projd_dead_letters_aggregate_idx;
CREATE INDEX IF NOT EXISTS projd_dead_letters_stream_idx
    ON projd_dead_letters (replica_set, projection, bounded_context, aggregate_type, aggregate_id)
    WHERE replayed_at IS NULL;
