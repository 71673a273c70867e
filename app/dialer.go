package app

// dialer.go wires the outbound dialer (package dialer, which knows no SIP, media, IVR
// or routing) to real calls:
//
//   - callDialer (dialer.Dialer) places the call with call.Handler.Dial on the
//     campaign's trunk and caller ID and maps sip.Classified errors to dialer results;
//   - outboundCall (dialer.Call) gives AMD the answered leg's audio (a media.FrameSink
//     feeding 20 ms frames to a channel), plays prompts with an optional key wait, and
//     hangs up;
//   - flowRunner (dialer.FlowRunner) runs the campaign's IVR flow on the outbound
//     call with the interpreter inbound calls use, in the patient's language, and turns
//     the business events of the nodes it went through into a disposition (see
//     flowOutcomes); a queue outcome goes to the ACD like an inbound call;
//   - agentPool (dialer.AgentPool) counts ready agents of the campaign's queue from
//     Router.Agents and connects a live patient by queueing the call through the ACD
//     (bridge, recording, wrap-up as for inbound) with the 2-second deadline.
//
// One dialer.Runner runs per configured campaign; they share the gate, the metrics
// and one limiter per trunk.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/careline/careline/calendar"
	"github.com/careline/careline/call"
	"github.com/careline/careline/config"
	"github.com/careline/careline/dialer"
	"github.com/careline/careline/internal/httpx"
	"github.com/careline/careline/ivr"
	"github.com/careline/careline/media"
	"github.com/careline/careline/recordings"
	"github.com/careline/careline/routing"
	"github.com/careline/careline/sip"
	"github.com/careline/careline/store"
	"github.com/google/uuid"
)

// Flow events that name a campaign call's outcome. A node of an outbound flow carries
// one as its event: the disposition is that of the last such node the patient reached
// (a node the patient hung up in still counts: they chose it). dialer.opt_out also
// records the opt-out; it cannot be undone by a later node.
var flowOutcomes = map[string]dialer.Disposition{
	"refill.requested":                 dialer.RefillRequested,
	"appointment.confirmed":            dialer.Confirmed,
	"appointment.cancelled":            dialer.Cancelled,
	"appointment.reschedule_requested": dialer.RescheduleRequested,
	"patient.wrong_number":             dialer.WrongNumber,
	"dialer.transferred":               dialer.Transferred,
	EventOptOut:                        dialer.OptedOut,
}

// EventOptOut is the flow event of the node a patient reaches by asking for no more
// calls.
const EventOptOut = "dialer.opt_out"

// DialerNode is the dialer part of a running node.
type DialerNode struct {
	Campaigns map[string]*dialer.Campaign
	Control   *dialer.Control // nil without Postgres
	Metrics   *dialer.Metrics
	runners   []*dialer.Runner
	log       *slog.Logger

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// Runners returns the campaign runners (one per campaign; none without Postgres).
func (d *DialerNode) Runners() []*dialer.Runner { return d.runners }

// eventTap forwards events to the interaction log and shows those of watched
// interactions to their watchers (a campaign call's flow and agent outcomes).
type eventTap struct {
	next  ivr.EventLog
	mu    sync.Mutex
	watch map[uuid.UUID]func(store.Event)
}

func newEventTap(next ivr.EventLog) *eventTap {
	return &eventTap{next: next, watch: map[uuid.UUID]func(store.Event){}}
}

// Append implements ivr.EventLog and routing.EventLog.
func (t *eventTap) Append(ev store.Event) error {
	err := t.next.Append(ev)
	t.mu.Lock()
	f := t.watch[ev.InteractionID]
	t.mu.Unlock()
	if f != nil {
		f(ev)
	}
	return err
}

// Watch calls f (which must not block) with every event of interaction id until the
// returned function is called.
func (t *eventTap) Watch(id uuid.UUID, f func(store.Event)) func() {
	t.mu.Lock()
	t.watch[id] = f
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		delete(t.watch, id)
		t.mu.Unlock()
	}
}

// eventTap returns the tap every flow and routing event goes through.
func (a *App) eventTap() *eventTap {
	if a.tap == nil {
		a.tap = newEventTap(a.Log)
	}
	return a.tap
}

// ---- dialer.Dialer ----

// outboundDialer places answered outbound legs (*call.Handler).
type outboundDialer interface {
	Dial(ctx context.Context, o call.DialOptions) (*call.Call, error)
}

