package call

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/careline/careline/config"
	"github.com/careline/careline/ivr"
	"github.com/careline/careline/media"
	"github.com/careline/careline/routing"
	"github.com/careline/careline/say"
	"github.com/careline/careline/sip"
	"github.com/careline/careline/store"
	"github.com/google/uuid"
)

// Recorder taps a bridged call (recordings.Recorder fits through an adapter).
type Recorder interface {
	Left() media.FrameSink  // the patient
	Right() media.FrameSink // the agent
	Close(ctx context.Context) error
}

// RecordingStarter starts a recording for a bridged call, or returns nil when the
// queue's policy says not to record. The consent notice has already been played.
type RecordingStarter interface {
	StartCall(ctx context.Context, interaction uuid.UUID, queue, lang string) (Recorder, error)
	// NoticeRequired reports whether calls in queue are recorded (so the recording
	// notice must be played first).
	NoticeRequired(queue string) bool
}

// ACDOptions configures an ACD.
type ACDOptions struct {
	Handler *Handler
	Config  *config.Config
	// Voicemail stores messages left on overflow; nil apologises instead.
	Voicemail ivr.VoicemailStore
	// Recordings records bridged calls; nil records nothing.
	Recordings RecordingStarter
	// CallbackTrunk is the trunk patient callbacks go out on (numbers that are not SIP
	// URIs); empty: the first trunk with an address.
	CallbackTrunk string
	// AnnounceEvery is how often position/wait announcements repeat (default 45 s).
	AnnounceEvery time.Duration
	Logger        *slog.Logger
}

// ACD connects queue outcomes of IVR flows to routing and to agents' phones. It is the
// routing package's Connector and Callbacker: it rings agents, keeps waiting callers
// company (hold music, position and estimated wait in their language, the offer of a
// callback that keeps their place), bridges a caller with the agent who answers, and
// handles hold, blind transfer, an agent who vanishes, and wrap-up dispositions.
type ACD struct {
	o      ACDOptions
	h      *Handler
	router *routing.Router
	log    *slog.Logger
	agents map[string]string // SIP user → agent id

	mu      sync.Mutex
	waiting map[uuid.UUID]*waiter
	active  map[string]*activeCall // bridged calls by agent id (for monitoring)
}

type agentLeg struct {
	c      *Call
	agent  routing.AgentInfo
	events chan sip.Event
}

type waiter struct {
	c       *Call
	handoff chan *agentLeg
}

// NewACD builds the ACD; SetRouter completes it.
func NewACD(o ACDOptions) *ACD {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.AnnounceEvery == 0 {
		o.AnnounceEvery = 45 * time.Second
	}
	a := &ACD{o: o, h: o.Handler, log: o.Logger, waiting: map[uuid.UUID]*waiter{}, agents: map[string]string{},
		active: map[string]*activeCall{}}
	for id, ag := range o.Config.Agents {
		if ag != nil {
			a.agents[ag.SIP.User] = id
		}
	}
	if a.o.CallbackTrunk == "" {
		for _, name := range sortedTrunks(o.Config) {
			if o.Config.Trunks[name].Address != "" {
				a.o.CallbackTrunk = name
				break
			}
		}
	}
	return a
}

