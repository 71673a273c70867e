package routing_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careline/careline/calendar"
	"github.com/careline/careline/routing"
	"github.com/google/uuid"
)

// *calendar.Calendar is what the glue passes as Hours.
var _ routing.Hours = (*calendar.Calendar)(nil)

type pendingCallback struct {
	routing.CallbackRequest
	reply chan routing.CallbackResult
}

type fakeCallbacker struct{ reqs chan *pendingCallback }

func newFakeCallbacker() *fakeCallbacker {
	return &fakeCallbacker{reqs: make(chan *pendingCallback, 16)}
}

func (f *fakeCallbacker) Callback(ctx context.Context, req routing.CallbackRequest) (routing.CallbackResult, error) {
	p := &pendingCallback{CallbackRequest: req, reply: make(chan routing.CallbackResult, 1)}
	f.reqs <- p
	select {
	case r := <-p.reply:
		return r, nil
	case <-ctx.Done():
		return routing.CallbackResult{}, ctx.Err()
	}
}

func (f *fakeCallbacker) next(t *testing.T) *pendingCallback {
	t.Helper()
	select {
	case p := <-f.reqs:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no callback placed")
		return nil
	}
}

func (p *pendingCallback) connect() {
	p.reply <- routing.CallbackResult{Agent: routing.OfferResult{Outcome: routing.Answered}, Patient: routing.PatientAnswered}
}

type fakeOptOuts struct {
	mu     sync.Mutex
	out    map[string]bool
	checks atomic.Int64
}

func (f *fakeOptOuts) OptedOut(_ context.Context, n string) (bool, error) {
	f.checks.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.out[n], nil
}

type switchHours struct{ open atomic.Bool }

func (s *switchHours) IsOpen(time.Time) bool { return s.open.Load() }

func callbackHarness(t *testing.T, agents []agentDef, extra ...routing.Option) (*harness, *fakeCallbacker, *fakeOptOuts, *switchHours) {
	cb := newFakeCallbacker()
	oo := &fakeOptOuts{out: map[string]bool{}}
	hours := &switchHours{}
	hours.open.Store(true)
	h := newHarness(t, agents, append([]routing.Option{routing.WithCallbacker(cb), routing.WithOptOuts(oo), routing.WithHours(hours)}, extra...)...)
	return h, cb, oo, hours
}

func TestCallbackKeepsPlaceAndRunsInOrder(t *testing.T) {
	t.Parallel()
	h, cb, oo, _ := callbackHarness(t, coordinators)
	a := h.enqueue("coord", spanish)
	h.advance(time.Second)
	b := h.enqueue("coord")
	h.advance(time.Second)
	c := h.enqueue("coord")
	if err := a.RequestCallback(h.ctx, "+15555550101"); err != nil {
		t.Fatal(err)
	}
	if s := until[routing.CallbackScheduled](t, a); s.Position != 1 || s.Queue != "coord" {
		t.Fatalf("a scheduled %+v", s)
	}
	closed(t, a)
	if err := b.RequestCallback(h.ctx, "+15555550102"); err != nil {
		t.Fatal(err)
	}
	if s := until[routing.CallbackScheduled](t, b); s.Position != 2 {
		t.Fatalf("b scheduled %+v", s)
	}
	// c still sees the callbacks ahead of it.
	if p := until[routing.Position](t, c); p.Position != 3 || p.Waiting != 3 {
		t.Fatalf("c position %+v", p)
	}
	// No agent free: nothing is placed, however long we wait.
	h.advance(30 * time.Second)
	h.noNewOffers(0)
	if oo.checks.Load() != 0 {
		t.Fatal("opt-out checked without a free agent")
	}
	h.login("a1") // Spanish-speaking: a is first in line
	req := cb.next(t)
	if req.For != a.ID || req.Agent.ID != "a1" || req.Number != "+15555550101" || req.Language != "es" || req.Attempt != 1 {
		t.Fatalf("first callback %+v", req.CallbackRequest)
	}
	h.wantState("a1", routing.Offered, "")
	req.connect()
	h.events.WaitFor(t, 1, "queue.leave", map[string]any{"outcome": "callback_connected"})
	h.sync()
	st := h.state("a1")
	if st.State != routing.OnCall || st.Call != req.InteractionID.String() {
		t.Fatalf("agent after callback %+v", st)
	}
	if err := h.r.Hangup(h.ctx, req.InteractionID); err != nil {
		t.Fatal(err)
	}
	h.wantState("a1", routing.WrapUp, "")
	h.login("a2")
	req2 := cb.next(t)
	if req2.For != b.ID || req2.Agent.ID != "a2" {
		t.Fatalf("second callback %+v", req2.CallbackRequest)
	}
	req2.connect()
	h.advance(10 * time.Second) // a1's wrap-up ends: now c, the live caller
	h.expectOffer("a1", c)
	if oo.checks.Load() != 2 {
		t.Fatalf("opt-out checks %d", oo.checks.Load())
	}
}