// callDialer implements dialer.Dialer with call.Handler.Dial.
type callDialer struct {
	h         outboundDialer
	campaigns map[string]*dialer.Campaign
}

// Dial implements dialer.Dialer.
func (d *callDialer) Dial(ctx context.Context, req dialer.DialRequest) (dialer.Call, error) {
	display, lang := "", ""
	if c := d.campaigns[req.Campaign]; c != nil {
		display, lang = c.PharmacyName, c.Language
	}
	c, err := d.h.Dial(ctx, call.DialOptions{Interaction: req.AttemptID, Role: "patient", Target: req.To, Trunk: req.Trunk,
		FromUser: req.CallerID, FromDisplay: display, RingTimeout: req.RingTimeout, Language: lang})
	if err != nil {
		return nil, dialError(err)
	}
	return newOutboundCall(c, c.Session()), nil
}

func (d *callDialer) String() string { return "callDialer" }

// Numbers that do not exist: never tried again.
var deadNumberStatus = []int{404, 410, 484, 604}

// dialError maps call.Handler.Dial's errors (sip.Classified, no common codec, ...) to
// a *dialer.DialError.
func dialError(err error) *dialer.DialError {
	de := &dialer.DialError{Result: dialer.DialUnreachable, Retryable: true, Err: err}
	var ce sip.Classified
	switch {
	case errors.Is(err, call.ErrNoCommonCodec):
		de.Result, de.Status = dialer.DialRejected, 488 // our trunk's codecs: not the number's fault
	case errors.As(err, &ce):
		de.Status = ce.SIPStatus()
		switch ce.Kind() {
		case sip.KindBusy:
			de.Result = dialer.DialBusy
		case sip.KindNoAnswer:
			de.Result = dialer.DialNoAnswer
		case sip.KindRejected:
			de.Result = dialer.DialRejected
			de.Retryable = !slices.Contains(deadNumberStatus, de.Status)
		case sip.KindTimeout:
			de.Result = dialer.DialTimeout
		case sip.KindCancelled:
			de.Result = dialer.DialCancelled
		}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		de.Result = dialer.DialCancelled
	}
	return de
}

// ---- dialer.Call ----

// outboundLeg is what outboundCall needs of an answered call (*call.Call).
type outboundLeg interface {
	ivr.Channel
	FlushDigits()
	Done() <-chan struct{}
}

// outboundCall implements dialer.Call over an answered outbound leg.
type outboundCall struct {
	leg   outboundLeg
	audio *audioTap
}

// newOutboundCall taps the session's received audio for AMD.
func newOutboundCall(leg outboundLeg, sess interface {
	SetSink(media.FrameSink) media.FrameSink
}) *outboundCall {
	tap := newAudioTap(leg.Done())
	if sess != nil {
		sess.SetSink(tap)
	}
	return &outboundCall{leg: leg, audio: tap}
}

// Audio implements dialer.Call.
func (o *outboundCall) Audio() dialer.Audio { return o.audio }

// Play implements dialer.Call: the prompts in lang (a key stops them), then a wait of
// up to wait for a key. Keys pressed before the message are dropped.
func (o *outboundCall) Play(ctx context.Context, lang string, ids []string, wait time.Duration) (string, error) {
	o.leg.FlushDigits()
	refs := make([]ivr.PromptRef, len(ids))
	for i, id := range ids {
		refs[i] = ivr.PromptRef{ID: id, Lang: lang}
	}
	res, err := o.leg.Play(ctx, ivr.Playback{Prompts: refs, BargeIn: true})
	if err != nil {
		return "", err
	}
	if !res.Interrupted && wait <= 0 {
		return "", nil
	}
	if res.Interrupted {
		wait = time.Second // the key that stopped the playback is queued
	}
	d, err := o.leg.Collect(ctx, ivr.CollectSpec{Max: 1, Min: 1, FirstDigitTimeout: wait})
	if err != nil {
		return "", err
	}
	return d.Value, nil
}

// Hangup implements dialer.Call.
func (o *outboundCall) Hangup(ctx context.Context) error { return o.leg.Hangup(ctx) }

func (o *outboundCall) String() string { return "outboundCall" }

// audioTap is a media.FrameSink that hands received 20 ms frames to AMD (dialer.Audio).
// When nobody reads, frames are dropped (the receive goroutine never blocks).
type audioTap struct {
	frames chan []int16
	done   <-chan struct{}
}