func sortedTrunks(cfg *config.Config) []string {
	var out []string
	for k := range cfg.Trunks {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// SetRouter gives the ACD its router (they are created in that order, each needing
// the other).
func (a *ACD) SetRouter(r *routing.Router) { a.router = r }

// AgentID maps a SIP user to an agent id.
func (a *ACD) AgentID(sipUser string) (string, bool) {
	id, ok := a.agents[sipUser]
	return id, ok
}

// ---- routing.Connector ----

func dialOutcome(err error) routing.OfferResult {
	if errors.Is(err, ErrNoCommonCodec) {
		return routing.OfferResult{Outcome: routing.Failed, Reason: routing.ReasonNoCodec}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return routing.OfferResult{Outcome: routing.NoAnswer}
	}
	var ce sip.Classified
	if errors.As(err, &ce) {
		switch ce.Kind() {
		case sip.KindBusy:
			return routing.OfferResult{Outcome: routing.Rejected}
		case sip.KindNoAnswer, sip.KindCancelled:
			return routing.OfferResult{Outcome: routing.NoAnswer}
		case sip.KindRejected:
			if s := ce.SIPStatus(); s == 603 || s == 486 {
				return routing.OfferResult{Outcome: routing.Rejected}
			}
		}
	}
	return routing.OfferResult{Outcome: routing.Failed, Reason: routing.ReasonUnreachable}
}

// Offer implements routing.Connector: ring the agent and, on answer, hand the agent's
// leg to the waiting caller's goroutine, which bridges them.
func (a *ACD) Offer(ctx context.Context, o routing.Offer) (routing.OfferResult, error) {
	a.mu.Lock()
	w := a.waiting[o.InteractionID]
	a.mu.Unlock()
	if w == nil {
		return routing.OfferResult{Outcome: routing.Failed, Reason: routing.ReasonUnreachable}, errors.New("call: caller no longer waiting")
	}
	leg, err := a.dialAgent(ctx, o.InteractionID, o.Agent, w.c.DID(), o.Queue, o.RingTimeout)
	if err != nil {
		res := dialOutcome(err)
		a.log.Info("agent not reached", "agent", o.Agent.ID, "queue", o.Queue, "outcome", string(res.Outcome), "reason", res.Reason)
		return res, nil
	}
	select {
	case w.handoff <- leg:
		return routing.OfferResult{Outcome: routing.Answered}, nil
	default:
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = leg.c.Hangup(hctx)
		cancel()
		return routing.OfferResult{Outcome: routing.Failed, Reason: routing.ReasonUnreachable}, errors.New("call: caller left while the agent answered")
	}
}

func (a *ACD) dialAgent(ctx context.Context, iid uuid.UUID, ag routing.AgentInfo, from, queue string, ring time.Duration) (*agentLeg, error) {
	leg := &agentLeg{agent: ag, events: make(chan sip.Event, 8)}
	if ring > 0 {
		ring += 5 * time.Second // routing cancels at its own ring timeout; this is a backstop
	}
	c, err := a.h.Dial(ctx, DialOptions{Interaction: iid, Role: "agent", User: ag.SIPUser, FromUser: from,
		FromDisplay: "careline " + queue, RingTimeout: ring, Language: a.o.Config.DefaultLanguage(),
		OnEvent: func(ev sip.Event) {
			select {
			case leg.events <- ev:
			default:
			}
		}})
	if err != nil {
		return nil, err
	}
	leg.c = c
	return leg, nil
}

// ---- the caller's side ----

// Serve runs a caller's time in a queue until the call ends: waiting, connected to an
// agent, re-queued, or taken to voicemail or a callback.
func (a *ACD) Serve(ctx context.Context, c *Call, req ivr.QueueRequest) error {
	return a.ServeWith(ctx, c, req, ServeOptions{})
}

// ErrNoAgent is returned by ServeWith when no agent came on the line by
// ServeOptions.ConnectBy; the call has left the queue and is still up.
var ErrNoAgent = errors.New("call: no agent on the line in time")

// ServeOptions tune ServeWith for an answered outbound call (the dialer).
type ServeOptions struct {
	// ConnectBy, when set, is when an agent must be on the line: if none is by then
	// the call leaves the queue (abandoned) and ServeWith returns ErrNoAgent with the
	// call still up, so the dialer can play its identification and opt-out message
	// (the 2-second rule). It applies to the first wait only.
	ConnectBy time.Time
}

// ServeWith is Serve with options.
func (a *ACD) ServeWith(ctx context.Context, c *Call, req ivr.QueueRequest, so ServeOptions) error {
	if a.router == nil {
		_, err := c.PlayIDs(ctx, false, "common/technical_difficulty")
		return err
	}
	queue := req.Name
	prio := 0
	if req.Priority == ivr.PriorityUrgent {
		prio = 1
	}
	var placeAt time.Time // the caller's place in line survives a re-queue
	toAgent := ""         // after a transfer to one agent: only that agent
	intro := []string{transferPrompt(queue)}
	noticed := false
	if a.o.Recordings != nil && a.o.Recordings.NoticeRequired(queue) {
		// Consent: the recording notice plays in the caller's language while they wait,
		// before any agent audio can be recorded.
		intro = append([]string{"main/recording_notice"}, intro...)
		noticed = true
		c.LogEvent(store.Event{Type: "recording.consent_notice", Detail: map[string]any{"queue": queue}})
	}
	for {
		if placeAt.IsZero() {
			placeAt = a.h.o.Now()
		}
		// The waiter is registered before Enqueue: routing may offer the call to an agent
		// at once.
		w := &waiter{c: c, handoff: make(chan *agentLeg, 1)}
		a.mu.Lock()
		a.waiting[c.ID] = w
		a.mu.Unlock()
		t, err := a.router.Enqueue(ctx, routing.Caller{InteractionID: c.ID, Queue: queue, Language: c.Language(),
			Priority: prio, EnqueuedAt: placeAt, CallbackNumber: c.leg.Remote().User, Agent: toAgent})
		if err != nil {
			a.mu.Lock()
			delete(a.waiting, c.ID)
			a.mu.Unlock()
			a.log.Error("enqueue failed", "queue", queue, "err", err)
			_, perr := c.PlayIDs(ctx, false, "common/technical_difficulty")
			return errors.Join(err, perr)
		}
		res, leg, next := a.wait(ctx, c, t, w, queue, intro, so.ConnectBy)
		so.ConnectBy = time.Time{}
		a.mu.Lock()
		delete(a.waiting, c.ID)
		a.mu.Unlock()
		switch res {
		case waitDone:
			return nil
		case waitNoAgent:
			return ErrNoAgent
		case waitConnected:
			if !noticed && a.o.Recordings != nil && a.o.Recordings.NoticeRequired(queue) {
				// Re-queued into a recorded queue: the notice still comes first.
				_, _ = c.PlayIDs(ctx, false, "main/recording_notice")
				c.LogEvent(store.Event{Type: "recording.consent_notice", Detail: map[string]any{"queue": queue}})
				noticed = true
			}
			end, target := a.bridge(ctx, c, leg, t, queue)
			switch end {
			case bridgeAgentVanished:
				// Apology, then back in line at the head: the original place is kept.
				intro, toAgent = []string{"queue/reconnect"}, ""
				continue
			case bridgeTransfer:
				// To a queue, or to one agent through the current queue (its timers and
				// overflow still apply).
				if id, ok := strings.CutPrefix(target, agentTargetPrefix); ok {
					toAgent, placeAt, intro = id, time.Time{}, []string{"transfer/generic"}
				} else {
					queue, toAgent, placeAt, intro = target, "", time.Time{}, []string{transferPrompt(target)}
				}
				continue
			}
			return nil
		case waitRequeue:
			queue, intro, toAgent = next, nil, ""
		}
	}
}

func transferPrompt(queue string) string {
	switch queue {
	case "pharmacist", "appointments", "billing", "coordinator", "nurse":
		return "transfer/" + queue
	}
	return "transfer/generic"
}

type waitResult int

const (
	waitDone waitResult = iota
	waitConnected
	waitRequeue
	waitNoAgent
)

func (a *ACD) wait(ctx context.Context, c *Call, t *routing.Ticket, w *waiter, queue string, intro []string, connectBy time.Time) (waitResult, *agentLeg, string) {
	hold := startHold(ctx, c, c.resolveAll(intro...), c.resolve("", "queue/hold_music"))
	defer hold.stop()
	abandon := func() {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = t.Abandon(actx)
		cancel()
	}
	var lastAnnounce time.Time
	var offerC <-chan time.Time
	qc := a.o.Config.Queues[queue]
	if qc != nil && qc.Callback != nil {
		after := qc.Callback.OfferAfter
		if after <= 0 {
			after = 60 * time.Second
		}
		tm := time.NewTimer(after)
		defer tm.Stop()
		offerC = tm.C
	}
	callbackOffered := false
	var deadline <-chan time.Time
	if !connectBy.IsZero() {
		tm := time.NewTimer(time.Until(connectBy))
		defer tm.Stop()
		deadline = tm.C
	}
	for {
		select {
		case <-ctx.Done():
			abandon()
			return waitDone, nil, ""
		case <-deadline:
			// An agent answering right now still gets the call: the handoff wins.
			select {
			case leg := <-w.handoff:
				hold.stop()
				return waitConnected, leg, ""
			default:
			}
			abandon()
			// An offer that was answering as the caller left hands over a leg nobody
			// takes: hang it up (routing has ended that call for the agent).
			go func() {
				select {
				case leg := <-w.handoff:
					hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
					_ = leg.c.Hangup(hctx)
					cancel()
				case <-time.After(10 * time.Second):
				}
			}()
			return waitNoAgent, nil, ""
		case <-c.Gone():
			abandon()
			return waitDone, nil, ""
		case <-offerC:
			offerC = nil
			callbackOffered = true
			hold.announce(c.resolveAll("queue/callback_offer"))
		case ev, ok := <-c.sess.DTMF():
			if !ok {
				abandon()
				return waitDone, nil, ""
			}
			if ev.Digit == '1' && callbackOffered {
				if err := t.RequestCallback(ctx, ""); err != nil {
					a.log.Info("callback not available", "queue", queue, "err", err)
					hold.announce(c.resolveAll("menu/invalid"))
				}
			}
		case u, ok := <-t.Updates():
			if !ok {
				if c.leg.Context().Err() != nil {
					return waitDone, nil, ""
				}
				hold.stop()
				_, _ = c.PlayIDs(ctx, false, "common/technical_difficulty")
				return waitDone, nil, ""
			}
			switch u := u.(type) {
			case routing.Position:
				if now := time.Now(); lastAnnounce.IsZero() || now.Sub(lastAnnounce) >= a.o.AnnounceEvery {
					lastAnnounce = now
					hold.announce(positionPrompts(c, u))
				}
			case routing.Connected:
				select {
				case leg := <-w.handoff:
					hold.stop()
					return waitConnected, leg, ""
				case <-time.After(5 * time.Second):
					a.log.Error("connected without an agent leg")
					return waitDone, nil, ""
				}
			case routing.Overflow:
				switch u.Target.Kind {
				case config.OverflowQueue:
					c.LogEvent(store.Event{Type: "queue.overflow", Detail: map[string]any{"from": u.From, "to": u.Target.Name}})
					queue = u.Target.Name
				case config.OverflowVoicemail:
					hold.stop()
					a.voicemail(ctx, c, u.Target.Name)
					return waitDone, nil, ""
				case config.OverflowCallback:
					// A CallbackScheduled follows when the caller's number is known;
					// otherwise the channel closes and the caller leaves a message.
					if c.leg.Remote().User == "" || !callerIDPresent(c.leg.Remote().User) {
						hold.stop()
						a.voicemail(ctx, c, "")
						return waitDone, nil, ""
					}
				}
			case routing.CallbackScheduled:
				hold.stop()
				_, _ = c.PlayIDs(ctx, false, "callback/keep_place_confirmed")
				return waitDone, nil, ""
			}
		}
	}
}

func positionPrompts(c *Call, u routing.Position) []*media.Prompt {
	lang := say.Lang(c.Language())
	var ids []string
	if u.Position <= 1 {
		ids = append(ids, "queue/next_in_line")
	} else {
		ids = append(ids, "queue/position_prefix")
		ids = append(ids, say.Number(lang, int64(u.Position))...)
		ids = append(ids, "queue/position_suffix")
	}
	if u.Estimate.Known {
		m := int64((u.Estimate.Wait + time.Minute - 1) / time.Minute)
		if m <= 1 && u.Estimate.Wait < time.Minute {
			ids = append(ids, "queue/wait_under_minute")
		} else {
			ids = append(ids, "queue/wait_prefix")
			ids = append(ids, say.Count(lang, m, say.Minute)...)
		}
	}
	return c.resolveAll(ids...)
}

func (c *Call) resolveAll(ids ...string) []*media.Prompt {
	out := make([]*media.Prompt, 0, len(ids))
	for _, id := range ids {
		out = append(out, c.resolve("", id))
	}
	return out
}

// voicemail takes a message for box (overflow) and stores it.
func (a *ACD) voicemail(ctx context.Context, c *Call, box string) {
	if a.o.Voicemail == nil {
		_, _ = c.PlayIDs(ctx, false, "common/technical_difficulty")
		return
	}
	if _, err := c.PlayIDs(ctx, false, "queue/overflow", "voicemail/instructions", "tone/beep"); err != nil {
		return
	}
	rec, err := c.Record(ctx, ivr.RecordSpec{MaxDuration: 2 * time.Minute, Silence: 5 * time.Second, Terminators: "#"})
	if err != nil || len(rec.PCM) == 0 {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	id, err := a.o.Voicemail.Save(sctx, ivr.VoicemailMeta{InteractionID: c.ID, Box: box, Language: c.Language(),
		Caller: c.leg.Remote().User, At: a.h.o.Now()}, rec)
	if err != nil {
		a.log.Error("voicemail not saved", "err", err)
		_, _ = c.PlayIDs(ctx, false, "common/technical_difficulty")
		return
	}
	c.LogEvent(store.Event{Type: "voicemail.saved", Detail: map[string]any{"box": box, "recording": id}})
	if rec.End != ivr.RecordHangup {
		_, _ = c.PlayIDs(ctx, false, "voicemail/saved")
	}
}

// ---- bridged ----

type bridgeEnd int

const (
	bridgePatientHangup bridgeEnd = iota
	bridgeAgentHangup
	bridgeAgentVanished
	bridgeTransfer
)

func (a *ACD) bridge(ctx context.Context, c *Call, leg *agentLeg, t *routing.Ticket, queue string) (bridgeEnd, string) {
	bg := context.WithoutCancel(ctx)
	var rec Recorder
	if a.o.Recordings != nil && a.o.Recordings.NoticeRequired(queue) {
		r, err := a.o.Recordings.StartCall(bg, c.ID, queue, c.Language())
		if err != nil {
			a.log.Error("recording not started", "queue", queue, "err", err)
		}
		rec = r
	}
	opts := media.BridgeOptions{}
	if rec != nil {
		opts.TapA, opts.TapB = rec.Left(), rec.Right()
		defer func() {
			cctx, cancel := context.WithTimeout(bg, 10*time.Second)
			_ = rec.Close(cctx)
			cancel()
		}()
	}
	br := media.NewBridge(c.sess, leg.c.sess, opts)
	br.Start()
	c.LogEvent(store.Event{Type: "bridge.started", Detail: map[string]any{"agent": leg.agent.ID, "queue": queue,
		"mode": br.String()}, Interaction: &store.InteractionPatch{AgentID: leg.agent.ID, Queue: queue}})
	ac := &activeCall{patient: c, agent: leg, monitor: make(chan *monitorReq)}
	a.mu.Lock()
	a.active[leg.agent.ID] = ac
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		if a.active[leg.agent.ID] == ac {
			delete(a.active, leg.agent.ID)
		}
		a.mu.Unlock()
	}()
	var mon *monitoring
	stopMonitor := func(restartBridge bool) {
		if mon == nil {
			return
		}
		mon.stop()
		c.LogEvent(store.Event{Type: "monitor.ended", Detail: map[string]any{"mode": string(mon.req.mode),
			"supervisor": mon.req.supervisor, "agent": leg.agent.ID}})
		mon = nil
		if restartBridge {
			br = media.NewBridge(c.sess, leg.c.sess, opts)
			br.Start()
		}
	}
	var monDone <-chan struct{}
	ended := func() {
		stopMonitor(false)
		br.Stop()
		hctx, cancel := context.WithTimeout(bg, 5*time.Second)
		_ = t.Hangup(hctx)
		cancel()
		c.LogEvent(store.Event{Type: "bridge.ended", Detail: map[string]any{"agent": leg.agent.ID}})
	}
	var held *holdPlayer
	for {
		select {
		case <-c.Gone():
			if held != nil {
				held.stop()
			}
			ended()
			go a.wrapUp(bg, leg)
			return bridgePatientHangup, ""
		case <-leg.c.Gone():
			if held != nil {
				held.stop()
			}
			ended()
			if leg.c.EndReason() == EndMediaTimeout {
				a.log.Warn("agent leg lost (no media); re-queueing the caller at the head", "agent", leg.agent.ID)
				c.LogEvent(store.Event{Type: "queue.requeue", Detail: map[string]any{"queue": queue, "reason": "agent_lost"}})
				return bridgeAgentVanished, ""
			}
			return bridgeAgentHangup, ""
		case req := <-ac.monitor:
			if mon != nil || held != nil {
				close(req.done) // already monitored, or on hold: refuse
				continue
			}
			br.Stop()
			m, err := startMonitoring(bg, c, leg, req, opts)
			if err != nil {
				a.log.Error("monitoring not started", "err", err)
				close(req.done)
				br = media.NewBridge(c.sess, leg.c.sess, opts)
				br.Start()
				continue
			}
			mon, monDone = m, m.supDone
			c.LogEvent(store.Event{Type: "monitor.started", Detail: map[string]any{"mode": string(req.mode),
				"supervisor": req.supervisor, "agent": leg.agent.ID, "mix": m.mix.String()}})
		case <-monDone:
			monDone = nil
			stopMonitor(true)
		case ev := <-leg.events:
			switch e := ev.(type) {
			case sip.MediaUpdateEvent:
				hctx, cancel := context.WithTimeout(bg, 2*time.Second)
				_ = a.router.Hold(hctx, c.ID, e.Hold)
				cancel()
				if e.Hold && held == nil {
					br.Stop()
					held = startHold(ctx, c, nil, c.resolve("", "queue/hold_music"))
				} else if !e.Hold && held != nil {
					held.stop()
					held = nil
					br = media.NewBridge(c.sess, leg.c.sess, opts)
					br.Start()
				}
			case sip.ReferEvent:
				target, code, reason := a.transferTarget(bg, referTarget(e.Target), leg.agent.ID)
				if code != 0 {
					_ = leg.c.leg.ReferResult(bg, code, reason)
					continue
				}
				hctx, cancel := context.WithTimeout(bg, 2*time.Second)
				_ = a.router.Transfer(hctx, c.ID, strings.TrimPrefix(target, agentTargetPrefix))
				cancel()
				_ = leg.c.leg.ReferResult(bg, 200, "OK")
				if held != nil {
					held.stop()
				}
				ended()
				hctx, cancel = context.WithTimeout(bg, 5*time.Second)
				_ = leg.c.Hangup(hctx)
				cancel()
				return bridgeTransfer, target
			}
		}
	}
}

// agentTargetPrefix marks a transfer target that is one agent rather than a queue.
const agentTargetPrefix = "agent:"

// transferTarget resolves the user part of a Refer-To: a queue name, or an agent by id
// or SIP user ("agent:<id>"). A code is returned for a REFER to refuse: 404 for
// nothing known (or the transferring agent itself), 480 for an agent not logged in.
func (a *ACD) transferTarget(ctx context.Context, user, from string) (target string, code int, reason string) {
	if _, ok := a.o.Config.Queues[user]; ok {
		return user, 0, ""
	}
	id := a.agents[user] // by SIP user (extension)
	if _, ok := a.o.Config.Agents[user]; ok {
		id = user // by agent id
	}
	if id == "" || id == from {
		return "", 404, "Not Found"
	}
	hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := a.router.Agent(hctx, id)
	if err != nil || st.State == routing.LoggedOut {
		return "", 480, "Temporarily Unavailable"
	}
	return agentTargetPrefix + id, 0, ""
}

// referTarget extracts the user part of a Refer-To URI ("<sip:pharmacist@host>").
func referTarget(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimSuffix(s, ">"), "<")
	if i := strings.Index(s, ":"); i >= 0 {
		s = s[i+1:]
	}
	if i := strings.IndexAny(s, "@;?"); i >= 0 {
		s = s[:i]
	}
	return s
}

// wrapUp keeps the agent's leg after the caller hung up to take a disposition code by
// DTMF ("enter the disposition code, then pound"), then hangs it up.
func (a *ACD) wrapUp(ctx context.Context, leg *agentLeg) {
	c := leg.c
	defer func() {
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_ = c.Hangup(hctx)
		cancel()
	}()
	if _, err := c.PlayIDs(ctx, true, "agent/enter_disposition"); err != nil {
		return
	}
	d, err := c.Collect(ctx, ivr.CollectSpec{Max: 3, Terminators: "#", FirstDigitTimeout: 10 * time.Second,
		InterDigitTimeout: 3 * time.Second})
	if err != nil || d.Value == "" {
		return
	}
	if _, err := a.router.DispositionDigits(ctx, leg.agent.ID, d.Value); err != nil {
		_, _ = c.PlayIDs(ctx, false, "agent/invalid_code")
		return
	}
	_, _ = c.PlayIDs(ctx, false, "agent/disposition_saved")
}

// ---- routing.Callbacker ----

// Callback implements routing.Callbacker: ring the agent, then the patient, then bridge
// them in the background and report the end with Router.Hangup.
func (a *ACD) Callback(ctx context.Context, req routing.CallbackRequest) (routing.CallbackResult, error) {
	now := a.h.o.Now()
	a.h.append(req.InteractionID, store.Event{Type: "callback.started", At: now,
		Detail: map[string]any{"for": req.For.String(), "queue": req.Queue, "attempt": req.Attempt},
		Interaction: &store.InteractionPatch{Kind: "callback", Direction: "outbound", StartedAt: &now,
			Queue: req.Queue, RemoteParty: req.Number, Language: req.Language}})
	leg, err := a.dialAgent(ctx, req.InteractionID, req.Agent, "", req.Queue, req.RingTimeout)
	if err != nil {
		res := routing.CallbackResult{Agent: dialOutcome(err)}
		a.h.ended(req.InteractionID, a.log, now, "agent_"+string(res.Agent.Outcome), "callback")
		return res, nil
	}
	_, _ = leg.c.PlayIDs(ctx, false, "common/one_moment")
	target, trunk := req.Number, a.o.CallbackTrunk
	if strings.HasPrefix(target, "sip:") {
		trunk = ""
	}
	patient, err := a.h.Dial(ctx, DialOptions{Interaction: req.InteractionID, Role: "patient", Target: target,
		Trunk: trunk, RingTimeout: 45 * time.Second, Language: req.Language})
	if err != nil {
		po := routing.PatientFailed
		var ce sip.Classified
		if errors.As(err, &ce) {
			switch ce.Kind() {
			case sip.KindBusy:
				po = routing.PatientBusy
			case sip.KindNoAnswer:
				po = routing.PatientNoAnswer
			}
		}
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = leg.c.Hangup(hctx)
		cancel()
		a.h.ended(req.InteractionID, a.log, now, "patient_"+string(po), "callback")
		return routing.CallbackResult{Agent: routing.OfferResult{Outcome: routing.Answered}, Patient: po}, nil
	}
	go a.runCallback(context.WithoutCancel(ctx), req, leg, patient, now)
	return routing.CallbackResult{Agent: routing.OfferResult{Outcome: routing.Answered}, Patient: routing.PatientAnswered}, nil
}

func (a *ACD) runCallback(ctx context.Context, req routing.CallbackRequest, leg *agentLeg, patient *Call, start time.Time) {
	patient.SetLanguage(req.Language)
	ans := a.h.o.Now()
	patient.LogEvent(store.Event{Type: "call.answered", At: ans, Interaction: &store.InteractionPatch{AnsweredAt: &ans}})
	br := media.NewBridge(patient.sess, leg.c.sess, media.BridgeOptions{})
	br.Start()
	patient.LogEvent(store.Event{Type: "bridge.started", Detail: map[string]any{"agent": req.Agent.ID, "queue": req.Queue},
		Interaction: &store.InteractionPatch{AgentID: req.Agent.ID}})
	var end string
	select {
	case <-patient.Gone():
		end = EndCallerHangup
	case <-leg.c.Gone():
		end = EndLocalHangup
	}
	br.Stop()
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_ = a.router.Hangup(hctx, req.InteractionID)
	cancel()
	if end == EndCallerHangup {
		a.wrapUp(ctx, leg)
	} else {
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_ = patient.Hangup(hctx)
		cancel()
	}
	a.h.ended(req.InteractionID, a.log, start, end, "callback")
}

// ---- agent feature codes ----

// Feature codes agents dial from their softphones.
const (
	CodeLogin       = "*41" // log in (and go ready)
	CodeReady       = "*42"
	CodeAway        = "*43" // away, reason "break"
	CodeLogout      = "*44"
	CodeDisposition = "*45" // then the disposition digits and #
)

// FeatureCode is the App agents reach by dialing a feature code.
type FeatureCode struct {
	ACD  *ACD
	Code string
}

// Name implements App.
func (f FeatureCode) Name() string { return "feature_code" }

// Run implements App.
func (f FeatureCode) Run(ctx context.Context, c *Call) error {
	a := f.ACD
	id, ok := a.AgentID(c.leg.Source().User)
	if !ok || a.router == nil {
		_, err := c.PlayIDs(ctx, false, "agent/invalid_code")
		return err
	}
	var prompt string
	var err error
	switch f.Code {
	case CodeLogin: // logging in makes the agent ready
		err, prompt = a.router.Login(ctx, id), "agent/logged_in"
	case CodeReady:
		err, prompt = a.router.Ready(ctx, id), "agent/ready"
	case CodeAway:
		err, prompt = a.router.Away(ctx, id, "break"), "agent/away"
	case CodeLogout:
		err, prompt = a.router.Logout(ctx, id), "agent/logged_out"
	case CodeDisposition:
		if _, err = c.PlayIDs(ctx, true, "agent/enter_disposition"); err != nil {
			return err
		}
		d, cerr := c.Collect(ctx, ivr.CollectSpec{Max: 3, Terminators: "#", FirstDigitTimeout: 10 * time.Second, InterDigitTimeout: 3 * time.Second})
		if cerr != nil {
			return cerr
		}
		_, err = a.router.DispositionDigits(ctx, id, d.Value)
		prompt = "agent/disposition_saved"
	default:
		err = fmt.Errorf("unknown feature code")
	}
	if err != nil {
		a.log.Info("feature code refused", "agent", id, "code", f.Code, "err", err)
		prompt = "agent/invalid_code"
	}
	_, perr := c.PlayIDs(ctx, false, prompt)
	return perr
}
