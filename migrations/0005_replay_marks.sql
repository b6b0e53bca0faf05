-- Replay marks: `projd rebuild` remembers how far each checkpoint had been before it reset
-- it to 0, so async projections learn that events up to there are a replay
-- (AsyncContext::replaying) and can suppress side effects such as e-mails.
ALTER TABLE projd_checkpoints ADD COLUMN IF NOT EXISTS replay_until BIGINT NOT NULL DEFAULT 0;