// audioBacklog is how many frames (20 ms each) wait for a reader before frames drop.
const audioBacklog = 500

func newAudioTap(done <-chan struct{}) *audioTap {
	return &audioTap{frames: make(chan []int16, audioBacklog), done: done}
}

// WriteFrame implements media.FrameSink.
func (a *audioTap) WriteFrame(f media.Frame) error {
	select {
	case a.frames <- slices.Clone(f.Samples):
	default:
	}
	return nil
}

// ReadFrame implements dialer.Audio: io.EOF once the call has ended.
func (a *audioTap) ReadFrame(ctx context.Context) ([]int16, error) {
	select {
	case f := <-a.frames:
		return f, nil
	case <-a.done:
		return nil, io.EOF
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// String implements media.FrameSink.
func (a *audioTap) String() string { return "DialerAudioTap" }

// ---- dialer.FlowRunner ----

// queueServer puts a live call in a queue (*call.ACD).
type queueServer interface {
	ServeWith(ctx context.Context, c *call.Call, req ivr.QueueRequest, o call.ServeOptions) error
}

// flowInterpreter runs flows (*ivr.Interpreter).
type flowInterpreter interface {
	Run(ctx context.Context, flow string, ch ivr.Channel, info ivr.CallInfo) (ivr.Outcome, error)
}

// flowRunner implements dialer.FlowRunner with the IVR interpreter.
type flowRunner struct {
	in    flowInterpreter
	tap   *eventTap
	acd   queueServer
	flows map[string]*config.Flow
	log   *slog.Logger
}

// flowWatch collects the outcome events of one flow run.
type flowWatch struct {
	events map[string]string // node → its outcome event
	mu     sync.Mutex
	res    dialer.FlowResult
}

func newFlowWatch(f *config.Flow) *flowWatch {
	w := &flowWatch{events: map[string]string{}}
	if f != nil {
		for name, n := range f.Nodes {
			if n != nil {
				if _, ok := flowOutcomes[n.Event]; ok {
					w.events[name] = n.Event
				}
			}
		}
	}
	return w
}

// observe sees the run's events: a node with an outcome event that exits normally or
// by the patient's hang-up sets the disposition.
func (w *flowWatch) observe(ev store.Event) {
	if ev.Type != ivr.EventNodeExit {
		return
	}
	node, _ := ev.Detail["node"].(string)
	exit, _ := ev.Detail["exit"].(string)
	name, ok := w.events[node]
	if !ok || (exit != "ok" && exit != "hangup" && exit != "no_value") {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.res.OptOut {
		return
	}
	w.res.Disposition = flowOutcomes[name]
	w.res.OptOut = name == EventOptOut
}

func (w *flowWatch) result() dialer.FlowResult {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.res
}

// RunFlow implements dialer.FlowRunner.
func (f *flowRunner) RunFlow(ctx context.Context, dc dialer.Call, req dialer.FlowRequest) (dialer.FlowResult, error) {
	oc, ok := dc.(*outboundCall)
	if !ok {
		return dialer.FlowResult{}, errors.New("engine: a flow can only run on a call the engine placed")
	}
	ch := oc.leg
	if req.Language != "" {
		ch.SetLanguage(req.Language)
	}
	w := newFlowWatch(f.flows[req.Flow])
	stop := f.tap.Watch(req.AttemptID, w.observe)
	out, err := f.in.Run(ctx, req.Flow, ch, ivr.CallInfo{InteractionID: req.AttemptID, Vars: req.Vars})
	res := w.result()
	if out.Kind == ivr.OutcomeQueue && out.Queue != nil && !out.CallerHangup && !res.OptOut {
		if c, ok := ch.(*call.Call); ok && f.acd != nil {
			if serr := f.acd.ServeWith(ctx, c, *out.Queue, call.ServeOptions{}); serr != nil && !errors.Is(serr, call.ErrHangup) {
				f.log.Warn("dialer: queueing a campaign call failed", "campaign", req.Campaign, "queue", out.Queue.Name, "err", serr)
			}
		}
		if res.Disposition == "" {
			res.Disposition = dialer.Transferred
		}
	}
	stop()
	if err != nil && res.Disposition == "" {
		return res, fmt.Errorf("engine: campaign flow %s: %w", req.Flow, err)
	}
	return res, nil
}

// ---- dialer.AgentPool ----

// agentSource reads agents and queues (*routing.Router).
type agentSource interface {
	Agents(ctx context.Context) ([]routing.AgentStatus, error)
	Queues(ctx context.Context) ([]routing.QueueStatus, error)
}

// reservations counts agents reserved by the campaigns of this node, per queue.
type reservations struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *reservations) add(queue string, d int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[string]int{}
	}
	r.n[queue] = max(0, r.n[queue]+d)
}

func (r *reservations) count(queue string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[queue]
}

// agentPool implements dialer.AgentPool over a routing queue. A reservation is a
// count held here (routing offers calls, it cannot hold an agent for a call not yet
// answered): the ready agents of the queue, less the callers waiting in it and the
// reservations of this node's campaigns, are what a campaign may dial for.
type agentPool struct {
	src     agentSource
	acd     queueServer
	tap     *eventTap
	queue   string
	require map[string]int
	res     *reservations
	wrapUp  time.Duration
	log     *slog.Logger

	mu   sync.Mutex
	busy map[uuid.UUID]time.Time
}

func (p *agentPool) String() string { return "agentPool(" + p.queue + ")" }

func eligible(skills, require map[string]int) bool {
	for s, lvl := range require {
		if skills[s] < lvl {
			return false
		}
	}
	return true
}

// Snapshot implements dialer.AgentPool.
func (p *agentPool) Snapshot() dialer.AgentSnapshot {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var s dialer.AgentSnapshot
	as, err := p.src.Agents(ctx)
	if err != nil {
		p.log.Warn("dialer: cannot read agents", "queue", p.queue, "err", err)
		return s
	}
	for _, a := range as {
		if a.State == routing.Ready && eligible(a.Skills, p.require) {
			s.Ready++
		}
	}
	if qs, err := p.src.Queues(ctx); err == nil {
		for _, q := range qs {
			if q.Name == p.queue {
				s.Ready -= q.Waiting
			}
		}
	}
	s.Ready = max(0, s.Ready-p.res.count(p.queue))
	p.mu.Lock()
	for _, t := range p.busy {
		s.Busy = append(s.Busy, time.Since(t))
	}
	p.mu.Unlock()
	return s
}

// TryReserve implements dialer.AgentPool.
func (p *agentPool) TryReserve() (dialer.Agent, bool) {
	if p.Snapshot().Ready <= 0 {
		return nil, false
	}
	p.res.add(p.queue, 1)
	return &poolAgent{p: p}, true
}

// Reserve implements dialer.AgentPool.
func (p *agentPool) Reserve(ctx context.Context) (dialer.Agent, error) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if a, ok := p.TryReserve(); ok {
			return a, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", dialer.ErrNoAgent, ctx.Err())
		case <-t.C:
		}
	}
}

