package routing

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/careline/careline/config"
	"github.com/careline/careline/store"
	"github.com/google/uuid"
)

const (
	entryTTL       = 90 * time.Second // a queue entry not refreshed for this long is dropped
	staleOfferWait = 30 * time.Second // after an offer's deadline, other nodes may release the agent
	callbackExtra  = 2 * time.Minute  // patient leg allowance on top of the agent ring timeout
	optOutRetry    = time.Minute      // an opt-out lookup failed: try the callback again after this
)

// Option configures a Router.
type Option func(*Router)

// WithStore sets the shared state store (default: a new MemoryStore).
func WithStore(s Store) Option { return func(r *Router) { r.store = s } }

// WithRestartLogout makes Run log every agent out ("agent.state" to logged_out, reason
// restart) as it starts. Use it when the Store is this node's memory: the records it
// starts with are fresh, and the interaction log must not keep an agent ready or on a
// call from before a crash or restart (reports would count that time as staffed).
func WithRestartLogout() Option { return func(r *Router) { r.restartLogout = true } }

// WithCallbacker enables callbacks ("keep my place").
func WithCallbacker(c Callbacker) Option { return func(r *Router) { r.cb = c } }

// WithOptOuts sets the opt-out list checked before every callback.
func WithOptOuts(o OptOuts) Option { return func(r *Router) { r.optouts = o } }

// WithHours sets the hours during which callbacks may be placed, for every queue
// without its own (WithQueueHours). Without hours, callbacks are placed at any time.
func WithHours(h Hours) Option { return func(r *Router) { r.hours = h } }

// WithQueueHours sets one queue's callback hours.
func WithQueueHours(queue string, h Hours) Option {
	return func(r *Router) { r.qhours[queue] = h }
}

// WithEventLog sets where routing events go (normally the *store.Log).
func WithEventLog(l EventLog) Option { return func(r *Router) { r.events = l } }

// WithMetrics sets the metrics (default: unregistered).
func WithMetrics(m *Metrics) Option { return func(r *Router) { r.m = m } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(r *Router) { r.log = l } }

// WithClock sets the clock (tests use a fake one).
func WithClock(c Clock) Option { return func(r *Router) { r.clock = c } }

// WithNodeID names this node in shared state (default: random).
func WithNodeID(id string) Option { return func(r *Router) { r.node = id } }

// WithPollInterval sets how often the Router re-reads shared state while callers wait,
// as a safety net beside store notifications (default 1s).
func WithPollInterval(d time.Duration) Option { return func(r *Router) { r.poll = d } }

// Router assigns waiting callers to agents. Create it with New, run it with Run.
type Router struct {
	spec     *spec
	store    Store
	conn     Connector
	presence Presence
	cb       Callbacker
	optouts  OptOuts
	hours    Hours
	qhours   map[string]Hours
	events   EventLog
	m        *Metrics
	log      *slog.Logger
	clock    Clock
	node     string
	// restartLogout: log every agent out at start (node-local state only).
	restartLogout bool
	poll          time.Duration

	cmds    chan command
	wake    chan struct{}
	started atomic.Bool
	stopped chan struct{}

	// Everything below is owned by the Run goroutine.
	runCtx      context.Context
	waiting     map[uuid.UUID]*waiter
	offers      map[*offer]struct{}
	calls       map[uuid.UUID]*call
	est         map[string]*estimator
	agents      []AgentRecord
	timer       Timer
	timerAt     time.Time
	nextRefresh time.Time
	seq         int64
	wg          sync.WaitGroup
}

type command struct {
	f    func(ctx context.Context) error
	done chan error // nil for posts from offer goroutines
}

// waiter is a local queue entry: a waiting caller, or a callback keeping its place.
type waiter struct {
	entry   Entry
	caller  Caller
	q       *queueSpec
	ticket  *Ticket
	offer   *offer
	offers  int      // offers made so far
	cb      *cbState // non-nil: a callback keeping its place
	lastPos Position
}

type cbState struct {
	number    string
	attempts  int // patient legs tried
	notBefore time.Time
	expires   time.Time
}

type offer struct {
	w          *waiter
	q          *queueSpec
	agent      *agentSpec
	cancel     context.CancelFunc
	started    time.Time
	deadline   time.Time
	timedOut   bool
	callerGone bool
	callback   uuid.UUID // the callback interaction, for callback offers
}

type call struct {
	id    uuid.UUID
	agent string
	queue string
}

// New builds a Router from a loaded configuration. conn rings agents; presence says
// whose phone is registered.
func New(cfg *config.Config, conn Connector, presence Presence, opts ...Option) (*Router, error) {
	sp, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	if conn == nil || presence == nil {
		return nil, errors.New("routing: a Connector and a Presence are required")
	}
	r := &Router{spec: sp, conn: conn, presence: presence, qhours: map[string]Hours{}, clock: SystemClock{},
		poll: time.Second, cmds: make(chan command), wake: make(chan struct{}, 1), stopped: make(chan struct{}),
		waiting: map[uuid.UUID]*waiter{}, offers: map[*offer]struct{}{}, calls: map[uuid.UUID]*call{}, est: map[string]*estimator{}}
	for _, o := range opts {
		o(r)
	}
	if r.store == nil {
		r.store = NewMemoryStore()
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.m == nil {
		r.m = NewMetrics(nil, ServiceLevels(cfg)...)
	}
	if r.node == "" {
		r.node = store.NewID().String()[24:]
	}
	for q := range r.qhours {
		if sp.queues[q] == nil {
			return nil, fmt.Errorf("%w: hours given for %s", ErrUnknownQueue, q)
		}
	}
	for _, q := range sp.queueNames {
		r.est[q] = &estimator{cfg: sp.estimate}
	}
	for _, q := range sp.queueNames {
		r.m.initQueue(q, sp.queues[q].serviceLevel)
	}
	return r, nil
}

// Node returns this node's id.
func (r *Router) Node() string { return r.node }

// Run routes until ctx ends. On return every ticket is closed and agents being offered
// by this node are released.
func (r *Router) Run(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("routing: Run called twice")
	}
	defer close(r.stopped)
	r.runCtx = ctx
	if err := r.store.InitAgents(ctx, r.spec.agentIDs, r.clock.Now()); err != nil {
		return fmt.Errorf("routing: init agents: %w", err)
	}
	if r.restartLogout {
		now := r.clock.Now()
		for _, id := range r.spec.agentIDs {
			r.emit(uuid.Nil, "agent.state", now, map[string]any{"agent": id, "from": "", "to": string(LoggedOut),
				"reason": "restart", "queue": ""}, nil)
		}
	}
	notify := r.store.Subscribe(ctx)
	r.step(ctx)
	for {
		select {
		case <-ctx.Done():
			r.shutdown()
			return ctx.Err()
		case c := <-r.cmds:
			err := c.f(ctx)
			r.step(ctx)
			if c.done != nil {
				c.done <- err
			}
		case <-r.wake:
			r.step(ctx)
		case <-notify:
			r.step(ctx)
		}
	}
}

