package webhook

import (
	"fmt"
	"slices"
	"time"

	"github.com/careline/careline/store"
	"github.com/google/uuid"
)

// Event types an endpoint may subscribe to.
const (
	RefillRequested       = "refill.requested"
	AppointmentConfirmed  = "appointment.confirmed"
	AppointmentCancelled  = "appointment.cancelled"
	AppointmentReschedule = "appointment.reschedule_requested"
	OptOutRecorded        = "optout.recorded"
	CallbackRequested     = "callback.requested"
	VoicemailLeft         = "voicemail.left"
	MessageForProvider    = "message.for_provider"
	InteractionEnded      = "interaction.ended"
)

// Types lists every event type, in the order the documentation gives them.
func Types() []string {
	return []string{RefillRequested, AppointmentConfirmed, AppointmentCancelled, AppointmentReschedule,
		OptOutRecorded, CallbackRequested, VoicemailLeft, MessageForProvider, InteractionEnded}
}

// ContactFields are the fields an endpoint may add to the payload besides the patient
// reference; any other name is looked up in the contact's CSV purpose fields.
var ContactFields = []string{"phone", "language", "appointment_at"}

// Endpoint is one receiver.
type Endpoint struct {
	// Name labels metrics, logs and dead letters (never the URL).
	Name string
	URL  string
	// Key is the HMAC key (ParseSecret of the whsec_ secret).
	Key []byte
	// Events are the subscribed types (Types()).
	Events []string
	// Fields are added to data.fields when known: "phone", "language",
	// "appointment_at", or a contact purpose field (provider, location, ...).
	Fields []string
	// Campaigns restricts the endpoint to these campaigns' events (empty: all,
	// inbound calls included).
	Campaigns []string
	// Timeout bounds one POST (default 10 s).
	Timeout time.Duration
}

func (e *Endpoint) wants(typ, campaign string) bool {
	if !slices.Contains(e.Events, typ) {
		return false
	}
	return len(e.Campaigns) == 0 || slices.Contains(e.Campaigns, campaign)
}

// Validate reports what is wrong with e.
func (e *Endpoint) Validate() error {
	if e.Name == "" {
		return fmt.Errorf("webhook: endpoint without a name")
	}
	if len(e.Key) == 0 {
		return fmt.Errorf("webhook: endpoint %s has no secret", e.Name)
	}
	for _, t := range e.Events {
		if !slices.Contains(Types(), t) {
			return fmt.Errorf("webhook: endpoint %s: unknown event type %q", e.Name, t)
		}
	}
	return nil
}

// mapping says which interaction-log events become which webhook type, and whether the
// webhook id is the event's (one delivery per event) or the interaction's (one per
// interaction: the log may hold the same fact twice, e.g. an opt-out pressed in the
// flow and recorded again by the dialer).
type mapping struct {
	typ            string
	perInteraction bool
}

var fromLog = map[string]mapping{
	RefillRequested:        {typ: RefillRequested},
	AppointmentConfirmed:   {typ: AppointmentConfirmed},
	AppointmentCancelled:   {typ: AppointmentCancelled},
	AppointmentReschedule:  {typ: AppointmentReschedule},
	MessageForProvider:     {typ: MessageForProvider},
	"dialer.opt_out":       {typ: OptOutRecorded, perInteraction: true},
	OptOutRecorded:         {typ: OptOutRecorded, perInteraction: true},
	"queue.callback":       {typ: CallbackRequested},
	"voicemail.saved":      {typ: VoicemailLeft},
	"call.ended":           {typ: InteractionEnded, perInteraction: true},
	"dialer.attempt.ended": {typ: InteractionEnded, perInteraction: true},
}

// idNamespace derives per-interaction webhook ids (UUIDv5-style, SHA-1).
var idNamespace = uuid.MustParse("5b1c3f0e-6d1a-4c0e-9c55-2f0a8c6e7a10")

func webhookID(ev store.Event, m mapping) uuid.UUID {
	if m.perInteraction && ev.InteractionID != uuid.Nil {
		return uuid.NewSHA1(idNamespace, []byte(ev.InteractionID.String()+"/"+m.typ))
	}
	return ev.ID
}

// detailKeys are the event detail keys copied into data.detail per webhook type: no
// digits, no numbers, no audio.
var detailKeys = map[string][]string{
	RefillRequested:       {"flow", "node", "hash"},
	AppointmentConfirmed:  {"flow", "node"},
	AppointmentCancelled:  {"flow", "node"},
	AppointmentReschedule: {"flow", "node"},
	MessageForProvider:    {"flow", "node", "recording"},
	OptOutRecorded:        {"source", "flow", "node"},
	CallbackRequested:     {"queue", "why", "expires_at"},
	VoicemailLeft:         {"box", "recording"},
}

// Body is the JSON a receiver gets.
type Body struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      Data      `json:"data"`
}

// Data is the payload of every type; fields absent for a type are omitted.
type Data struct {
	EventID       string         `json:"event_id"`
	InteractionID string         `json:"interaction_id,omitempty"`
	Campaign      string         `json:"campaign,omitempty"`
	PatientRef    string         `json:"patient_ref,omitempty"`
	Fields        map[string]any `json:"fields,omitempty"`
	Detail        map[string]any `json:"detail,omitempty"`
	Summary       *Summary       `json:"summary,omitempty"`
}

// Summary is interaction.ended's data: routing and timing, never audio or numbers.
type Summary struct {
	Kind         string     `json:"kind,omitempty"`
	Direction    string     `json:"direction,omitempty"`
	Queue        string     `json:"queue,omitempty"`
	Agent        string     `json:"agent,omitempty"`
	Disposition  string     `json:"disposition,omitempty"`
	EndReason    string     `json:"end_reason,omitempty"`
	StartedAt    *time.Time `json:"started_at,omitempty"`
	AnsweredAt   *time.Time `json:"answered_at,omitempty"`
	EndedAt      *time.Time `json:"ended_at,omitempty"`
	RingSeconds  *float64   `json:"ring_seconds,omitempty"`
	TalkSeconds  *float64   `json:"talk_seconds,omitempty"`
	TotalSeconds *float64   `json:"total_seconds,omitempty"`
	RecordingID  string     `json:"recording_id,omitempty"`
}

func secs(a, b *time.Time) *float64 {
	if a == nil || b == nil {
		return nil
	}
	s := b.Sub(*a).Seconds()
	if s < 0 {
		s = 0
	}
	s = float64(int64(s*1000)) / 1000
	return &s
}