// poolAgent is one reservation.
type poolAgent struct {
	p    *agentPool
	once sync.Once
}

// Release implements dialer.Agent.
func (a *poolAgent) Release() { a.once.Do(func() { a.p.res.add(a.p.queue, -1) }) }

// agentDisposition maps a routing disposition name (queue dispositions such as
// refill_requested) to a dialer disposition; anything else is transferred.
func agentDisposition(name string) dialer.Disposition {
	d := dialer.Disposition(strings.ReplaceAll(name, "_", "-"))
	switch d {
	case dialer.Confirmed, dialer.Cancelled, dialer.RescheduleRequested, dialer.RefillRequested, dialer.Transferred,
		dialer.OptedOut, dialer.WrongNumber:
		return d
	}
	return dialer.Transferred
}

// Connect implements dialer.Agent: the call joins the queue (the ACD rings the next
// agent, bridges, records, and takes the wrap-up disposition) and must be connected
// by info.ConnectBy; Connect returns after the agent's disposition (or the wrap-up
// time).
func (a *poolAgent) Connect(ctx context.Context, dc dialer.Call, info dialer.ConnectInfo) (dialer.Disposition, error) {
	p := a.p
	// The reservation holds until an agent answers (or the call leaves the queue):
	// until then the ready agent it stands for must not be counted for another dial.
	defer a.Release()
	oc, ok := dc.(*outboundCall)
	var c *call.Call
	if ok {
		c, ok = oc.leg.(*call.Call)
	}
	if !ok {
		return "", errors.New("engine: only a call the engine placed can be connected to an agent")
	}
	if info.Language != "" {
		c.SetLanguage(info.Language)
	}
	var mu sync.Mutex
	answered, disposition := false, ""
	got := make(chan struct{}, 1)
	stop := p.tap.Watch(info.AttemptID, func(ev store.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch ev.Type {
		case "queue.answer":
			answered = true
			a.Release()
		case "agent.disposition":
			disposition, _ = ev.Detail["disposition"].(string)
			select {
			case got <- struct{}{}:
			default:
			}
		}
	})
	defer stop()
	p.mu.Lock()
	p.busy[info.AttemptID] = time.Now()
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.busy, info.AttemptID)
		p.mu.Unlock()
	}()
	err := p.acd.ServeWith(ctx, c, ivr.QueueRequest{Name: p.queue, Language: info.Language, Reason: "campaign:" + info.Campaign},
		call.ServeOptions{ConnectBy: info.ConnectBy})
	mu.Lock()
	wasAnswered := answered
	mu.Unlock()
	switch {
	case errors.Is(err, call.ErrNoAgent), err == nil && !wasAnswered:
		// No agent in time, or the patient left before one came: abandoned.
		return "", fmt.Errorf("%w: queue %s", dialer.ErrNoAgent, p.queue)
	case err != nil && !errors.Is(err, call.ErrHangup):
		return "", err
	}
	wait := time.NewTimer(p.wrapUp + 15*time.Second)
	defer wait.Stop()
	select {
	case <-got:
	case <-wait.C:
	case <-ctx.Done():
	}
	mu.Lock()
	defer mu.Unlock()
	return agentDisposition(disposition), nil
}

