-- Recordings: one row per encrypted recording file (calls, voicemails, IVR messages).
-- Rows are created from recording.started events (the call path never waits on
-- Postgres) and completed from recording.stopped; retention, legal hold and recovery
-- update them directly. The audio itself is never here, only where it is and how to
-- check it.
CREATE TABLE recordings (
    id               uuid PRIMARY KEY,
    interaction_id   uuid,
    kind             text NOT NULL CHECK (kind IN ('call', 'voicemail', 'ivr_message')),
    legs             text[] NOT NULL DEFAULT '{}',
    channels         smallint NOT NULL CHECK (channels IN (1, 2)),
    queue            text,
    campaign         text,
    language         text,
    box              text,           -- voicemail box (a configured name)
    status           text NOT NULL DEFAULT 'recording'
                     CHECK (status IN ('recording', 'complete', 'truncated', 'missing', 'deleted')),
    node             text NOT NULL,  -- the engine instance that writes the file
    started_at       timestamptz NOT NULL,
    ended_at         timestamptz,
    duration_ms      bigint,
    audio_bytes      bigint,         -- PCM bytes (WAV data chunk size)
    size_bytes       bigint,         -- encrypted file size
    checksum_sha256  text,           -- hex SHA-256 of the encrypted file
    key_id           text NOT NULL,  -- master key that wraps the data key
    path             text NOT NULL,  -- relative to the recordings directory
    retention_until  timestamptz NOT NULL,
    legal_hold       boolean NOT NULL DEFAULT false,
    legal_hold_reason text,
    legal_hold_by    text,
    legal_hold_at    timestamptz,
    deleted_at       timestamptz,
    deleted_reason   text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'deleted' OR deleted_at IS NOT NULL)
);
CREATE INDEX recordings_interaction ON recordings (interaction_id);
CREATE INDEX recordings_expiring ON recordings (retention_until)
    WHERE deleted_at IS NULL AND NOT legal_hold;
CREATE INDEX recordings_open ON recordings (node) WHERE status = 'recording';

-- Every access to a recording (play, download, export, denial) and every deletion or
-- legal-hold change, written before any audio byte is released. Append-only and
-- hash-chained: row_hash = SHA-256(prev_hash || canonical row), see recordings/audit.go.
-- Kept at least 6 years (45 CFR 164.316(b)(2)); nothing in careline deletes from it.
CREATE TABLE recording_access_log (
    id              bigint PRIMARY KEY,
    at              timestamptz NOT NULL,
    actor           text NOT NULL,
    role            text NOT NULL,
    recording_id    uuid,
    interaction_id  uuid,
    action          text NOT NULL,
    outcome         text NOT NULL,
    remote_addr     text NOT NULL DEFAULT '',
    purpose         text NOT NULL DEFAULT '',
    detail          text NOT NULL DEFAULT '{}',
    prev_hash       bytea NOT NULL,
    row_hash        bytea NOT NULL
);
CREATE SEQUENCE recording_access_log_id_seq OWNED BY recording_access_log.id;
CREATE INDEX recording_access_log_recording ON recording_access_log (recording_id, at);
CREATE INDEX recording_access_log_actor ON recording_access_log (actor, at);

CREATE FUNCTION recording_access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'recording_access_log is append-only';
END $$;
CREATE TRIGGER recording_access_log_no_update BEFORE UPDATE OR DELETE ON recording_access_log
    FOR EACH ROW EXECUTE FUNCTION recording_access_log_append_only();
CREATE TRIGGER recording_access_log_no_truncate BEFORE TRUNCATE ON recording_access_log
    FOR EACH STATEMENT EXECUTE FUNCTION recording_access_log_append_only();
