package routing_test

import (
	"errors"
	"testing"
	"time"

	"github.com/careline/careline/config"
	"github.com/careline/careline/routing"
	"github.com/google/uuid"
)

var coordinators = []agentDef{{"a1", "coordinator: 3", "en, es"}, {"a2", "coordinator: 3", "en"}}

func TestUrgentCallerAnsweredFirst(t *testing.T) {
	t.Parallel()
	h := newHarness(t, coordinators[:1])
	n1 := h.enqueue("coord")
	h.advance(time.Second)
	n2 := h.enqueue("coord")
	h.advance(time.Second)
	u := h.enqueue("coord", urgent)
	if p := until[routing.Position](t, u); p.Position != 1 || p.Waiting != 3 {
		t.Fatalf("urgent caller position %+v", p)
	}
	h.login("a1")
	h.expectOffer("a1", u).answer()
	if c := until[routing.Connected](t, u); c.Agent.ID != "a1" {
		t.Fatalf("connected to %+v", c.Agent)
	}
	closed(t, u)
	if err := u.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	h.wantState("a1", routing.WrapUp, "call_ended")
	h.advance(10 * time.Second)
	h.expectOffer("a1", n1).answer()
	until[routing.Connected](t, n1)
	_ = n2
}

func TestAntiStarvation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, coordinators[:1])
	n1 := h.enqueue("coord") // t=0
	h.advance(10 * time.Second)
	u1 := h.enqueue("coord", urgent) // t=10
	u2 := h.enqueue("coord", urgent)
	h.advance(10 * time.Second)
	h.login("a1") // t=20: urgent first
	h.expectOffer("a1", u1).answer()
	until[routing.Connected](t, u1)
	h.advance(60 * time.Second) // t=80: still within starvation_wait (90s) of n1
	if err := u1.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	h.advance(10 * time.Second) // t=90: wrap-up done; n1 has waited 90s: served as urgent, and it arrived before u2
	h.expectOffer("a1", n1).answer()
	until[routing.Connected](t, n1)
	// u2 is next; and a later urgent caller still goes before a fresh normal one.
	n2 := h.enqueue("coord")
	u3 := h.enqueue("coord", urgent)
	_ = n2
	if err := n1.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	h.advance(10 * time.Second)
	h.expectOffer("a1", u2).answer()
	until[routing.Connected](t, u2)
	if err := u2.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	h.advance(10 * time.Second)
	h.expectOffer("a1", u3)
}