// ---- wiring ----

// buildDialer builds the campaigns, their runners and the campaign API.
func (a *App) buildDialer() error {
	cfg := a.cfg
	if len(cfg.Campaigns) == 0 {
		return nil
	}
	cals := cfg.Calendars()
	camps, err := dialer.CampaignsFromConfig(cfg, func(name string) (*calendar.Calendar, bool) {
		c := cals[name]
		return c, c != nil
	})
	if err != nil {
		return fmt.Errorf("engine: campaigns: %w", err)
	}
	log := a.log.With("component", "dialer")
	d := &DialerNode{Campaigns: camps, Metrics: dialer.NewMetrics(a.reg), log: log}
	a.Dialer = d
	if a.pool == nil {
		log.Warn("campaigns need store.database_url: the dialer is off")
		return nil
	}
	users, err := recordings.UsersFromConfig(cfg.Users)
	if err != nil {
		return fmt.Errorf("engine: users: %w", err)
	}
	authn := recordings.NewAuthenticator(users, a.opts.Now)
	d.Control = dialer.NewControl(a.pool, camps, dialer.WithControlClock(a.opts.Now), dialer.WithControlLogger(log),
		dialer.WithActor(func(r *http.Request) string {
			if u, ok := r.Context().Value(apiUserKey{}).(recordings.User); ok {
				return "api:" + u.ID
			}
			return "api"
		}))
	d.Control.Register(supervisorMux{m: a.HTTP, authn: authn})

	rules, err := dialer.RulesFromConfig(cfg.Dialer)
	if err != nil {
		return fmt.Errorf("engine: dialer: %w", err)
	}
	gate := dialer.NewGate(rules, dialer.WithGateMetrics(d.Metrics))
	trunks := map[string]*dialer.Limiter{}
	for name, t := range cfg.Trunks {
		if t != nil {
			trunks[name] = dialer.NewLimiter(t.MaxChannels, t.MaxCPS)
		}
	}
	dl := &callDialer{h: a.Calls, campaigns: camps}
	flows := &flowRunner{in: a.IVR, tap: a.eventTap(), acd: a.ACD, flows: cfg.Flows, log: log}
	res := &reservations{}
	for _, name := range sortedNames(camps) {
		c := camps[name]
		opts := []dialer.RunnerOption{dialer.WithDialer(dl), dialer.WithEvents(a.Log), dialer.WithClock(a.opts.Now),
			dialer.WithLogger(log), dialer.WithMetrics(d.Metrics), dialer.WithGate(gate), dialer.WithNode(a.Router.Node()),
			dialer.WithDrain(cfg.SIP.DrainTimeout)}
		if l := trunks[c.Trunk]; l != nil {
			opts = append(opts, dialer.WithTrunkLimiter(l))
		}
		if a.opts.DialerPoll > 0 {
			opts = append(opts, dialer.WithPollInterval(a.opts.DialerPoll))
		}
		if a.opts.DialerLease > 0 {
			opts = append(opts, dialer.WithLease(a.opts.DialerLease))
		}
		switch c.Pacing {
		case dialer.Agentless:
			opts = append(opts, dialer.WithFlows(flows))
		default:
			var require map[string]int
			var wrap time.Duration
			if q := cfg.Queues[c.Queue]; q != nil {
				require, wrap = q.Require, q.WrapUp
			}
			opts = append(opts, dialer.WithAgents(&agentPool{src: a.Router, acd: a.ACD, tap: a.eventTap(), queue: c.Queue,
				require: require, res: res, wrapUp: wrap, log: log, busy: map[uuid.UUID]time.Time{}}))
		}
		r, err := dialer.NewRunner(c, a.pool, opts...)
		if err != nil {
			return fmt.Errorf("engine: campaign %s: %w", name, err)
		}
		d.runners = append(d.runners, r)
	}
	return nil
}