func TestCallbackNotPlacedWhenClosed(t *testing.T) {
	t.Parallel()
	h, cb, _, hours := callbackHarness(t, coordinators[:1])
	a := h.enqueue("coord")
	c := h.enqueue("coord")
	if err := a.RequestCallback(h.ctx, "+15555550101"); err != nil {
		t.Fatal(err)
	}
	hours.open.Store(false)
	h.login("a1")
	h.expectOffer("a1", c).answer() // the live caller is served; the callback waits
	until[routing.Connected](t, c)
	select {
	case p := <-cb.reqs:
		t.Fatalf("callback placed while closed: %+v", p.CallbackRequest)
	default:
	}
	if err := c.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	h.advance(10 * time.Second)
	h.advance(time.Minute)
	if n := len(h.events.Match("queue.offer", nil)); n != 1 {
		t.Fatalf("%d offers while closed", n)
	}
	hours.open.Store(true)
	h.advance(time.Second)
	if req := cb.next(t); req.For != a.ID {
		t.Fatalf("callback for %s", req.For)
	}
}

func TestCallbackSkippedWhenOptedOut(t *testing.T) {
	t.Parallel()
	h, cb, oo, _ := callbackHarness(t, coordinators[:1])
	a := h.enqueue("coord")
	b := h.enqueue("coord")
	oo.out["+15555550101"] = true
	if err := a.RequestCallback(h.ctx, "+15555550101"); err != nil {
		t.Fatal(err)
	}
	if err := b.RequestCallback(h.ctx, "+15555550102"); err != nil {
		t.Fatal(err)
	}
	h.login("a1")
	req := cb.next(t) // a was dropped after the opt-out check; b is placed
	if req.For != b.ID {
		t.Fatalf("callback for %s, want b", req.For)
	}
	ev := h.events.Match("queue.leave", map[string]any{"outcome": "callback_cancelled"})
	if len(ev) != 1 || ev[0].InteractionID != a.ID || ev[0].Detail["reason"] != "opted_out" {
		t.Fatalf("cancel events %+v", ev)
	}
}

func TestCallbackRetriesThenFails(t *testing.T) {
	t.Parallel()
	h, cb, _, _ := callbackHarness(t, coordinators[:1])
	a := h.enqueue("coord")
	if err := a.RequestCallback(h.ctx, "+15555550101"); err != nil {
		t.Fatal(err)
	}
	h.login("a1")
	req := cb.next(t)
	req.reply <- routing.CallbackResult{Agent: routing.OfferResult{Outcome: routing.Answered}, Patient: routing.PatientNoAnswer}
	h.waitState("a1", routing.Ready, 2)
	h.advance(59 * time.Second) // retry_delay 1m
	select {
	case p := <-cb.reqs:
		t.Fatalf("retried early: %+v", p.CallbackRequest)
	default:
	}
	h.advance(time.Second)
	req = cb.next(t)
	if req.Attempt != 2 {
		t.Fatalf("attempt %d", req.Attempt)
	}
	req.reply <- routing.CallbackResult{Agent: routing.OfferResult{Outcome: routing.Answered}, Patient: routing.PatientBusy}
	h.events.WaitFor(t, 1, "queue.leave", map[string]any{"outcome": "callback_failed"})
}

