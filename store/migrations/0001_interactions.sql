-- Interactions: one row per call or dial attempt, maintained from events.
CREATE TABLE interactions (
    id            uuid PRIMARY KEY,
    kind          text,           -- call, dial_attempt
    direction     text,
    started_at    timestamptz,
    answered_at   timestamptz,
    ended_at      timestamptz,
    end_reason    text,
    language      text,
    queue         text,
    agent_id      text,
    disposition   text,
    did           text,
    trunk         text,
    remote_party  text,          -- PHI: the patient's number; never copied to logs or metrics
    campaign      text,
    recording_id  text,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX interactions_started_at ON interactions (started_at);

-- Append-only events; id is the UUIDv7 assigned when the event entered the outbox,
-- so replays insert nothing twice.
CREATE TABLE interaction_events (
    id              uuid PRIMARY KEY,
    interaction_id  uuid,
    type            text NOT NULL,
    at              timestamptz NOT NULL,
    detail          jsonb NOT NULL DEFAULT '{}',
    shipped_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX interaction_events_interaction ON interaction_events (interaction_id, at);
CREATE INDEX interaction_events_type_at ON interaction_events (type, at);
