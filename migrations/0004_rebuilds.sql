-- Rebuilds: `projd rebuild PROJECTION` resets a projection as a generation change. Workers
-- that see rebuild_generation move restart every partition from the (reset) checkpoints.
ALTER TABLE projd_replica_sets ADD COLUMN IF NOT EXISTS rebuild_generation BIGINT NOT NULL DEFAULT 0;
