package ivr

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/careline/careline/store"
	"github.com/google/uuid"
)

// Errors that end a flow with OutcomeError (matched with errors.Is).
var (
	ErrUnknownFlow        = errors.New("ivr: unknown flow")
	ErrLoop               = errors.New("ivr: flow ran too many steps without waiting for the caller")
	ErrVoicemailStore     = errors.New("ivr: voicemail could not be saved")
	ErrTransfer           = errors.New("ivr: transfer failed")
	ErrNoVoicemailStore   = fmt.Errorf("%w: no voicemail store configured", ErrVoicemailStore)
	errInvalidFlowsConfig = errors.New("ivr: invalid flows")
)

// CallInfo identifies the call a flow runs for.
type CallInfo struct {
	InteractionID uuid.UUID
	// Caller is the caller's number (PHI): used for a call-back to the caller id and
	// given to the patient look-up hook; never logged.
	Caller string
	// Vars are initial call variables (e.g. from a dialer campaign contact).
	Vars map[string]string
}

// OutcomeKind is how a flow ended.
type OutcomeKind int

// The outcomes.
const (
	OutcomeHangup    OutcomeKind = iota // the flow or the caller hung up
	OutcomeQueue                        // hand the call to a queue (Outcome.Queue)
	OutcomeTransfer                     // the channel transferred the call (Outcome.Target)
	OutcomeVoicemail                    // a voicemail was saved (Outcome.VoicemailID)
	OutcomeCallback                     // a call-back was requested (Outcome.Callback)
	OutcomeError                        // the flow could not go on (Run's error says why)
)

var outcomeNames = [...]string{"hangup", "queue", "transfer", "voicemail", "callback", "error"}

// String returns hangup, queue, transfer, voicemail, callback or error.
func (k OutcomeKind) String() string {
	if int(k) >= 0 && int(k) < len(outcomeNames) {
		return outcomeNames[k]
	}
	return fmt.Sprintf("OutcomeKind(%d)", int(k))
}

// Priority of a queued call.
type Priority int

// Priorities, lowest first.
const (
	PriorityNormal Priority = iota
	PriorityHigh
	PriorityUrgent
)

// String returns normal, high or urgent.
func (p Priority) String() string {
	switch p {
	case PriorityNormal:
		return "normal"
	case PriorityHigh:
		return "high"
	case PriorityUrgent:
		return "urgent"
	}
	return fmt.Sprintf("Priority(%d)", int(p))
}

// ParsePriority maps "normal" (or ""), "high" and "urgent".
func ParsePriority(s string) (Priority, error) {
	switch s {
	case "", "normal":
		return PriorityNormal, nil
	case "high":
		return PriorityHigh, nil
	case "urgent":
		return PriorityUrgent, nil
	}
	return 0, fmt.Errorf("ivr: unknown priority %q (want normal, high or urgent)", s)
}

// QueueRequest asks routing to queue the call.
type QueueRequest struct {
	Name     string
	Skills   []string
	Language string
	Priority Priority
	Reason   string // bounded: the queue node's reason (default: its name)
}

// CallbackRequest asks staff to call the patient back.
type CallbackRequest struct {
	Number       string // PHI: never log
	FromCallerID bool   // the caller confirmed the number they call from
	Consent      bool   // the caller asked for the call (pressed a key or keyed a number)
}

// Outcome is how a flow ended. For OutcomeHangup, OutcomeVoicemail and
// OutcomeCallback the interpreter has hung up (unless the caller did); for
// OutcomeQueue the call is live and belongs to the caller of Run; for
// OutcomeTransfer the channel has transferred it; for OutcomeError the call is live
// and the caller of Run decides (hang up or queue to staff).
type Outcome struct {
	Kind         OutcomeKind
	Flow, Node   string // the node that ended the flow
	Language     string // the call's language at the end
	CallerHangup bool   // the caller hung up (possibly after leaving a voicemail)
	Queue        *QueueRequest
	Target       string // transfer target
	VoicemailID  string
	Callback     *CallbackRequest
	Reason       string // OutcomeError: bounded code (unknown_flow, loop, voicemail, transfer, channel)
	// Vars are the call variables at the end (collected entries: patient data).
	Vars map[string]string
}

// EventLog receives interaction events (store.Log implements it). Append must not
// block on the network; an error is logged and the call goes on.
type EventLog interface {
	Append(ev store.Event) error
}

// VoicemailMeta describes a voicemail for the store.
type VoicemailMeta struct {
	InteractionID uuid.UUID
	Flow, Node    string
	Box           string
	Language      string
	Caller        string // PHI: the call-back number when known
	At            time.Time
}

// VoicemailStore keeps recorded voicemails (the encrypted recordings store).
type VoicemailStore interface {
	Save(ctx context.Context, meta VoicemailMeta, rec Recording) (id string, err error)
}

// LookupRequest is what the patient look-up hook gets.
type LookupRequest struct {
	InteractionID uuid.UUID
	Caller        string // PHI
	Facts         Facts
	Vars          map[string]string
}

// LookupResult is the hook's answer. Vars are merged into the call variables;
// Language, when valid and configured, becomes the call's language.
type LookupResult struct {
	Found    bool
	Language string
	Vars     map[string]string
}

// LookupFunc finds the patient behind a call. It must honour ctx (the branch's
// time limit).
type LookupFunc func(ctx context.Context, req LookupRequest) (LookupResult, error)