// do runs f in the Router goroutine, followed by a routing pass, and returns its error.
func (r *Router) do(ctx context.Context, f func(context.Context) error) error {
	done := make(chan error, 1)
	select {
	case r.cmds <- command{f: f, done: done}:
	case <-ctx.Done():
		return ctx.Err()
	case <-r.stopped:
		return ErrStopped
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-r.stopped:
		return ErrStopped
	}
}

// post hands f to the Router goroutine without waiting (offer goroutines).
func (r *Router) post(f func(context.Context) error) {
	select {
	case r.cmds <- command{f: f}:
	case <-r.runCtx.Done():
	}
}

// Sync waits until the Router has handled what was handed to it before and made a
// routing pass at the clock's current time.
func (r *Router) Sync(ctx context.Context) error {
	return r.do(ctx, func(context.Context) error { return nil })
}

// Kick asks for a routing pass soon, e.g. when an agent's phone registers.
func (r *Router) Kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Router) shutdown() {
	if r.timer != nil {
		r.timer.Stop()
	}
	for o := range r.offers {
		o.cancel()
	}
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	t := time.NewTimer(5 * time.Second)
	select {
	case <-done:
	case <-t.C:
		r.log.Warn("shutdown: offers still running after 5s")
	}
	t.Stop()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.runCtx), 3*time.Second)
	defer cancel()
	now := r.clock.Now()
	for o := range r.offers {
		r.release(ctx, o, now, ReasonOfferLost, false)
	}
	for _, w := range r.waiting {
		_ = r.store.RemoveEntry(ctx, w.entry.Queue, w.entry.ID)
		w.ticket.close()
	}
}

// ---- caller side ----

// Enqueue puts a caller in a queue and returns its Ticket.
func (r *Router) Enqueue(ctx context.Context, c Caller) (*Ticket, error) {
	var t *Ticket
	err := r.do(ctx, func(rc context.Context) error {
		q := r.spec.queues[c.Queue]
		if q == nil {
			return fmt.Errorf("%w: %q", ErrUnknownQueue, c.Queue)
		}
		if c.InteractionID == uuid.Nil {
			return errors.New("routing: enqueue: no interaction id")
		}
		if _, dup := r.waiting[c.InteractionID]; dup {
			return fmt.Errorf("%w: %s", ErrDuplicate, c.InteractionID)
		}
		if _, dup := r.calls[c.InteractionID]; dup {
			return fmt.Errorf("%w: %s", ErrDuplicate, c.InteractionID)
		}
		now := r.clock.Now()
		if c.EnqueuedAt.IsZero() || c.EnqueuedAt.After(now) {
			c.EnqueuedAt = now
		}
		if c.Language == "" {
			c.Language = r.spec.defaultLang
		}
		if c.Agent != "" && r.spec.agents[c.Agent] == nil {
			return fmt.Errorf("%w: %s", ErrUnknownAgent, c.Agent)
		}
		w := r.newWaiter(c, q, now)
		if err := r.store.PutEntry(rc, w.entry); err != nil {
			return fmt.Errorf("routing: enqueue: %w", err)
		}
		r.waiting[c.InteractionID] = w
		d := map[string]any{"queue": q.name, "priority": w.entry.Priority, "language": c.Language}
		if c.Agent != "" {
			d["agent"] = c.Agent
		}
		r.emit(c.InteractionID, "queue.enter", now, d, &store.InteractionPatch{Queue: q.name, Language: c.Language})
		t = w.ticket
		return nil
	})
	return t, err
}

// newWaiter makes the local record and the shared queue entry of caller c, with the
// next arrival number.
func (r *Router) newWaiter(c Caller, q *queueSpec, now time.Time) *waiter {
	r.seq++
	return &waiter{caller: c, q: q, ticket: &Ticket{ID: c.InteractionID, r: r, ch: make(chan Update, ticketBuffer)},
		entry: Entry{ID: c.InteractionID.String(), Queue: q.name, Node: r.node, Priority: r.priorityIn(q, c.Priority),
			EnqueuedAt: c.EnqueuedAt, Seq: r.seq, Expires: now.Add(entryTTL)}}
}

func (r *Router) priorityIn(q *queueSpec, p int) int {
	return max(min(max(p, 0), 1), q.priority)
}

// Hangup reports that the connected call id (a caller's or a callback's interaction)
// ended: the agent goes to wrap-up (or ready when the queue has no wrap-up).
// Unknown or already ended calls are ignored.
func (r *Router) Hangup(ctx context.Context, id uuid.UUID) error {
	return r.do(ctx, func(rc context.Context) error {
		if c := r.calls[id]; c != nil {
			return r.endCall(rc, c, r.clock.Now())
		}
		return nil
	})
}

