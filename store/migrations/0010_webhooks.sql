-- Outbound webhook deliveries (package webhook). One row per (event, endpoint), inserted
-- by the webhook projector inside the shipper's transaction, so a replayed event adds
-- nothing twice and a crash loses nothing. The deliverer claims due rows with
-- FOR UPDATE SKIP LOCKED and pushes next_at forward as its lease before it POSTs: a
-- node killed mid-delivery leaves the row due again once that lease runs out.
CREATE TABLE webhook_deliveries (
    id            bigserial PRIMARY KEY,
    webhook_id    uuid NOT NULL,           -- the webhook-id header: the event id (or one per interaction)
    endpoint      text NOT NULL,           -- endpoint name from the configuration (never its URL)
    event_type    text NOT NULL,
    event_at      timestamptz NOT NULL,
    body          text NOT NULL,           -- PHI: the exact signed JSON (patient reference, configured fields)
    state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts      int NOT NULL DEFAULT 0,
    next_at       timestamptz NOT NULL,
    retry_from    timestamptz NOT NULL,    -- start of the retry period (reset by a replay)
    last_status   int,
    last_error    text NOT NULL DEFAULT '',
    delivered_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (webhook_id, endpoint)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_dead ON webhook_deliveries (endpoint, id) WHERE state = 'dead';