func TestCallbackRequestErrors(t *testing.T) {
	t.Parallel()
	h, _, _, _ := callbackHarness(t, coordinators[:1])
	v := h.enqueue("vm") // no callback section
	if err := v.RequestCallback(h.ctx, "+15555550101"); !errors.Is(err, routing.ErrCallbackUnavailable) {
		t.Fatalf("vm: %v", err)
	}
	if err := v.Abandon(h.ctx); err != nil {
		t.Fatal(err)
	}
	c := h.enqueue("coord")
	if err := c.RequestCallback(h.ctx, ""); !errors.Is(err, routing.ErrCallbackUnavailable) {
		t.Fatalf("no number: %v", err)
	}
	h.login("a1")
	h.expectOffer("a1", c)
	if err := c.RequestCallback(h.ctx, "+15555550101"); !errors.Is(err, routing.ErrNotWaiting) {
		t.Fatalf("while offered: %v", err)
	}
	// Without a Callbacker, no callbacks at all.
	h2 := newHarness(t, nil)
	c2 := h2.enqueue("coord")
	if err := c2.RequestCallback(h2.ctx, "+15555550101"); !errors.Is(err, routing.ErrCallbackUnavailable) {
		t.Fatalf("no callbacker: %v", err)
	}
}

// A callback accepted by an earlier run comes back at its original place: ahead of a
// caller who arrived after it, behind nobody, and an expired one leaves at once.
func TestRestoreCallbackKeepsPlace(t *testing.T) {
	t.Parallel()
	h, cb, _, _ := callbackHarness(t, coordinators)
	now := h.clock.Now()
	live := h.enqueue("coord")
	p := routing.PendingCallback{InteractionID: uuid.New(), Queue: "coord", Number: "+15555550111", Language: "es",
		EnqueuedAt: now.Add(-2 * time.Minute), Expires: now.Add(time.Hour)}
	if err := h.r.RestoreCallback(h.ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := h.r.RestoreCallback(h.ctx, p); !errors.Is(err, routing.ErrDuplicate) {
		t.Fatalf("second restore: %v, want ErrDuplicate", err)
	}
	old := routing.PendingCallback{InteractionID: uuid.New(), Queue: "coord", Number: "+15555550112",
		EnqueuedAt: now.Add(-3 * time.Hour), Expires: now.Add(-time.Hour)}
	if err := h.r.RestoreCallback(h.ctx, old); err != nil {
		t.Fatal(err)
	}
	h.events.WaitFor(t, 1, "queue.leave", map[string]any{"outcome": "callback_expired", "restored": true})
	// The live caller's announcements move it behind the restored callback.
	for pos := until[routing.Position](t, live); pos.Position != 2 || pos.Waiting != 2; pos = until[routing.Position](t, live) {
		if pos.Position > 2 || pos.Waiting > 2 {
			t.Fatalf("live caller: %+v", pos)
		}
	}
	h.login("a1")
	req := cb.next(t)
	if req.For != p.InteractionID || req.Number != p.Number || req.Language != "es" || req.Agent.ID != "a1" {
		t.Fatalf("restored callback placed as %+v", req.CallbackRequest)
	}
	req.connect()
	h.events.WaitFor(t, 1, "queue.leave", map[string]any{"outcome": "callback_connected"})
}

// queue.callback carries what a restart needs; the number goes to the interaction's
// PHI column only, never into the event's detail.
func TestCallbackEventForRestore(t *testing.T) {
	t.Parallel()
	h, _, _, _ := callbackHarness(t, coordinators)
	tk := h.enqueue("coord", spanish)
	if err := tk.RequestCallback(h.ctx, "+15555550121"); err != nil {
		t.Fatal(err)
	}
	ev := h.events.WaitFor(t, 1, "queue.callback", nil)
	if ev.Interaction == nil || ev.Interaction.CallbackNumber != "+15555550121" {
		t.Fatalf("patch %+v", ev.Interaction)
	}
	for k, v := range ev.Detail {
		if s, ok := v.(string); ok && strings.Contains(s, "5555550121") {
			t.Fatalf("the number is in the event detail (%s)", k)
		}
	}
	for _, k := range []string{"enqueued_at", "expires_at", "language", "priority"} {
		if _, ok := ev.Detail[k]; !ok {
			t.Fatalf("detail has no %s: %v", k, ev.Detail)
		}
	}
}