// Transfer records that the agent on call id transferred it to target (a queue name,
// an agent id, or "external"; never a phone number). It only logs: the glue re-queues the caller (to the queue, or with Caller.Agent).
func (r *Router) Transfer(ctx context.Context, id uuid.UUID, target string) error {
	return r.do(ctx, func(rc context.Context) error {
		c := r.calls[id]
		if c == nil {
			return fmt.Errorf("%w: %s", ErrNoCall, id)
		}
		if r.spec.queues[target] == nil && r.spec.agents[target] == nil {
			target = "external"
		}
		r.emit(id, "call.transfer", r.clock.Now(), map[string]any{"agent": c.agent, "queue": c.queue, "to": target}, nil)
		return nil
	})
}

// Hold records that the agent on call id put it on hold (on) or resumed it. It only logs:
// routing state is unchanged.
func (r *Router) Hold(ctx context.Context, id uuid.UUID, on bool) error {
	return r.do(ctx, func(rc context.Context) error {
		c := r.calls[id]
		if c == nil {
			return fmt.Errorf("%w: %s", ErrNoCall, id)
		}
		r.emit(id, "call.hold", r.clock.Now(), map[string]any{"agent": c.agent, "queue": c.queue, "on": on}, nil)
		return nil
	})
}

func (r *Router) abandon(rc context.Context, id uuid.UUID) error {
	now := r.clock.Now()
	if w := r.waiting[id]; w != nil {
		if w.cb != nil {
			return nil // the caller is gone already; the callback keeps its place
		}
		if o := w.offer; o != nil {
			o.callerGone = true
			o.cancel()
			w.offer = nil
		}
		r.m.abandoned.WithLabelValues(w.q.name).Inc()
		if now.Sub(w.entry.EnqueuedAt) < ShortAbandon {
			r.m.short.WithLabelValues(w.q.name).Inc()
		}
		r.leave(rc, w, OutcomeAbandoned, now, true, nil)
		w.ticket.close()
		return nil
	}
	if c := r.calls[id]; c != nil {
		return r.endCall(rc, c, now)
	}
	return nil
}

func (r *Router) requestCallback(rc context.Context, id uuid.UUID, number string) error {
	w := r.waiting[id]
	if w == nil || w.cb != nil || w.offer != nil {
		return fmt.Errorf("%w: %s", ErrNotWaiting, id)
	}
	if w.q.callback == nil || r.cb == nil {
		return fmt.Errorf("%w: queue %s", ErrCallbackUnavailable, w.q.name)
	}
	if number == "" {
		number = w.caller.CallbackNumber
	}
	if number == "" {
		return fmt.Errorf("%w: no number to call back", ErrCallbackUnavailable)
	}
	return r.toCallback(rc, w, number, r.clock.Now(), "requested", true)
}

// RestoreCallback puts back a callback that an earlier run of this node had accepted
// and not finished (see PendingCallbacks): in its queue, at its original place, with its
// original expiry. One already expired leaves at once as callback_expired. A callback
// already waiting here is left alone (ErrDuplicate).
func (r *Router) RestoreCallback(ctx context.Context, p PendingCallback) error {
	return r.do(ctx, func(rc context.Context) error {
		q := r.spec.queues[p.Queue]
		if q == nil {
			return fmt.Errorf("%w: %q", ErrUnknownQueue, p.Queue)
		}
		if _, dup := r.waiting[p.InteractionID]; dup {
			return fmt.Errorf("%w: %s", ErrDuplicate, p.InteractionID)
		}
		if p.Number == "" {
			return fmt.Errorf("%w: no number to call back", ErrCallbackUnavailable)
		}
		now := r.clock.Now()
		lang := p.Language
		if lang == "" {
			lang = r.spec.defaultLang
		}
		c := Caller{InteractionID: p.InteractionID, Queue: q.name, Language: lang, Priority: p.Priority,
			EnqueuedAt: p.EnqueuedAt, CallbackNumber: p.Number}
		w := r.newWaiter(c, q, now)
		w.cb = &cbState{number: p.Number, expires: p.Expires}
		w.entry.Callback = true
		w.ticket.close() // nobody is on the line to read updates
		r.waiting[c.InteractionID] = w
		if !now.Before(p.Expires) {
			r.leave(rc, w, "callback_expired", now, false, map[string]any{"restored": true})
			return nil
		}
		if err := r.store.PutEntry(rc, w.entry); err != nil {
			delete(r.waiting, c.InteractionID)
			return fmt.Errorf("routing: restore callback: %w", err)
		}
		r.emit(c.InteractionID, "queue.callback_restored", now, map[string]any{"queue": q.name,
			"wait_ms": now.Sub(p.EnqueuedAt).Milliseconds()}, nil)
		return nil
	})
}

// toCallback turns a waiting caller into a callback keeping its place.
func (r *Router) toCallback(rc context.Context, w *waiter, number string, now time.Time, why string, observe bool) error {
	w.cb = &cbState{number: number, expires: now.Add(w.q.callback.Expires)}
	w.entry.Callback = true
	w.entry.Expires = now.Add(entryTTL)
	if err := r.store.PutEntry(rc, w.entry); err != nil {
		r.log.Warn("callback entry not stored", "queue", w.q.name, "err", err)
	}
	if observe {
		r.m.wait.WithLabelValues(w.q.name, OutcomeCallback).Observe(now.Sub(w.entry.EnqueuedAt).Seconds())
	}
	pos, _ := r.position(rc, w, now)
	// What a restarted node needs to put the callback back in its place (the number
	// goes to the interaction's PHI column, never into the event's detail).
	r.emit(w.caller.InteractionID, "queue.callback", now, map[string]any{"queue": w.q.name, "why": why, "position": pos,
		"wait_ms": now.Sub(w.entry.EnqueuedAt).Milliseconds(), "priority": w.entry.Priority, "language": w.caller.Language,
		"enqueued_at": w.entry.EnqueuedAt.UTC().Format(time.RFC3339Nano), "expires_at": w.cb.expires.UTC().Format(time.RFC3339Nano)},
		&store.InteractionPatch{CallbackNumber: number})
	w.ticket.send(CallbackScheduled{Queue: w.q.name, Position: pos}, true)
	return nil
}

