-- Indexes the daily report's campaign queries need (they filter by day).
CREATE INDEX IF NOT EXISTS contact_attempts_started_at ON contact_attempts (started_at);
CREATE INDEX IF NOT EXISTS dial_decisions_at ON dial_decisions (at);
