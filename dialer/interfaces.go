package dialer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/careline/careline/store"
	"github.com/google/uuid"
)

// The dialer places calls and talks to agents only through these interfaces; cmd
// wires them to sip/media/call/ivr/routing. The dialer imports none of those.

// Dialer places an outbound call. It returns a live Call once the far end answered
// (200 OK), or a *DialError saying why not. The attempt row is already committed when
// Dial is called.
type Dialer interface {
	Dial(ctx context.Context, req DialRequest) (Call, error)
}

// DialRequest describes one outbound call. To is PHI.
type DialRequest struct {
	AttemptID   uuid.UUID // also the interaction id of the call's events
	Campaign    string
	Trunk       string
	CallerID    string
	To          string // E.164
	RingTimeout time.Duration
	Recording   string // always, never, on_demand
}

// DialResult classifies a dial that produced no call.
type DialResult string

// The dial results.
const (
	DialBusy        DialResult = "busy"        // 486, 600
	DialNoAnswer    DialResult = "no_answer"   // rang out (408/480 after ringing, or our timer)
	DialRejected    DialResult = "rejected"    // 403, 404, 410, 484, 603, 604: the number will not take calls
	DialUnreachable DialResult = "unreachable" // trunk down, 503, no route
	DialTimeout     DialResult = "timeout"     // no provisional response
	DialCancelled   DialResult = "cancelled"   // we cancelled (shutdown, campaign stopped)
)

// DialError is a dial that produced no call. Retryable false means the number should
// not be tried again (e.g. 404, 604).
type DialError struct {
	Result    DialResult
	Status    int // SIP status, 0 if none
	Retryable bool
	Err       error
}

func (e *DialError) Error() string {
	s := "dialer: dial " + string(e.Result)
	if e.Status != 0 {
		s += fmt.Sprintf(" (%d)", e.Status)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *DialError) Unwrap() error { return e.Err }

// classifyDial maps a Dial error to a disposition.
func classifyDial(err error) (DialResult, Disposition, bool) {
	var de *DialError
	if !errors.As(err, &de) {
		return DialUnreachable, Failed, true
	}
	switch de.Result {
	case DialBusy:
		return de.Result, Busy, true
	case DialNoAnswer, DialTimeout:
		return de.Result, NoAnswer, true
	}
	return de.Result, Failed, de.Retryable
}

// Call is an answered outbound call.
type Call interface {
	// Audio is the patient's side of the call from the answer on, for AMD.
	Audio() Audio
	// Play plays prompt ids in lang, then waits up to wait for a key. It returns the
	// first DTMF key pressed while playing or waiting ("" if none); a key stops the
	// playback.
	Play(ctx context.Context, lang string, prompts []string, wait time.Duration) (string, error)
	// Hangup ends the call (idempotent).
	Hangup(ctx context.Context) error
}

// Audio is a stream of 20 ms frames of 8 kHz 16-bit PCM from the far end.
type Audio interface {
	// ReadFrame returns the next frame; io.EOF when the call has ended.
	ReadFrame(ctx context.Context) ([]int16, error)
}

// FlowRunner runs the campaign's IVR flow on a live answer (agentless campaigns) and
// returns how the call ended: confirmed, cancelled, reschedule-requested,
// refill-requested, transferred, opted-out, wrong-number... The flow must start by
// identifying the pharmacy and offer the opt-out key (ValidateCampaigns checks).
type FlowRunner interface {
	RunFlow(ctx context.Context, call Call, req FlowRequest) (FlowResult, error)
}

// FlowRequest is what a flow needs to know. Vars are PHI (purpose fields).
type FlowRequest struct {
	Flow      string
	Campaign  string
	AttemptID uuid.UUID
	Language  string
	// Vars: pharmacy_name, callback_number, opt_out_key and, for appointments,
	// appointment_at (RFC 3339 in the patient's zone), provider, location.
	Vars map[string]string
}

// FlowResult is how a flow ended.
type FlowResult struct {
	Disposition Disposition
	// OptOut is set when the patient asked for no more calls (also implied by
	// Disposition OptedOut).
	OptOut bool
}

// AgentPool gives the agents of a campaign's queue (progressive and predictive).
type AgentPool interface {
	// Snapshot says how many agents are ready and not reserved, and for how long each
	// agent busy with this campaign's calls has been busy (talk and wrap-up).
	Snapshot() AgentSnapshot
	// TryReserve holds a ready agent if one is free now.
	TryReserve() (Agent, bool)
	// Reserve waits for a ready agent until ctx ends.
	Reserve(ctx context.Context) (Agent, error)
}

// AgentSnapshot is the state of a campaign's agents.
type AgentSnapshot struct {
	Ready int
	Busy  []time.Duration
}

// Agent is one reserved agent.
type Agent interface {
	// Connect bridges the answered call to the agent and returns when the agent has
	// finished with it (including wrap-up), with the disposition the agent chose. If
	// no agent is on the line by info.ConnectBy it returns an error matching
	// ErrNoAgent with the call still up: the runner then plays the abandon message.
	Connect(ctx context.Context, call Call, info ConnectInfo) (Disposition, error)
	// Release gives the agent back unused (idempotent; a no-op after Connect).
	Release()
}

// ConnectInfo tells the agent's screen what the call is about.
type ConnectInfo struct {
	Campaign  string
	AttemptID uuid.UUID
	ContactID int64
	Language  string
	Vars      map[string]string
	// ConnectBy is when the agent must be on the line: 2 s after the end of the
	// patient's greeting (47 CFR 64.1200(a)(7)).
	ConnectBy time.Time
}

// EventLog receives the dialer's log events (a *store.Log). Its Append must not block
// on Postgres.
type EventLog interface {
	Append(ev store.Event) error
}

// ErrNoAgent is returned by AgentPool.Reserve implementations when no agent is ready.
var ErrNoAgent = errors.New("dialer: no agent ready")