// leave removes a waiter from its queue and logs why.
func (r *Router) leave(rc context.Context, w *waiter, outcome string, now time.Time, observe bool, detail map[string]any) {
	delete(r.waiting, w.caller.InteractionID)
	if err := r.store.RemoveEntry(rc, w.entry.Queue, w.entry.ID); err != nil {
		r.log.Warn("queue entry not removed", "queue", w.q.name, "err", err)
	}
	wait := now.Sub(w.entry.EnqueuedAt)
	if observe {
		r.m.wait.WithLabelValues(w.q.name, outcome).Observe(wait.Seconds())
		if outcome == OutcomeAnswered && wait <= w.q.serviceLevel {
			r.m.inSL.WithLabelValues(w.q.name).Inc()
		}
	}
	d := map[string]any{"queue": w.q.name, "outcome": outcome, "wait_ms": wait.Milliseconds()}
	for k, v := range detail {
		d[k] = v
	}
	patch := &store.InteractionPatch{Queue: w.q.name}
	if a, ok := d["agent"].(string); ok {
		patch.AgentID = a
	}
	r.emit(w.caller.InteractionID, "queue.leave", now, d, patch)
}

// ---- the routing pass ----

func (r *Router) step(ctx context.Context) {
	now := r.clock.Now()
	r.loadAgents(ctx)
	r.sweep(ctx, now)
	for o := range r.offers {
		if !o.timedOut && !now.Before(o.deadline) {
			o.timedOut = true
			o.cancel()
		}
	}
	r.overflowDue(ctx, now)
	r.dispatch(ctx, now)
	r.refresh(ctx, now)
	r.announce(ctx, now)
	r.gauges(now)
	r.schedule(now)
}

func (r *Router) loadAgents(ctx context.Context) {
	recs, err := r.store.Agents(ctx)
	if err != nil {
		r.log.Warn("agent states not read", "err", err)
		return
	}
	r.agents = recs[:0:0]
	for _, rec := range recs {
		if r.spec.agents[rec.ID] != nil {
			r.agents = append(r.agents, rec)
		}
	}
}

func (r *Router) ownOffer(agent string) bool {
	for o := range r.offers {
		if o.agent.info.ID == agent {
			return true
		}
	}
	return false
}

// sweep ends wrap-ups that are due and releases agents whose offer was lost (its node
// vanished). Any node may do it; the store's compare-and-swap makes it happen once.
func (r *Router) sweep(ctx context.Context, now time.Time) {
	for _, rec := range r.agents {
		switch {
		case rec.State == WrapUp && !rec.Until.IsZero() && !now.Before(rec.Until):
			until := rec.Until
			r.update(ctx, rec.ID, now, func(cur AgentRecord, next *AgentRecord) error {
				if cur.State != WrapUp || !cur.Until.Equal(until) {
					return errNoChange
				}
				toReady(next, now, "wrap_up_done", true)
				return nil
			})
		case rec.State == Offered && !rec.Until.IsZero() && now.After(rec.Until) && !r.ownOffer(rec.ID):
			call := rec.Call
			r.update(ctx, rec.ID, now, func(cur AgentRecord, next *AgentRecord) error {
				if cur.State != Offered || cur.Call != call {
					return errNoChange
				}
				toReady(next, now, ReasonOfferLost, false)
				return nil
			})
		}
	}
}

func toReady(next *AgentRecord, now time.Time, reason string, resetIdle bool) {
	next.State, next.Reason, next.Since = Ready, reason, now
	next.Call, next.Queue, next.Node, next.Until = "", "", "", time.Time{}
	if resetIdle || next.IdleSince.IsZero() {
		next.IdleSince = now
	}
}

// effPriority applies anti-starvation: a caller waiting starvation_wait is urgent.
func effPriority(e Entry, q *queueSpec, now time.Time) int {
	if q != nil && now.Sub(e.EnqueuedAt) >= q.starvation {
		return 1
	}
	return e.Priority
}

func (r *Router) orderLess(a, b Entry, now time.Time) bool {
	pa, pb := effPriority(a, r.spec.queues[a.Queue], now), effPriority(b, r.spec.queues[b.Queue], now)
	if pa != pb {
		return pa > pb
	}
	return arrivedBefore(a, b)
}

func (r *Router) overflowDue(ctx context.Context, now time.Time) {
	for _, w := range r.sortedWaiters(now) {
		if w.offer != nil {
			continue
		}
		if w.cb != nil {
			if !now.Before(w.cb.expires) {
				r.leave(ctx, w, "callback_expired", now, false, map[string]any{"attempts": w.cb.attempts})
			}
			continue
		}
		if now.Sub(w.entry.EnqueuedAt) >= w.q.maxWait {
			r.overflow(ctx, w, now)
		}
	}
}