func TestRONAReturnsCallToHead(t *testing.T) {
	t.Parallel()
	h := newHarness(t, coordinators)
	h.login("a1")
	c1 := h.enqueue("coord")
	c2 := h.enqueue("coord")
	p := h.expectOffer("a1", c1)
	if p.RingTimeout != 15*time.Second || p.Attempt != 1 {
		t.Fatalf("offer %+v", p.Offer)
	}
	h.advance(15 * time.Second) // ring timeout: the Router cancels the offer
	<-p.ctx.Done()
	h.waitState("a1", routing.Away, 1)
	h.wantState("a1", routing.Away, routing.ReasonRONA)
	if got := h.metric("careline_agent_rona_total", map[string]string{"queue": "coord"}); got != 1 {
		t.Fatalf("rona_total %v", got)
	}
	if got := h.metric("careline_queue_offers_total", map[string]string{"queue": "coord", "result": "no_answer"}); got != 1 {
		t.Fatalf("offers no_answer %v", got)
	}
	if len(h.events.Match("agent.rona", map[string]any{"agent": "a1", "queue": "coord"})) != 1 {
		t.Fatal("no agent.rona event")
	}
	// c1 is back at the head: the next agent gets c1, not c2.
	if pos := until[routing.Position](t, c2); pos.Position != 2 {
		t.Fatalf("c2 position %d", pos.Position)
	}
	h.login("a2")
	p = h.expectOffer("a2", c1)
	if p.Attempt != 2 {
		t.Fatalf("attempt %d", p.Attempt)
	}
	// The RONA agent is offered nothing until it says it is ready again.
	p.answer()
	until[routing.Connected](t, c1)
	before := h.offersMade()
	h.advance(5 * time.Second)
	h.noNewOffers(before)
	if err := h.r.Ready(h.ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	h.expectOffer("a1", c2)
}

func TestNoCodecMarksAgentAway(t *testing.T) {
	t.Parallel()
	h := newHarness(t, coordinators)
	h.login("a1")
	h.advance(time.Second)
	h.login("a2")
	c1 := h.enqueue("coord")
	c2 := h.enqueue("coord")
	// a1 (idle longest) gets c1, a2 gets c2, concurrently.
	byAgent := map[string]*pendingOffer{}
	for range 2 {
		p := h.nextOffer()
		byAgent[p.Agent.ID] = p
	}
	p1, p2 := byAgent["a1"], byAgent["a2"]
	if p1 == nil || p2 == nil || p1.InteractionID != c1.ID || p2.InteractionID != c2.ID {
		t.Fatalf("offers %+v", byAgent)
	}
	p1.respond(routing.OfferResult{Outcome: routing.Failed, Reason: routing.ReasonNoCodec})
	h.waitState("a1", routing.Away, 1)
	h.wantState("a1", routing.Away, routing.ReasonNoCodec)
	p2.respond(routing.OfferResult{Outcome: routing.Rejected})
	h.waitState("a2", routing.Away, 1)
	h.wantState("a2", routing.Away, routing.ReasonRejected)
	if err := h.r.Ready(h.ctx, "a2"); err != nil {
		t.Fatal(err)
	}
	h.expectOffer("a2", c1) // c1 (the head) first, not c2
	if got := h.metric("careline_queue_offers_total", map[string]string{"queue": "coord", "result": "failed"}); got != 1 {
		t.Fatalf("offers failed %v", got)
	}
}

func TestRelaxationWaitsForStep(t *testing.T) {
	t.Parallel()
	h := newHarness(t, []agentDef{{"lvl1", "coordinator: 1", "en"}})
	h.login("lvl1")
	c := h.enqueue("coord") // requires coordinator 3; after 60s coordinator 1
	h.advance(30 * time.Second)
	h.noNewOffers(0)
	h.advance(29 * time.Second)
	h.noNewOffers(0)
	h.advance(time.Second) // 60s: step 1 applies
	h.expectOffer("lvl1", c)
}

func TestRoleConstraintNeverRelaxed(t *testing.T) {
	t.Parallel()
	// A coordinator (no pharmacist licence) and a Spanish-only pharmacist.
	h := newHarness(t, []agentDef{{"coord5", "coordinator: 5", "en"}, {"rx-es", "pharmacist: 2", "es"}})
	h.login("coord5", "rx-es")
	c := h.enqueue("rx") // English caller; after 30s any language, pharmacist always
	h.advance(29 * time.Second)
	h.noNewOffers(0) // the English-speaking coordinator is never eligible
	h.advance(time.Second)
	p := h.expectOffer("rx-es", c)
	p.respond(routing.OfferResult{Outcome: routing.Rejected})
	h.waitState("rx-es", routing.Away, 1)
	// Only the coordinator is ready now: the role requirement holds until overflow.
	before := h.offersMade()
	for range 5 {
		h.advance(29 * time.Second)
		h.noNewOffers(before)
	}
	// At max wait (3m) the caller overflows to coord, where the coordinator fits.
	h.advance(40 * time.Second)
	o := until[routing.Overflow](t, c)
	if o.From != "rx" || o.Target != (config.OverflowTarget{Kind: config.OverflowQueue, Name: "coord"}) {
		t.Fatalf("overflow %+v", o)
	}
	h.expectOffer("coord5", c)
	if got := h.metric("careline_queue_wait_seconds", map[string]string{"queue": "rx", "outcome": "overflowed"}); got != 1 {
		t.Fatalf("overflow observations %v", got)
	}
}

func TestLanguageMatch(t *testing.T) {
	t.Parallel()
	h := newHarness(t, []agentDef{{"en1", "coordinator: 3", "en"}, {"es1", "coordinator: 3", "es"}})
	h.login("en1")
	h.advance(time.Second)
	h.login("es1")
	c := h.enqueue("coord", spanish)
	h.expectOffer("es1", c) // en1 idles longer but does not speak Spanish
}

func TestLongestIdleThenSkillLevel(t *testing.T) {
	t.Parallel()
	h := newHarness(t, []agentDef{{"a1", "coordinator: 3", "en"}, {"a2", "coordinator: 5", "en"}, {"a3", "coordinator: 4", "en"}})
	h.login("a1")
	h.advance(5 * time.Second)
	h.login("a3", "a2") // same idle start: ties broken by level
	c1 := h.enqueue("coord")
	h.expectOffer("a1", c1) // idle longest, although the lowest level
	c2 := h.enqueue("coord")
	h.expectOffer("a2", c2) // tie with a3, level 5 beats 4
	c3 := h.enqueue("coord")
	h.expectOffer("a3", c3)
}

func TestUnregisteredAgentNeverOffered(t *testing.T) {
	t.Parallel()
	h := newHarness(t, coordinators)
	h.pres.set("1001", false) // a1's phone is not registered
	h.login("a1")
	h.advance(time.Second)
	h.login("a2")
	c1 := h.enqueue("coord")
	h.expectOffer("a2", c1).answer()
	c2 := h.enqueue("coord")
	h.advance(5 * time.Second)
	h.noNewOffers(1)
	h.pres.set("1001", true) // re-registers; the glue kicks the Router
	h.r.Kick()
	h.expectOffer("a1", c2)
}

func TestMaxWaitOverflowToVoicemail(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	c := h.enqueue("vm")
	h.advance(59 * time.Second)
	h.advance(time.Second)
	o := until[routing.Overflow](t, c)
	if o.Target.Kind != config.OverflowVoicemail || o.Target.Name != "main" {
		t.Fatalf("overflow %+v", o)
	}
	closed(t, c)
	ev := h.events.Match("queue.leave", map[string]any{"outcome": "overflowed", "queue": "vm"})
	if len(ev) != 1 || ev[0].Detail["target"] != "voicemail:main" || ev[0].Interaction.Queue != "vm" {
		t.Fatalf("leave events %+v", ev)
	}
}

func TestOverflowToCallbackKeepsPlace(t *testing.T) {
	t.Parallel()
	cb := newFakeCallbacker()
	h := newHarness(t, coordinators[:1], routing.WithCallbacker(cb))
	c := h.enqueue("coord", number("+15555550100"))
	h.advance(5 * time.Minute)
	if o := until[routing.Overflow](t, c); o.Target.Kind != config.OverflowCallback {
		t.Fatalf("overflow %+v", o)
	}
	if s := until[routing.CallbackScheduled](t, c); s.Position != 1 {
		t.Fatalf("scheduled %+v", s)
	}
	closed(t, c)
	h.login("a1")
	req := cb.next(t)
	if req.For != c.ID || req.Number != "+15555550100" || req.Agent.ID != "a1" {
		t.Fatalf("callback %+v", req)
	}
}

func TestAbandonDuringOfferReleasesAgent(t *testing.T) {
	t.Parallel()
	h := newHarness(t, coordinators[:1])
	h.login("a1")
	c := h.enqueue("coord")
	p := h.expectOffer("a1", c)
	if err := c.Abandon(h.ctx); err != nil {
		t.Fatal(err)
	}
	<-p.ctx.Done() // the Router cancels the ringing
	h.waitState("a1", routing.Ready, 2)
	h.wantState("a1", routing.Ready, "offer_cancelled")
	closed(t, c)
	if got := h.metric("careline_queue_abandoned_total", map[string]string{"queue": "coord"}); got != 1 {
		t.Fatalf("abandoned %v", got)
	}
	if got := h.metric("careline_queue_offers_total", map[string]string{"queue": "coord", "result": "cancelled"}); got != 1 {
		t.Fatalf("cancelled offers %v", got)
	}
	if err := c.Abandon(h.ctx); err != nil { // idempotent
		t.Fatal(err)
	}
}

func TestWrapUpTimerThenReady(t *testing.T) {
	t.Parallel()
	h := newHarness(t, coordinators[:1])
	h.login("a1")
	c := h.enqueue("coord")
	h.expectOffer("a1", c).answer()
	until[routing.Connected](t, c)
	h.wantState("a1", routing.OnCall, "answered")
	h.advance(2 * time.Minute)
	if err := c.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	st := h.state("a1")
	if st.State != routing.WrapUp || st.Until == nil || !st.Until.Equal(t0.Add(2*time.Minute+10*time.Second)) {
		t.Fatalf("wrap-up %+v", st)
	}
	name, err := h.r.DispositionDigits(h.ctx, "a1", "2")
	if err != nil || name != "refill_requested" {
		t.Fatalf("disposition %q %v", name, err)
	}
	if _, err := h.r.DispositionDigits(h.ctx, "a1", "7"); !errors.Is(err, routing.ErrUnknownDisposition) {
		t.Fatalf("unknown digits: %v", err)
	}
	if err := h.r.Disposition(h.ctx, "a1", "bogus"); !errors.Is(err, routing.ErrUnknownDisposition) {
		t.Fatalf("unknown name: %v", err)
	}
	ev := h.events.Match("agent.disposition", map[string]any{"agent": "a1"})
	if len(ev) != 1 || ev[0].InteractionID != c.ID || ev[0].Interaction.Disposition != "refill_requested" || ev[0].Interaction.AgentID != "a1" {
		t.Fatalf("disposition events %+v", ev)
	}
	h.advance(9 * time.Second)
	h.wantState("a1", routing.WrapUp, "")
	h.advance(time.Second)
	h.wantState("a1", routing.Ready, "wrap_up_done")
	if err := h.r.Disposition(h.ctx, "a1", "resolved"); !errors.Is(err, routing.ErrNoCall) {
		t.Fatalf("disposition after wrap-up: %v", err)
	}
	if len(h.events.Match("agent.wrap_up", map[string]any{"agent": "a1", "queue": "coord"})) != 1 {
		t.Fatal("no wrap-up event")
	}
	// The wait was observed as answered within service level.
	if got := h.metric("careline_queue_wait_seconds", map[string]string{"queue": "coord", "outcome": "answered"}); got != 1 {
		t.Fatalf("answered observations %v", got)
	}
}

func TestAgentTransitions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, coordinators[:1])
	illegal := func(err error) {
		t.Helper()
		var te *routing.TransitionError
		if !errors.Is(err, routing.ErrIllegalTransition) || !errors.As(err, &te) {
			t.Fatalf("want illegal transition, got %v", err)
		}
	}
	illegal(h.r.Ready(h.ctx, "a1")) // log in first
	illegal(h.r.Away(h.ctx, "a1", "break"))
	if err := h.r.Logout(h.ctx, "a1"); err != nil { // already logged out: no-op
		t.Fatal(err)
	}
	if err := h.r.Away(h.ctx, "a1", "rona"); !errors.Is(err, routing.ErrBadReason) {
		t.Fatalf("system reason accepted: %v", err)
	}
	if err := h.r.Login(h.ctx, "nobody"); !errors.Is(err, routing.ErrUnknownAgent) {
		t.Fatalf("unknown agent: %v", err)
	}
	h.login("a1")
	h.login("a1") // no-op
	if err := h.r.Away(h.ctx, "a1", "lunch"); err != nil {
		t.Fatal(err)
	}
	if err := h.r.Away(h.ctx, "a1", "break"); err != nil { // away → away with another reason
		t.Fatal(err)
	}
	if err := h.r.Ready(h.ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	c := h.enqueue("coord")
	p := h.expectOffer("a1", c)
	illegal(h.r.Away(h.ctx, "a1", "break"))
	illegal(h.r.Logout(h.ctx, "a1"))
	p.answer()
	until[routing.Connected](t, c)
	illegal(h.r.Ready(h.ctx, "a1"))
	illegal(h.r.Logout(h.ctx, "a1"))
	if err := c.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.r.Away(h.ctx, "a1", "break"); err != nil { // from wrap-up
		t.Fatal(err)
	}
	if err := h.r.Logout(h.ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	var path []string
	for _, ev := range h.events.Match("agent.state", map[string]any{"agent": "a1"}) {
		path = append(path, ev.Detail["to"].(string)+"/"+ev.Detail["reason"].(string))
	}
	want := "ready/login away/lunch away/break ready/agent offered/ on_call/answered wrap_up/call_ended away/break logged_out/logout"
	if got := join(path); got != want {
		t.Fatalf("state log:\n got %s\nwant %s", got, want)
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

func TestPositionsAndNoEstimateWhenUnstable(t *testing.T) {
	t.Parallel()
	h := newHarness(t, coordinators[:1])
	c1 := h.enqueue("coord")
	c2 := h.enqueue("coord")
	p1 := until[routing.Position](t, c1)
	p2 := until[routing.Position](t, c2)
	if p1.Position != 1 || p2.Position != 2 || p2.Waiting != 2 || p1.Estimate.Known || p2.Estimate.Known {
		t.Fatalf("positions %+v %+v", p1, p2)
	}
	h.login("a1")
	h.expectOffer("a1", c1).answer()
	if p := until[routing.Position](t, c2); p.Position != 1 || p.Waiting != 1 || p.Estimate.Known {
		t.Fatalf("after answer %+v", p)
	}
}

func TestEstimateAnnouncedWhenStable(t *testing.T) {
	t.Parallel()
	h := newHarness(t, coordinators[:1])
	h.login("a1")
	// A steady queue: one answer every 35s while callers wait.
	var tks []*routing.Ticket
	for range 10 {
		tks = append(tks, h.enqueue("coord"))
	}
	for i := range 8 {
		h.expectOffer("a1", tks[i]).answer()
		until[routing.Connected](t, tks[i])
		h.advance(25 * time.Second)
		if err := tks[i].Hangup(h.ctx); err != nil {
			t.Fatal(err)
		}
		h.advance(10 * time.Second)
	}
	// 7 intervals of exactly 35s (min_samples 5): stable. Position 2: 70s, rounded up to 2 min.
	p := until[routing.Position](t, tks[9])
	for p.Position != 2 {
		p = until[routing.Position](t, tks[9])
	}
	if !p.Estimate.Known || p.Estimate.Wait != 2*time.Minute || p.Estimate.Capped {
		t.Fatalf("estimate %+v", p)
	}
}

func TestTransferAndHoldStubsAreLogged(t *testing.T) {
	t.Parallel()
	h := newHarness(t, coordinators[:1])
	h.login("a1")
	c := h.enqueue("coord")
	if err := h.r.Hold(h.ctx, c.ID, true); !errors.Is(err, routing.ErrNoCall) {
		t.Fatalf("hold before answer: %v", err)
	}
	h.expectOffer("a1", c).answer()
	until[routing.Connected](t, c)
	if err := h.r.Hold(h.ctx, c.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := h.r.Transfer(h.ctx, c.ID, "+15555550100"); err != nil { // a number is never logged
		t.Fatal(err)
	}
	if err := h.r.Transfer(h.ctx, c.ID, "rx"); err != nil {
		t.Fatal(err)
	}
	if ev := h.events.Match("call.hold", map[string]any{"agent": "a1", "on": true}); len(ev) != 1 || ev[0].InteractionID != c.ID {
		t.Fatalf("hold events %+v", ev)
	}
	if len(h.events.Match("call.transfer", map[string]any{"to": "external"})) != 1 || len(h.events.Match("call.transfer", map[string]any{"to": "rx"})) != 1 {
		t.Fatalf("transfer events %+v", h.events.Match("call.transfer", nil))
	}
	h.wantState("a1", routing.OnCall, "")
}

// A node with its agent state in memory starts by logging every agent out, so an
// agent left ready or on a call by a crash is not counted as staffed ever after; the
// default (shared state) logs nothing at start.
func TestRestartLogout(t *testing.T) {
	t.Parallel()
	h := newHarness(t, coordinators, routing.WithRestartLogout())
	for _, id := range []string{"a1", "a2"} {
		if got := h.events.Match("agent.state", map[string]any{"agent": id, "to": string(routing.LoggedOut), "reason": "restart"}); len(got) != 1 {
			t.Fatalf("agent %s: %d restart log-outs, want 1", id, len(got))
		}
	}
	plain := newHarness(t, coordinators)
	if got := plain.events.Match("agent.state", nil); len(got) != 0 {
		t.Fatalf("shared state: %d agent.state events at start, want 0", len(got))
	}
}

// A caller transferred to one agent is offered to that agent only: not to an agent
// idle longer, and even without the queue's skills or language.
func TestCallerForOneAgent(t *testing.T) {
	t.Parallel()
	h := newHarness(t, []agentDef{{"a1", "coordinator: 3", "en"}, {"a2", "nurse: 1", "es"}})
	if _, err := h.r.Enqueue(h.ctx, routing.Caller{InteractionID: uuid.New(), Queue: "coord", Agent: "nobody"}); !errors.Is(err, routing.ErrUnknownAgent) {
		t.Fatalf("unknown agent: %v", err)
	}
	h.login("a1") // idle longest and eligible
	h.advance(time.Minute)
	h.login("a2")
	c := h.enqueue("coord", func(c *routing.Caller) { c.Agent = "a2" })
	h.expectOffer("a2", c).answer()
	if got := until[routing.Connected](t, c); got.Agent.ID != "a2" {
		t.Fatalf("connected to %+v", got.Agent)
	}
	h.events.WaitFor(t, 1, "queue.enter", map[string]any{"agent": "a2"})
}
