package routing

import (
	"errors"
	"fmt"
	"time"
)

// State is an agent's routing state.
type State string

// Agent states.
const (
	LoggedOut State = "logged_out"
	Ready     State = "ready"
	Offered   State = "offered" // ringing for a call
	OnCall    State = "on_call"
	WrapUp    State = "wrap_up"
	Away      State = "away" // with a reason: break, lunch, rona, no_codec, ...
)

// States lists every state (metric label values).
var States = []State{LoggedOut, Ready, Offered, OnCall, WrapUp, Away}

// System reasons for Away, set by the Router.
const (
	ReasonRONA        = "rona"        // ring, no answer
	ReasonNoCodec     = "no_codec"    // 488: no codec in common with the phone
	ReasonRejected    = "rejected"    // the agent declined the call
	ReasonUnreachable = "unreachable" // the phone could not be reached
	ReasonOfferLost   = "offer_lost"  // an offer whose node vanished (agent back to ready)
)

// legal lists allowed transitions (from → to). Offered is entered only by Store.Claim.
var legal = map[State]map[State]bool{
	LoggedOut: {Ready: true},
	Ready:     {Offered: true, Away: true, LoggedOut: true},
	Offered:   {OnCall: true, Away: true, Ready: true},
	OnCall:    {WrapUp: true, Ready: true},
	WrapUp:    {Ready: true, Away: true, LoggedOut: true},
	Away:      {Ready: true, Away: true, LoggedOut: true},
}

// Errors. Match with errors.Is.
var (
	ErrUnknownAgent        = errors.New("routing: unknown agent")
	ErrUnknownQueue        = errors.New("routing: unknown queue")
	ErrIllegalTransition   = errors.New("routing: illegal agent state transition")
	ErrConflict            = errors.New("routing: agent record changed concurrently")
	ErrNotAvailable        = errors.New("routing: agent not available")
	ErrDuplicate           = errors.New("routing: interaction already queued")
	ErrNotWaiting          = errors.New("routing: caller is not waiting")
	ErrNoCall              = errors.New("routing: no call")
	ErrUnknownDisposition  = errors.New("routing: unknown disposition")
	ErrBadReason           = errors.New("routing: away reason not allowed")
	ErrCallbackUnavailable = errors.New("routing: callback not available")
	ErrStopped             = errors.New("routing: router not running")
)

// TransitionError says which transition was refused; it matches ErrIllegalTransition.
type TransitionError struct {
	Agent    string
	From, To State
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("routing: agent %s cannot go from %s to %s", e.Agent, e.From, e.To)
}

// Unwrap makes errors.Is(err, ErrIllegalTransition) true.
func (e *TransitionError) Unwrap() error { return ErrIllegalTransition }

// CheckTransition returns nil if an agent may go from one state to the other.
func CheckTransition(agent string, from, to State) error {
	if legal[from][to] {
		return nil
	}
	return &TransitionError{Agent: agent, From: from, To: to}
}

// AgentRecord is an agent's shared routing state, as kept by a Store.
type AgentRecord struct {
	ID        string    `json:"id"`
	State     State     `json:"state"`
	Reason    string    `json:"reason,omitempty"` // away reason, or why the state was entered
	Call      string    `json:"call,omitempty"`   // interaction offered / on call / wrapping up
	Queue     string    `json:"queue,omitempty"`  // queue of Call
	Node      string    `json:"node,omitempty"`   // node that owns Call
	Since     time.Time `json:"since"`            // when State was entered
	IdleSince time.Time `json:"idle_since"`       // when the agent last became ready
	Until     time.Time `json:"until"`            // offered: offer deadline; wrap_up: its end
	Version   int64     `json:"version"`          // bumped by every write
}

// Claim is what Store.Claim records on an agent it moves to offered.
type Claim struct {
	Call  string
	Queue string
	Node  string
	Now   time.Time
	Until time.Time // after this, any node may consider the offer lost
}