// startDialer records the configured campaigns in Postgres (new ones stopped,
// existing ones keep their state) and starts the runners; a runner that fails (e.g.
// Postgres down at start) is restarted.
func (a *App) startDialer(ctx context.Context) {
	d := a.Dialer
	if d == nil || len(d.runners) == 0 {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if err := dialer.SyncCampaigns(sctx, a.pool, d.Campaigns); err != nil {
		d.log.Warn("campaign states not recorded yet (each runner retries)", "err", err)
	}
	cancel()
	rctx, rcancel := context.WithCancel(context.WithoutCancel(ctx))
	d.mu.Lock()
	d.cancel, d.done = rcancel, make(chan struct{})
	done := d.done
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range d.runners {
		wg.Go(func() {
			for {
				err := r.Run(rctx)
				if rctx.Err() != nil {
					return
				}
				d.log.Error("dialer: runner stopped; restarting", "runner", r.String(), "err", err)
				select {
				case <-rctx.Done():
					return
				case <-time.After(5 * time.Second):
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	d.log.Info("dialer started", "campaigns", len(d.runners))
}

// stopDialing stops new dials; calls in progress go on (drain).
func (a *App) stopDialing() {
	if d := a.Dialer; d != nil {
		d.mu.Lock()
		if d.cancel != nil {
			d.cancel()
		}
		d.mu.Unlock()
	}
}

// waitDialer waits until every runner has stored the outcome of its last call.
func (a *App) waitDialer(ctx context.Context) {
	d := a.Dialer
	if d == nil {
		return
	}
	d.mu.Lock()
	done := d.done
	d.mu.Unlock()
	if done == nil {
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
		d.log.Warn("shutdown: campaign calls still running at the deadline")
	}
}

// apiUserKey holds the authenticated API user in a request's context.
type apiUserKey struct{}

// supervisorMux mounts handlers behind bearer-token authentication for supervisors
// and admins (the users of the routing and recordings APIs).
type supervisorMux struct {
	m     dialer.Mux
	authn *recordings.Authenticator
}

func (s supervisorMux) Handle(pattern string, h http.Handler) {
	s.m.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := s.authn.Authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="careline"`)
			httpx.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "a valid bearer token is required", "code": "unauthenticated"})
			return
		}
		if u.Role != recordings.RoleSupervisor && u.Role != recordings.RoleAdmin {
			httpx.WriteJSON(w, http.StatusForbidden, map[string]string{"error": "supervisors and admins only", "code": "forbidden"})
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), apiUserKey{}, u)))
	}))
}

var (
	_ dialer.Dialer     = (*callDialer)(nil)
	_ dialer.Call       = (*outboundCall)(nil)
	_ dialer.FlowRunner = (*flowRunner)(nil)
	_ dialer.AgentPool  = (*agentPool)(nil)
	_ media.FrameSink   = (*audioTap)(nil)
	_ queueServer       = (*call.ACD)(nil)
	_ agentSource       = (*routing.Router)(nil)
)

// ---- configuration checks ----

// ValidateCampaigns runs dialer.ValidateCampaigns with what the rest of careline
// knows: each campaign flow's summary (what a live answer hears until the first key is
// asked for, and which keys of that menu opt out), the schedules and queues, and
// prompt durations read from the prompt WAVs.
func ValidateCampaigns(cfg *config.Config) config.Issues {
	if len(cfg.Campaigns) == 0 {
		return nil
	}
	cals := cfg.Calendars()
	var durs dialer.PromptDuration
	var is config.Issues
	if st, err := os.Stat(cfg.Prompts.Dir); err == nil && st.IsDir() {
		durs = promptDurations(cfg.Prompts.Dir)
	} else {
		is = append(is, config.Issue{File: cfg.File(), Path: "prompts.dir", Severity: config.Warning,
			Msg: "prompt folder not found: campaign message lengths are not checked", Fix: "run from the folder that holds prompts/"})
	}
	is = append(is, dialer.ValidateCampaigns(cfg, dialer.ValidateEnv{
		Flows: func(name string) (dialer.FlowSummary, bool) {
			f := cfg.Flows[name]
			if f == nil {
				return dialer.FlowSummary{}, false
			}
			return FlowSummary(f), true
		},
		Schedules: func(name string) bool { return cals[name] != nil },
		Queues:    func(name string) bool { return cfg.Queues[name] != nil },
		Durations: durs,
	})...)
	is = cfg.Locate(is)
	is.Sort()
	return is
}

// FlowSummary walks an outbound flow from its start through play, say and
// set_language nodes to the first node that asks for a key (a menu, or anything
// else), collecting what the patient hears; the menu's options whose path reaches a
// node with event dialer.opt_out (through play/say/set_language/hangup nodes) are the
// opt-out keys. A say of appointment_at counts as the appointment date and time, of
// callback_number as the callback number.
func FlowSummary(f *config.Flow) dialer.FlowSummary {
	var s dialer.FlowSummary
	seen := map[string]bool{}
	for name := f.Start; name != "" && !seen[name]; {
		seen[name] = true
		n := f.Nodes[name]
		if n == nil {
			break
		}
		switch {
		case n.Play != nil:
			s.Message = append(s.Message, n.Play.Prompts...)
			for _, l := range n.Play.PlayIn {
				s.Message = append(s.Message, l.Prompt)
			}
		case n.Say != nil:
			s.Message = append(s.Message, n.Say.Before...)
			switch n.Say.Var {
			case "appointment_at":
				s.Message = append(s.Message, dialer.SayAppointment)
			case "callback_number":
				s.Message = append(s.Message, dialer.SayCallback)
			}
			s.Message = append(s.Message, n.Say.After...)
		case n.SetLanguage != nil:
		case n.Menu != nil:
			s.Message = append(s.Message, n.Menu.Prompts...)
			for _, l := range n.Menu.PlayIn {
				s.Message = append(s.Message, l.Prompt)
			}
			for _, key := range sortedNames(n.Menu.Options) {
				if o := n.Menu.Options[key]; o != nil && optsOut(f, o.Next) {
					s.OptOutKeys = append(s.OptOutKeys, key)
				}
			}
			return s
		default:
			return s
		}
		name = n.Next
	}
	return s
}

// optsOut reports whether the path from node name reaches a dialer.opt_out node
// before the patient is asked anything else.
func optsOut(f *config.Flow, name string) bool {
	seen := map[string]bool{}
	for name != "" && !seen[name] {
		seen[name] = true
		n := f.Nodes[name]
		if n == nil {
			return false
		}
		if n.Event == EventOptOut {
			return true
		}
		if n.Play == nil && n.Say == nil && n.SetLanguage == nil {
			return false
		}
		name = n.Next
	}
	return false
}

// promptDurations reads prompt lengths from <dir>/<lang>/<id>.wav (8 kHz mono
// 16-bit), once each.
func promptDurations(dir string) dialer.PromptDuration {
	var mu sync.Mutex
	cache := map[string]time.Duration{}
	return func(lang, id string) (time.Duration, bool) {
		key := lang + "/" + id
		mu.Lock()
		defer mu.Unlock()
		if d, ok := cache[key]; ok {
			return d, d >= 0
		}
		d := time.Duration(-1)
		if f, err := os.Open(filepath.Join(dir, lang, filepath.FromSlash(id)+".wav")); err == nil {
			if pcm, err := media.DecodeWAV(f); err == nil {
				d = time.Duration(len(pcm)) * time.Second / media.SampleRate
			}
			f.Close()
		}
		cache[key] = d
		return d, d >= 0
	}
}
