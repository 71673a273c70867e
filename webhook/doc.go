// Package webhook delivers careline's results (refill requests, appointment answers,
// opt-outs, callback requests, voicemails, messages for a provider, interaction
// summaries) to the pharmacy's or practice's systems as signed HTTP POSTs.
//
// Conventions are Standard Webhooks': every request carries webhook-id (stable across
// retries: the receiver deduplicates by it), webhook-timestamp (Unix seconds of the
// attempt) and webhook-signature "v1,<base64 HMAC-SHA256 of id.timestamp.body>" keyed by
// the endpoint's secret ("whsec_" + base64, given by env: reference). The body is
// {"type", "timestamp", "data"}; data carries the patient reference and only the contact
// fields the endpoint lists, never audio (a voicemail is a recording id).
//
// Delivery is durable and at-least-once. Projector runs inside the interaction log's
// shipper transaction and inserts one webhook_deliveries row per (event, endpoint),
// keyed by the webhook id, so a replayed batch inserts nothing twice and a crash before
// the commit replays the batch. Deliverer claims due rows with FOR UPDATE SKIP LOCKED
// (several nodes share the work), moves next_at forward as a lease, POSTs with a timeout
// and records the result: 2xx delivered; anything else is retried with exponential
// backoff and jitter until the retry period (24 h by default) has passed, then the row
// is dead-lettered. DeadLetters and Replay serve `careline webhooks deadletter`.
//
// Metrics carry the endpoint's name only (an URL may hold PHI or a token).
package webhook