func (r *Router) overflow(ctx context.Context, w *waiter, now time.Time) {
	from, target := w.q, w.q.overflow
	upd := Overflow{From: from.name, Target: target}
	switch target.Kind {
	case config.OverflowQueue:
		to := r.spec.queues[target.Name]
		r.leave(ctx, w, OutcomeOverflowed, now, true, map[string]any{"target": target.String()})
		w.q = to
		w.entry.Queue, w.entry.Priority, w.entry.EnqueuedAt, w.entry.Expires = to.name, r.priorityIn(to, w.caller.Priority), now, now.Add(entryTTL)
		w.lastPos = Position{}
		if err := r.store.PutEntry(ctx, w.entry); err != nil {
			r.log.Warn("overflow entry not stored", "queue", to.name, "err", err)
		}
		r.waiting[w.caller.InteractionID] = w
		r.emit(w.caller.InteractionID, "queue.enter", now, map[string]any{"queue": to.name, "priority": w.entry.Priority,
			"language": w.caller.Language, "from": from.name}, &store.InteractionPatch{Queue: to.name})
		w.ticket.send(upd, false)
	case config.OverflowCallback:
		if w.caller.CallbackNumber != "" && r.cb != nil && from.callback != nil {
			r.m.wait.WithLabelValues(from.name, OutcomeOverflowed).Observe(now.Sub(w.entry.EnqueuedAt).Seconds())
			w.ticket.send(upd, false)
			_ = r.toCallback(ctx, w, w.caller.CallbackNumber, now, "max_wait", false)
			return
		}
		r.leave(ctx, w, OutcomeOverflowed, now, true, map[string]any{"target": target.String(), "note": "no callback number"})
		w.ticket.send(upd, true)
	default:
		r.leave(ctx, w, OutcomeOverflowed, now, true, map[string]any{"target": target.String()})
		w.ticket.send(upd, true)
	}
}

func (r *Router) sortedWaiters(now time.Time) []*waiter {
	ws := make([]*waiter, 0, len(r.waiting))
	for _, w := range r.waiting {
		ws = append(ws, w)
	}
	slices.SortFunc(ws, func(a, b *waiter) int {
		switch {
		case r.orderLess(a.entry, b.entry, now):
			return -1
		case r.orderLess(b.entry, a.entry, now):
			return 1
		}
		return 0
	})
	return ws
}

func (r *Router) hoursOpen(q string, now time.Time) bool {
	h := r.qhours[q]
	if h == nil {
		h = r.hours
	}
	return h == nil || h.IsOpen(now)
}

type candidate struct {
	a     *agentSpec
	rec   AgentRecord
	score time.Duration
	level int
}

// dispatch offers free agents to waiting callers, in caller order.
func (r *Router) dispatch(ctx context.Context, now time.Time) {
	free := map[string]AgentRecord{}
	for _, rec := range r.agents {
		if rec.State == Ready && rec.Call == "" {
			free[rec.ID] = rec
		}
	}
	if len(free) == 0 {
		return
	}
	registered := map[string]bool{}
	for _, w := range r.sortedWaiters(now) {
		if len(free) == 0 {
			return
		}
		if w.offer != nil {
			continue
		}
		if w.cb != nil && (now.Before(w.cb.notBefore) || !r.hoursOpen(w.q.name, now)) {
			continue
		}
		waited := now.Sub(w.entry.EnqueuedAt)
		var cands []candidate
		for id, rec := range free {
			a := r.spec.agents[id]
			if w.caller.Agent != "" {
				if id != w.caller.Agent {
					continue
				}
			} else if !w.q.eligible(a, w.caller.Language, waited) {
				continue
			}
			idle := rec.IdleSince
			if idle.IsZero() {
				idle = rec.Since
			}
			cands = append(cands, candidate{a: a, rec: rec, score: now.Sub(idle) + w.q.bonus(a, w.caller.Language), level: w.q.levelSum(a)})
		}
		slices.SortFunc(cands, func(x, y candidate) int {
			if c := cmp.Compare(y.score, x.score); c != 0 {
				return c // longest idle (plus preference bonus) first
			}
			if c := cmp.Compare(y.level, x.level); c != 0 {
				return c // then the higher skill level
			}
			return strings.Compare(x.a.info.ID, y.a.info.ID)
		})
		for _, c := range cands {
			id := c.a.info.ID
			reg, seen := registered[id]
			if !seen {
				reg = r.presence.Registered(ctx, c.a.info.SIPUser)
				registered[id] = reg
			}
			if !reg {
				delete(free, id)
				continue
			}
			delete(free, id)
			if r.launch(ctx, w, c.a, now) {
				break
			}
		}
	}
}

// launch claims agent a for w and starts ringing it (or the callback). It reports
// whether the claim succeeded.
func (r *Router) launch(ctx context.Context, w *waiter, a *agentSpec, now time.Time) bool {
	q := w.q
	o := &offer{w: w, q: q, agent: a, started: now, deadline: now.Add(q.ringTimeout)}
	if w.cb != nil {
		o.callback = store.NewID()
		o.deadline = now.Add(q.ringTimeout + callbackExtra)
	}
	prev := r.recordOf(a.info.ID)
	rec, err := r.store.Claim(ctx, a.info.ID, Claim{Call: w.entry.ID, Queue: q.name, Node: r.node, Now: now,
		Until: o.deadline.Add(staleOfferWait)})
	if err != nil {
		if !errors.Is(err, ErrNotAvailable) {
			r.log.Warn("claim failed", "agent", a.info.ID, "err", err)
		}
		return false
	}
	r.agentChanged(prev, rec, now)
	octx, cancel := context.WithCancel(r.runCtx)
	o.cancel = cancel
	w.offer = o
	w.offers++
	r.offers[o] = struct{}{}
	iid := w.caller.InteractionID
	r.emit(iid, "queue.offer", now, map[string]any{"queue": q.name, "agent": a.info.ID, "attempt": w.offers,
		"callback": w.cb != nil, "wait_ms": now.Sub(w.entry.EnqueuedAt).Milliseconds()}, nil)
	r.wg.Add(1)
	if w.cb != nil {
		req := CallbackRequest{InteractionID: o.callback, For: iid, Queue: q.name, Agent: a.info, Number: w.cb.number,
			Language: w.caller.Language, Attempt: w.cb.attempts + 1, RingTimeout: q.ringTimeout}
		go func() {
			defer r.wg.Done()
			defer cancel()
			if r.optouts != nil {
				out, err := r.optouts.OptedOut(octx, req.Number)
				if err != nil || out {
					r.post(func(rc context.Context) error { r.callbackDone(rc, o, CallbackResult{}, err, out, true); return nil })
					return
				}
			}
			res, err := r.cb.Callback(octx, req)
			r.post(func(rc context.Context) error { r.callbackDone(rc, o, res, err, false, false); return nil })
		}()
		return true
	}
	w.ticket.send(Offering{Agent: a.info}, false)
	off := Offer{InteractionID: iid, Queue: q.name, Agent: a.info, Language: w.caller.Language, Priority: w.entry.Priority,
		RingTimeout: q.ringTimeout, Attempt: w.offers}
	go func() {
		defer r.wg.Done()
		defer cancel()
		res, err := r.conn.Offer(octx, off)
		r.post(func(rc context.Context) error { r.offerDone(rc, o, res, err); return nil })
	}()
	return true
}

