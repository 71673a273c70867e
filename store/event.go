package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Event is one append-only entry of the interaction log. Events that belong to a call or
// dial attempt carry its InteractionID; Interaction, when set, updates that interaction's
// summary row (first-write-wins for start/answer times, last-write-wins for the rest).
type Event struct {
	ID            uuid.UUID         `json:"id"`
	InteractionID uuid.UUID         `json:"iid"`
	Type          string            `json:"type"`
	At            time.Time         `json:"at"`
	Detail        map[string]any    `json:"detail,omitempty"`
	Interaction   *InteractionPatch `json:"ix,omitempty"`
}

// InteractionPatch holds the summary fields of an interaction that an event sets.
// Zero values mean "unchanged". RemoteParty is PHI: it lives only in this Postgres
// column and the local outbox, never in logs or metrics.
type InteractionPatch struct {
	Kind        string     `json:"kind,omitempty"`      // call, dial_attempt
	Direction   string     `json:"direction,omitempty"` // inbound, outbound
	StartedAt   *time.Time `json:"started_at,omitempty"`
	AnsweredAt  *time.Time `json:"answered_at,omitempty"`
	EndedAt     *time.Time `json:"ended_at,omitempty"`
	EndReason   string     `json:"end_reason,omitempty"`
	Language    string     `json:"language,omitempty"`
	Queue       string     `json:"queue,omitempty"`
	AgentID     string     `json:"agent_id,omitempty"`
	Disposition string     `json:"disposition,omitempty"`
	DID         string     `json:"did,omitempty"`
	Trunk       string     `json:"trunk,omitempty"`
	RemoteParty string     `json:"remote_party,omitempty"`
	Campaign    string     `json:"campaign,omitempty"`
	RecordingID string     `json:"recording_id,omitempty"`
	// CallbackNumber is the number a patient asked to be called back on (PHI, like
	// RemoteParty): it lets a restarted node place the callbacks still pending.
	CallbackNumber string `json:"callback_number,omitempty"`
}

// NewID returns a time-ordered UUIDv7, the idempotency key of an event.
func NewID() uuid.UUID {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.New() // entropy failure: still unique
	}
	return id
}

// encode marshals ev for the outbox. NUL characters, which Postgres text and jsonb
// reject, are replaced so that one bad value can never poison the shipper.
func encodeEvent(ev *Event) ([]byte, error) {
	b, err := marshalClean(ev)
	if err != nil {
		return nil, fmt.Errorf("store: encode event %s: %w", ev.Type, err)
	}
	return b, nil
}

func marshalClean(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if bytes.Contains(b, []byte(`\u0000`)) {
		b = bytes.ReplaceAll(b, []byte(`\u0000`), []byte(`\ufffd`))
	}
	return b, nil
}

// shipEvent is an Event as the shipper reads it back: the detail stays raw JSON, so
// shipping never decodes and re-encodes it.
type shipEvent struct {
	ID            uuid.UUID         `json:"id"`
	InteractionID uuid.UUID         `json:"iid"`
	Type          string            `json:"type"`
	At            time.Time         `json:"at"`
	Detail        json.RawMessage   `json:"detail,omitempty"`
	Interaction   *InteractionPatch `json:"ix,omitempty"`
}

func decodeShipEvent(b []byte) (shipEvent, error) {
	var ev shipEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		return ev, fmt.Errorf("store: decode event: %w", err)
	}
	return ev, nil
}

// event returns the full Event (detail decoded) for projectors.
func (s shipEvent) event() (Event, error) {
	ev := Event{ID: s.ID, InteractionID: s.InteractionID, Type: s.Type, At: s.At, Interaction: s.Interaction}
	if len(s.Detail) > 0 {
		if err := json.Unmarshal(s.Detail, &ev.Detail); err != nil {
			return ev, fmt.Errorf("store: decode detail: %w", err)
		}
	}
	return ev, nil
}

func cleanText(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}
