-- Outbound dialer state (package dialer). This is state, not log: it is written directly
-- (leases use FOR UPDATE SKIP LOCKED so several nodes can dial one campaign) while the
-- dialer's log events go through the outbox into interaction_events.
-- PHI (phone numbers, patient references, purpose fields) lives only in the columns
-- marked PHI below.

-- Campaign run state; survives restarts. Rows are created from configuration.
CREATE TABLE campaigns (
    name        text PRIMARY KEY,
    purpose     text NOT NULL,
    state       text NOT NULL DEFAULT 'stopped' CHECK (state IN ('running', 'paused', 'stopped')),
    changed_at  timestamptz NOT NULL DEFAULT now(),
    changed_by  text NOT NULL DEFAULT ''
);

-- One patient to call for one campaign.
CREATE TABLE campaign_contacts (
    id               bigserial PRIMARY KEY,
    campaign         text NOT NULL REFERENCES campaigns (name),
    patient_ref      text NOT NULL,          -- PHI
    phone            text NOT NULL,          -- PHI: E.164
    language         text NOT NULL,
    time_zones       text[] NOT NULL,        -- candidate IANA zones: the gate needs all of them open
    tz_source        text NOT NULL,          -- record, zip, state, number
    state_code       text NOT NULL DEFAULT '', -- US state (state calling hours); '' unknown
    fields           jsonb NOT NULL DEFAULT '{}', -- PHI: purpose fields (appointment, provider, ...)
    appointment_at   timestamptz,
    dedupe_key       text NOT NULL,          -- sha256(campaign, patient, phone, purpose fields)
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'dialing', 'done', 'exhausted', 'opted_out', 'expired')),
    attempts         int NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_attempt_at  timestamptz,
    current_attempt  uuid,
    final_disposition text,
    import_line      int,
    imported_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign, dedupe_key)
);
CREATE INDEX campaign_contacts_due ON campaign_contacts (campaign, next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX campaign_contacts_phone ON campaign_contacts (phone);

-- One dial attempt. The row is committed (state dialing) before the INVITE leaves; a
-- node heartbeats lease_until while the call lasts. An attempt still open with an
-- expired lease belongs to a node that died: it is closed as failed/unknown, never
-- silently re-dialed.
CREATE TABLE contact_attempts (
    id              uuid PRIMARY KEY,        -- = interaction id of the dial attempt
    contact_id      bigint NOT NULL REFERENCES campaign_contacts (id),
    campaign        text NOT NULL,
    phone           text NOT NULL,           -- PHI: caps and spacing count per phone
    attempt_no      int NOT NULL,
    state           text NOT NULL DEFAULT 'dialing' CHECK (state IN ('dialing', 'answered', 'done')),
    node            text NOT NULL,
    lease_until     timestamptz NOT NULL,
    started_at      timestamptz NOT NULL,
    local_date      date NOT NULL,           -- the patient's local date when dialed (daily/weekly caps)
    answered_at     timestamptz,
    ended_at        timestamptz,
    dial_result     text,                    -- answered, busy, no_answer, rejected, unreachable, timeout, cancelled, unknown
    amd_result      text,                    -- human, machine, unsure
    live_answer     boolean NOT NULL DEFAULT false, -- counted in the abandon-rate denominator
    abandoned       boolean NOT NULL DEFAULT false, -- no agent within 2 s of the greeting
    disposition     text,
    detail          text NOT NULL DEFAULT ''
);
CREATE INDEX contact_attempts_phone ON contact_attempts (phone, local_date);
CREATE INDEX contact_attempts_open ON contact_attempts (lease_until) WHERE state <> 'done';
CREATE INDEX contact_attempts_campaign_answered ON contact_attempts (campaign, answered_at) WHERE live_answer;

-- Opt-outs are checked at dial time, so one is honoured before the very next dial.
CREATE TABLE opt_outs (
    phone        text PRIMARY KEY,           -- PHI
    patient_ref  text,                       -- PHI
    source       text NOT NULL,              -- ivr_key, abandon_message, api
    campaign     text,
    attempt_id   uuid,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Every dial decision, allowed or refused, with its reason and inputs (compliance evidence).
CREATE TABLE dial_decisions (
    id          uuid PRIMARY KEY,
    at          timestamptz NOT NULL,
    campaign    text NOT NULL,
    contact_id  bigint NOT NULL REFERENCES campaign_contacts (id),
    attempt_id  uuid,                        -- the attempt it allowed
    allowed     boolean NOT NULL,
    reason      text NOT NULL,               -- allowed, outside_window, holiday, opted_out, daily_cap, ...
    local_time  text NOT NULL DEFAULT '',    -- the patient's wall clock as judged, e.g. 2026-03-08T21:30:00-04:00
    next_at     timestamptz,                 -- earliest instant the contact may be tried again
    node        text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}'  -- counts, zones, window (no PHI)
);
CREATE INDEX dial_decisions_campaign_at ON dial_decisions (campaign, at);
CREATE INDEX dial_decisions_contact ON dial_decisions (contact_id, at);