func (r *Router) recordOf(id string) AgentRecord {
	for _, rec := range r.agents {
		if rec.ID == id {
			return rec
		}
	}
	return AgentRecord{ID: id}
}

// normalize turns a Connector's answer into an outcome the Router acts on.
func normalize(o *offer, res OfferResult, err error) OfferResult {
	if err != nil && res.Outcome == "" {
		res = OfferResult{Outcome: Failed, Reason: ReasonUnreachable}
	}
	switch res.Outcome {
	case Answered, NoAnswer, Rejected:
	case Failed:
		if res.Reason != ReasonNoCodec {
			res.Reason = ReasonUnreachable
		}
	default:
		res = OfferResult{Outcome: NoAnswer}
	}
	if o.timedOut && res.Outcome != Answered {
		res = OfferResult{Outcome: NoAnswer}
	}
	return res
}

func (r *Router) offerDone(ctx context.Context, o *offer, res OfferResult, err error) {
	delete(r.offers, o)
	w := o.w
	if w.offer == o {
		w.offer = nil
	}
	now := r.clock.Now()
	if err != nil && !errors.Is(err, context.Canceled) {
		r.log.Warn("offer failed", "queue", o.q.name, "agent", o.agent.info.ID, "err", err)
	}
	res = normalize(o, res, err)
	aid := o.agent.info.ID
	iid := w.caller.InteractionID
	if res.Outcome == Answered {
		r.m.offers.WithLabelValues(o.q.name, string(Answered)).Inc()
		r.toOnCall(ctx, o, w.entry.ID, now)
		c := &call{id: iid, agent: aid, queue: o.q.name}
		r.calls[iid] = c
		r.emit(iid, "queue.answer", now, map[string]any{"queue": o.q.name, "agent": aid, "ring_ms": now.Sub(o.started).Milliseconds(),
			"wait_ms": now.Sub(w.entry.EnqueuedAt).Milliseconds()}, &store.InteractionPatch{Queue: o.q.name, AgentID: aid})
		if o.callerGone { // the caller hung up while the agent answered
			_ = r.endCall(ctx, c, now)
			return
		}
		r.est[o.q.name].answered(now, r.busySince(o.q.name, w, r.est[o.q.name].lastAnswer))
		r.leave(ctx, w, OutcomeAnswered, now, true, map[string]any{"agent": aid})
		w.ticket.send(Connected{Agent: o.agent.info}, true)
		return
	}
	result := string(res.Outcome)
	if o.callerGone {
		result = resultCancelled
	}
	r.m.offers.WithLabelValues(o.q.name, result).Inc()
	r.emit(iid, "queue.offer_result", now, map[string]any{"queue": o.q.name, "agent": aid, "result": result,
		"reason": res.Reason, "ring_ms": now.Sub(o.started).Milliseconds()}, nil)
	if o.callerGone {
		r.release(ctx, o, now, "offer_cancelled", false)
		return
	}
	r.penalize(ctx, o, res, now)
}

// busySince reports whether another caller of queue q has waited since t or longer.
func (r *Router) busySince(q string, except *waiter, t time.Time) bool {
	if t.IsZero() {
		return false
	}
	for _, w := range r.waiting {
		if w != except && w.cb == nil && w.entry.Queue == q && !w.entry.EnqueuedAt.After(t) {
			return true
		}
	}
	return false
}

// penalize moves an agent who did not take an offer to away with the reason.
func (r *Router) penalize(ctx context.Context, o *offer, res OfferResult, now time.Time) {
	reason := res.Reason
	switch res.Outcome {
	case NoAnswer:
		reason = ReasonRONA
		r.m.rona.WithLabelValues(o.q.name).Inc()
		r.emit(o.w.caller.InteractionID, "agent.rona", now, map[string]any{"queue": o.q.name, "agent": o.agent.info.ID,
			"ring_ms": now.Sub(o.started).Milliseconds()}, nil)
	case Rejected:
		reason = ReasonRejected
	}
	call := o.w.entry.ID
	r.update(ctx, o.agent.info.ID, now, func(cur AgentRecord, next *AgentRecord) error {
		if cur.State != Offered || cur.Call != call {
			return errNoChange
		}
		next.State, next.Reason, next.Since = Away, reason, now
		next.Call, next.Queue, next.Node, next.Until = "", "", "", time.Time{}
		return nil
	})
}

// release returns an offered agent to ready (not its fault), keeping its idle time
// unless resetIdle.
func (r *Router) release(ctx context.Context, o *offer, now time.Time, reason string, resetIdle bool) {
	call := o.w.entry.ID
	r.update(ctx, o.agent.info.ID, now, func(cur AgentRecord, next *AgentRecord) error {
		if cur.State != Offered || cur.Call != call {
			return errNoChange
		}
		toReady(next, now, reason, resetIdle)
		return nil
	})
}

