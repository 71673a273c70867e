package routing

import (
	"context"
	"time"

	"github.com/careline/careline/store"
	"github.com/google/uuid"
)

// AgentInfo identifies an agent to the glue.
type AgentInfo struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	SIPUser string `json:"sip_user"`
}

// Offer asks the Connector to ring Agent for the waiting caller InteractionID.
type Offer struct {
	InteractionID uuid.UUID
	Queue         string
	Agent         AgentInfo
	Language      string // the caller's language (for a whisper prompt)
	Priority      int
	// RingTimeout is how long the Router lets the agent ring; it cancels ctx then.
	RingTimeout time.Duration
	Attempt     int // 1 for the first offer of this caller
}

// Outcome is the result of ringing an agent.
type Outcome string

// Offer outcomes.
const (
	Answered Outcome = "answered"  // the agent answered and the call is bridged
	NoAnswer Outcome = "no_answer" // ring timeout (RONA)
	Rejected Outcome = "rejected"  // the agent declined (486/603)
	Failed   Outcome = "failed"    // see OfferResult.Reason
)

// OfferResult is what the Connector reports. For Failed, Reason is ReasonNoCodec (488)
// or ReasonUnreachable (anything else: 404/408/480/503, transport error).
type OfferResult struct {
	Outcome Outcome
	Reason  string
}

// Connector rings agents and bridges calls; the call glue implements it.
type Connector interface {
	// Offer rings o.Agent's phone for the waiting caller o.InteractionID and, if the
	// agent answers, bridges the two and returns Answered. It must return promptly
	// (CANCEL the INVITE) when ctx ends: ring timeout, caller abandoned, shutdown.
	// After Answered, the glue reports the end of the call with Router.Hangup (or
	// Ticket.Hangup), which puts the agent in wrap-up.
	Offer(ctx context.Context, o Offer) (OfferResult, error)
}

// Presence says whether an agent's softphone is registered (e.g. a sip.BindingStore
// lookup). An agent whose registration expired is not offered calls.
type Presence interface {
	Registered(ctx context.Context, sipUser string) bool
}

// PresenceFunc adapts a function to Presence.
type PresenceFunc func(ctx context.Context, sipUser string) bool

// Registered implements Presence.
func (f PresenceFunc) Registered(ctx context.Context, sipUser string) bool { return f(ctx, sipUser) }

// CallbackRequest asks the Callbacker to call a patient back now: Agent has been claimed
// for it. InteractionID is a new interaction for the callback call; For is the original
// inbound call whose place it kept. Number is PHI: never log it.
type CallbackRequest struct {
	InteractionID uuid.UUID
	For           uuid.UUID
	Queue         string
	Agent         AgentInfo
	Number        string
	Language      string
	Attempt       int           // 1 for the first attempt
	RingTimeout   time.Duration // for the agent leg
}

// PatientOutcome is what happened on the patient leg of a callback.
type PatientOutcome string

// Patient outcomes.
const (
	PatientAnswered PatientOutcome = "answered"
	PatientNoAnswer PatientOutcome = "no_answer"
	PatientBusy     PatientOutcome = "busy"
	PatientFailed   PatientOutcome = "failed"
)

// CallbackResult reports a callback attempt: first the agent leg (as for an Offer),
// then, if the agent answered, the patient leg.
type CallbackResult struct {
	Agent   OfferResult
	Patient PatientOutcome
}

// Callbacker places patient callbacks (agent first, then the patient, then bridges);
// the call glue implements it. The Router has already checked the queue's hours and
// the opt-out list. When both legs answered, the end of the call is reported with
// Router.Hangup(req.InteractionID).
type Callbacker interface {
	Callback(ctx context.Context, req CallbackRequest) (CallbackResult, error)
}

// OptOuts says whether a number asked not to be called.
type OptOuts interface {
	OptedOut(ctx context.Context, number string) (bool, error)
}

// Hours says whether a queue is open; *calendar.Calendar implements it.
type Hours interface {
	IsOpen(t time.Time) bool
}

// EventLog is where routing records what happened; *store.Log implements it.
type EventLog interface {
	Append(ev store.Event) error
}
