-- The number a patient asked to be called back on (PHI, like remote_party): a node that
-- restarts re-queues the callbacks still pending (queue.callback with no queue.leave after it).
ALTER TABLE interactions ADD COLUMN IF NOT EXISTS callback_number text;
CREATE INDEX IF NOT EXISTS interaction_events_interaction_type ON interaction_events (interaction_id, type, at);
