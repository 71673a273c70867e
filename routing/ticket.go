package routing

import (
	"context"
	"time"

	"github.com/careline/careline/config"
	"github.com/google/uuid"
)

// Caller is a call to queue.
type Caller struct {
	InteractionID uuid.UUID
	Queue         string
	Language      string // caller's language; "" = the site default
	Priority      int    // 0 normal, 1 urgent (the queue's priority is a floor)
	// EnqueuedAt is when the caller started waiting (its place in line); zero = now.
	EnqueuedAt time.Time
	// CallbackNumber is the number to call back (PHI, never logged); used by
	// RequestCallback without a number and by overflow to callback.
	CallbackNumber string
	// Agent, when set, is the only agent this caller may be offered to (a blind
	// transfer to a named agent); the queue still supplies timers and overflow.
	Agent string
}

// Update is something a waiting caller's glue should know: Position, Offering,
// Connected, Overflow or CallbackScheduled.
type Update interface{ isUpdate() }

// Position is the caller's place for announcements: sent when it or the estimate
// changes. Waiting counts every place in the queue (all nodes, callbacks included).
type Position struct {
	Queue    string
	Position int // 1 = next
	Waiting  int
	Estimate Estimate
}

// Offering says an agent is being rung for this caller (informational).
type Offering struct{ Agent AgentInfo }

// Connected says the agent answered and the caller is bridged to it. Final: the
// channel is closed after it; report the end of the call with Ticket.Hangup.
type Connected struct{ Agent AgentInfo }

// Overflow says the caller waited max_wait. For Kind queue the caller now waits in
// Target.Name (more updates follow). For voicemail it is final. For callback, a
// CallbackScheduled follows if the caller had a CallbackNumber; otherwise it is final
// and the glue should take a message or ask for a number.
type Overflow struct {
	From   string
	Target config.OverflowTarget
}

// CallbackScheduled says the caller's place is kept for a callback; final: the glue
// confirms to the caller and hangs up.
type CallbackScheduled struct {
	Queue    string
	Position int
}

func (Position) isUpdate()          {}
func (Offering) isUpdate()          {}
func (Connected) isUpdate()         {}
func (Overflow) isUpdate()          {}
func (CallbackScheduled) isUpdate() {}

// ticketBuffer is the capacity of a ticket's channel; one slot is always kept for the
// final update, so Position updates may be dropped for a reader that does not keep up.
const ticketBuffer = 16

// Ticket is a caller's handle on its place in a queue. Read Updates until it is
// closed: after a final update (Connected, final Overflow, CallbackScheduled), after
// Abandon, or when the Router stops.
type Ticket struct {
	ID uuid.UUID
	r  *Router
	ch chan Update
	// closed is owned by the Router's goroutine.
	closed bool
}

// Updates delivers the ticket's updates.
func (t *Ticket) Updates() <-chan Update { return t.ch }

// Abandon says the caller hung up (or left the queue, e.g. pressed 0 for the operator)
// before being connected. It cancels a pending offer. Once connected it acts as
// Hangup. Calling it again is harmless.
func (t *Ticket) Abandon(ctx context.Context) error {
	return t.r.do(ctx, func(rc context.Context) error { return t.r.abandon(rc, t.ID) })
}

// RequestCallback turns the waiting caller into a callback that keeps its place
// (number "" = Caller.CallbackNumber). On success a CallbackScheduled update follows;
// the glue confirms to the caller and hangs up. Errors: ErrCallbackUnavailable (queue
// without callback, no Callbacker, no number), ErrNotWaiting (connected, being offered,
// gone).
func (t *Ticket) RequestCallback(ctx context.Context, number string) error {
	return t.r.do(ctx, func(rc context.Context) error { return t.r.requestCallback(rc, t.ID, number) })
}

// Hangup reports that the connected call ended; the agent goes to wrap-up.
func (t *Ticket) Hangup(ctx context.Context) error { return t.r.Hangup(ctx, t.ID) }

// send delivers u; final updates close the channel. Called only by the Router goroutine.
func (t *Ticket) send(u Update, final bool) {
	if t.closed {
		return
	}
	if final {
		t.ch <- u // a slot is always free (see ticketBuffer)
		t.close()
		return
	}
	if len(t.ch) < cap(t.ch)-1 {
		t.ch <- u
	}
}

func (t *Ticket) close() {
	if !t.closed {
		t.closed = true
		close(t.ch)
	}
}