func (r *Router) toOnCall(ctx context.Context, o *offer, claimed string, now time.Time) {
	callID := claimed
	if o.callback != uuid.Nil {
		callID = o.callback.String()
	}
	_, _, err := r.update(ctx, o.agent.info.ID, now, func(cur AgentRecord, next *AgentRecord) error {
		if cur.State != Offered || cur.Call != claimed {
			return fmt.Errorf("agent is %s for %q", cur.State, cur.Call)
		}
		next.State, next.Reason, next.Since, next.Until = OnCall, "answered", now, time.Time{}
		next.Call, next.Queue, next.Node = callID, o.q.name, r.node
		return nil
	})
	if err != nil {
		r.log.Error("answered offer but agent record moved on", "agent", o.agent.info.ID, "queue", o.q.name, "err", err)
	}
}

func (r *Router) callbackDone(ctx context.Context, o *offer, res CallbackResult, err error, optedOut, checkOnly bool) {
	delete(r.offers, o)
	w := o.w
	if w.offer == o {
		w.offer = nil
	}
	now := r.clock.Now()
	aid := o.agent.info.ID
	iid := w.caller.InteractionID
	if checkOnly {
		r.release(ctx, o, now, "offer_cancelled", false)
		if optedOut {
			r.m.offers.WithLabelValues(o.q.name, resultCancelled).Inc()
			r.leave(ctx, w, "callback_cancelled", now, false, map[string]any{"reason": "opted_out"})
			return
		}
		r.log.Warn("opt-out check failed; callback postponed", "queue", o.q.name, "err", err)
		w.cb.notBefore = now.Add(optOutRetry)
		return
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		r.log.Warn("callback failed", "queue", o.q.name, "agent", aid, "err", err)
	}
	ar := normalize(o, res.Agent, err)
	r.m.offers.WithLabelValues(o.q.name, string(ar.Outcome)).Inc()
	r.emit(iid, "queue.callback_attempt", now, map[string]any{"queue": o.q.name, "agent": aid, "callback_id": o.callback.String(),
		"attempt": w.cb.attempts + 1, "agent_result": string(ar.Outcome), "reason": ar.Reason, "patient": string(res.Patient)}, nil)
	if ar.Outcome != Answered {
		r.penalize(ctx, o, ar, now)
		return
	}
	if res.Patient == PatientAnswered {
		r.toOnCall(ctx, o, w.entry.ID, now)
		r.calls[o.callback] = &call{id: o.callback, agent: aid, queue: o.q.name}
		r.emit(o.callback, "queue.callback_connected", now, map[string]any{"queue": o.q.name, "agent": aid, "for": iid.String()},
			&store.InteractionPatch{Kind: "callback", Direction: "outbound", Queue: o.q.name, AgentID: aid, Language: w.caller.Language})
		r.leave(ctx, w, "callback_connected", now, false, map[string]any{"agent": aid, "callback_id": o.callback.String()})
		return
	}
	r.release(ctx, o, now, "callback_not_reached", true)
	w.cb.attempts++
	if w.cb.attempts > w.q.callback.Retries {
		r.leave(ctx, w, "callback_failed", now, false, map[string]any{"attempts": w.cb.attempts})
		return
	}
	w.cb.notBefore = now.Add(w.q.callback.RetryDelay)
}

func (r *Router) endCall(ctx context.Context, c *call, now time.Time) error {
	delete(r.calls, c.id)
	q := r.spec.queues[c.queue]
	wrap := time.Duration(0)
	if q != nil {
		wrap = q.wrapUp
	}
	id := c.id.String()
	_, _, err := r.update(ctx, c.agent, now, func(cur AgentRecord, next *AgentRecord) error {
		if cur.State != OnCall || cur.Call != id {
			return errNoChange
		}
		if wrap <= 0 {
			toReady(next, now, "call_ended", true)
			return nil
		}
		next.State, next.Reason, next.Since, next.Until = WrapUp, "call_ended", now, now.Add(wrap)
		return nil
	})
	if err != nil {
		return err
	}
	if wrap > 0 {
		r.emit(c.id, "agent.wrap_up", now, map[string]any{"agent": c.agent, "queue": c.queue, "wrap_up_ms": wrap.Milliseconds()},
			&store.InteractionPatch{AgentID: c.agent})
	}
	return nil
}

// refresh keeps this node's entries alive in the shared store.
func (r *Router) refresh(ctx context.Context, now time.Time) {
	if len(r.waiting) == 0 || now.Before(r.nextRefresh) {
		return
	}
	for _, w := range r.waiting {
		w.entry.Expires = now.Add(entryTTL)
		if err := r.store.PutEntry(ctx, w.entry); err != nil {
			r.log.Warn("queue entry not refreshed", "queue", w.q.name, "err", err)
		}
	}
	r.nextRefresh = now.Add(entryTTL / 3)
}

// position returns w's place (1-based) in its queue across nodes and the queue length.
func (r *Router) position(ctx context.Context, w *waiter, now time.Time) (int, int) {
	es, err := r.store.Entries(ctx, w.q.name, now)
	if err != nil {
		return 0, 0
	}
	r.sortEntries(es, now)
	for i, e := range es {
		if e.ID == w.entry.ID {
			return i + 1, len(es)
		}
	}
	return 0, len(es)
}

// sortEntries puts entries in serving order at now (anti-starvation applied).
func (r *Router) sortEntries(es []Entry, now time.Time) {
	slices.SortStableFunc(es, func(a, b Entry) int {
		switch {
		case r.orderLess(a, b, now):
			return -1
		case r.orderLess(b, a, now):
			return 1
		}
		return 0
	})
}

// staffed reports whether an agent who could serve queue q (role and base skills) is
// logged in and not away.
func (r *Router) staffed(q *queueSpec) (ready, staffed int) {
	for _, rec := range r.agents {
		a := r.spec.agents[rec.ID]
		if a == nil || !meets(a, q.role) || !meets(a, q.base) {
			continue
		}
		switch rec.State {
		case Ready:
			ready++
			staffed++
		case Offered, OnCall, WrapUp:
			staffed++
		}
	}
	return ready, staffed
}

// announce sends Position updates to waiting callers whose place or estimate changed.
func (r *Router) announce(ctx context.Context, now time.Time) {
	byQueue := map[string][]*waiter{}
	for _, w := range r.waiting {
		if w.cb == nil {
			byQueue[w.q.name] = append(byQueue[w.q.name], w)
		}
	}
	for qn, ws := range byQueue {
		es, err := r.store.Entries(ctx, qn, now)
		if err != nil {
			r.log.Warn("queue entries not read", "queue", qn, "err", err)
			continue
		}
		_, staffed := r.staffed(r.spec.queues[qn])
		r.sortEntries(es, now)
		idx := map[string]int{}
		for i, e := range es {
			idx[e.ID] = i + 1
		}
		for _, w := range ws {
			pos := idx[w.entry.ID]
			if pos == 0 {
				continue
			}
			p := Position{Queue: qn, Position: pos, Waiting: len(es), Estimate: r.est[qn].estimate(pos, now, staffed > 0)}
			if p != w.lastPos {
				w.lastPos = p
				w.ticket.send(p, false)
			}
		}
	}
}

func (r *Router) gauges(now time.Time) {
	counts := map[string]int{}
	oldest := map[string]time.Duration{}
	for _, w := range r.waiting {
		if w.cb != nil {
			continue
		}
		counts[w.q.name]++
		oldest[w.q.name] = max(oldest[w.q.name], now.Sub(w.entry.EnqueuedAt))
	}
	for _, q := range r.spec.queueNames {
		r.m.waiting.WithLabelValues(q).Set(float64(counts[q]))
		r.m.oldest.WithLabelValues(q).Set(oldest[q].Seconds())
	}
	states := map[State]int{}
	for _, rec := range r.agents {
		states[rec.State]++
	}
	for _, s := range States {
		r.m.agents.WithLabelValues(string(s)).Set(float64(states[s]))
	}
	r.m.states.set(now, r.clock.Now, states)
}

// schedule sets the timer for the next instant something is due.
func (r *Router) schedule(now time.Time) {
	var next time.Time
	at := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, w := range r.waiting {
		if w.offer != nil {
			continue
		}
		if w.cb != nil {
			at(w.cb.notBefore)
			at(w.cb.expires)
			continue
		}
		e := w.entry.EnqueuedAt
		at(e.Add(w.q.maxWait))
		if w.entry.Priority == 0 {
			at(e.Add(w.q.starvation))
		}
		for _, st := range w.q.steps {
			at(e.Add(st.after))
		}
	}
	for o := range r.offers {
		if !o.timedOut {
			at(o.deadline)
		}
	}
	for _, rec := range r.agents {
		if rec.State == WrapUp || rec.State == Offered {
			at(rec.Until.Add(time.Millisecond))
		}
	}
	if len(r.waiting) > 0 {
		at(r.nextRefresh)
		at(now.Add(r.poll))
	}
	if next.IsZero() || next.Equal(r.timerAt) && r.timer != nil {
		return
	}
	if r.timer != nil {
		r.timer.Stop()
	}
	r.timerAt = next
	r.timer = r.clock.AfterFunc(next.Sub(now), r.Kick)
}

// ---- agent side ----

var errNoChange = errors.New("no change")

// update applies f to the agent's current record and stores the result, retrying when
// another writer got there first. f returns errNoChange to leave the record alone.
func (r *Router) update(ctx context.Context, id string, now time.Time, f func(cur AgentRecord, next *AgentRecord) error) (AgentRecord, AgentRecord, error) {
	for range 8 {
		cur, err := r.store.Agent(ctx, id)
		if err != nil {
			return cur, cur, err
		}
		next := cur
		if err := f(cur, &next); err != nil {
			if errors.Is(err, errNoChange) {
				return cur, cur, nil
			}
			return cur, cur, err
		}
		if next.State != cur.State {
			if err := CheckTransition(id, cur.State, next.State); err != nil {
				return cur, cur, err
			}
		}
		stored, err := r.store.Swap(ctx, next)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return cur, cur, err
		}
		r.agentChanged(cur, stored, now)
		return cur, stored, nil
	}
	return AgentRecord{}, AgentRecord{}, fmt.Errorf("routing: agent %s: %w (gave up)", id, ErrConflict)
}

// agentChanged logs a state change and updates the cached record.
func (r *Router) agentChanged(prev, next AgentRecord, now time.Time) {
	for i := range r.agents {
		if r.agents[i].ID == next.ID {
			r.agents[i] = next
		}
	}
	if prev.State == next.State && prev.Reason == next.Reason {
		return
	}
	callID := next.Call
	if callID == "" {
		callID = prev.Call
	}
	iid, _ := uuid.Parse(callID)
	queue := next.Queue
	if queue == "" {
		queue = prev.Queue
	}
	r.emit(iid, "agent.state", now, map[string]any{"agent": next.ID, "from": string(prev.State), "to": string(next.State),
		"reason": next.Reason, "queue": queue}, nil)
	r.log.Info("agent state", "agent", next.ID, "from", prev.State, "to", next.State, "reason", next.Reason)
}

func (r *Router) emit(iid uuid.UUID, typ string, at time.Time, detail map[string]any, patch *store.InteractionPatch) {
	if r.events == nil {
		return
	}
	if err := r.events.Append(store.Event{InteractionID: iid, Type: typ, At: at, Detail: detail, Interaction: patch}); err != nil {
		r.log.Warn("routing event not logged", "type", typ, "err", err)
	}
}
