package routing_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careline/careline/config"
	"github.com/careline/careline/routing"
	"github.com/careline/careline/routing/routingtest"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

// t0 is a Monday afternoon.
var t0 = time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)

const testQueues = `
skills:
  coordinator: {}
  pharmacist: {role: true}
  nurse: {role: true}
routing:
  estimate: {min_samples: 5, window: 30m, max_relative_error: 0.25, cap: 20m}
queues:
  coord:
    require: {coordinator: 3}
    relax:
      - {after: 60s, require: {coordinator: 1}}
    ring_timeout: 15s
    wrap_up: 10s
    max_wait: 5m
    starvation_wait: 90s
    overflow: callback
    callback: {retries: 1, retry_delay: 1m, expires: 2h}
    dispositions: {"1": resolved, "2": refill_requested}
  rx:
    require: {pharmacist: 1}
    relax:
      - {after: 30s, language: any}
    ring_timeout: 15s
    wrap_up: 30s
    max_wait: 3m
    service_level: 25s
    overflow: queue:coord
  vm:
    max_wait: 1m
    service_level: 10s
    overflow: voicemail:main
`

type agentDef struct {
	id     string
	skills string // YAML flow mapping body, e.g. "coordinator: 3"
	langs  string // e.g. "en, es"
}

func configFor(t testing.TB, agents []agentDef) *config.Config {
	t.Helper()
	var b strings.Builder
	b.WriteString("version: 1\nsite: {name: T, timezone: America/Chicago, languages: [en, es]}\n")
	b.WriteString("sip:\n  listen: [{network: udp, addr: \"127.0.0.1:0\"}]\n")
	b.WriteString(testQueues)
	if len(agents) > 0 {
		b.WriteString("agents:\n")
	}
	for i, a := range agents {
		langs := a.langs
		if langs == "" {
			langs = "en"
		}
		fmt.Fprintf(&b, "  %s:\n    name: Agent %s\n    sip: {user: \"%d\", ha1: \"0123456789abcdef0123456789abcdef\"}\n    skills: {%s}\n    languages: [%s]\n",
			a.id, a.id, 1001+i, a.skills, langs)
	}
	c, is := config.Parse("test.yaml", []byte(b.String()), config.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }})
	if len(is) > 0 {
		t.Fatalf("test config:\n%v\n%s", is, b.String())
	}
	return c
}

// pendingOffer is an offer the fake connector holds until the test answers it.
type pendingOffer struct {
	routing.Offer
	ctx   context.Context
	reply chan routing.OfferResult
}

func (p *pendingOffer) respond(res routing.OfferResult) { p.reply <- res }
func (p *pendingOffer) answer()                         { p.respond(routing.OfferResult{Outcome: routing.Answered}) }

type fakeConn struct{ offers chan *pendingOffer }

func (c *fakeConn) Offer(ctx context.Context, o routing.Offer) (routing.OfferResult, error) {
	p := &pendingOffer{Offer: o, ctx: ctx, reply: make(chan routing.OfferResult, 1)}
	c.offers <- p
	select {
	case res := <-p.reply:
		return res, nil
	case <-ctx.Done():
		return routing.OfferResult{}, ctx.Err()
	}
}

type fakePresence struct {
	mu  sync.Mutex
	off map[string]bool
}

func (p *fakePresence) Registered(_ context.Context, user string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.off[user]
}

func (p *fakePresence) set(user string, registered bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.off[user] = !registered
}

type harness struct {
	t      *testing.T
	ctx    context.Context
	r      *routing.Router
	clock  *routingtest.FakeClock
	conn   *fakeConn
	pres   *fakePresence
	events *routingtest.Events
	reg    *prometheus.Registry
	cfg    *config.Config
}

func newHarness(t *testing.T, agents []agentDef, opts ...routing.Option) *harness {
	t.Helper()
	h := &harness{t: t, clock: routingtest.NewFakeClock(t0), conn: &fakeConn{offers: make(chan *pendingOffer, 64)},
		pres: &fakePresence{off: map[string]bool{}}, events: routingtest.NewEvents(), reg: prometheus.NewRegistry(),
		cfg: configFor(t, agents)}
	all := append([]routing.Option{routing.WithClock(h.clock), routing.WithEventLog(h.events),
		routing.WithMetrics(routing.NewMetrics(h.reg, routing.ServiceLevels(h.cfg)...)), routing.WithNodeID("n1")}, opts...)
	r, err := routing.New(h.cfg, h.conn, h.pres, all...)
	if err != nil {
		t.Fatal(err)
	}
	h.r = r
	ctx, cancel := context.WithCancel(context.Background())
	h.ctx = ctx
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	})
	h.sync()
	return h
}

func (h *harness) sync() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	if err := h.r.Sync(ctx); err != nil {
		h.t.Fatal(err)
	}
}

// advance moves the fake clock and waits for the Router to act on it.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	h.clock.Advance(d)
	h.sync()
}

func (h *harness) login(ids ...string) {
	h.t.Helper()
	for _, id := range ids {
		if err := h.r.Login(h.ctx, id); err != nil {
			h.t.Fatalf("login %s: %v", id, err)
		}
	}
}

func (h *harness) enqueue(queue string, opt ...func(*routing.Caller)) *routing.Ticket {
	h.t.Helper()
	c := routing.Caller{InteractionID: uuid.New(), Queue: queue, Language: "en"}
	for _, o := range opt {
		o(&c)
	}
	tk, err := h.r.Enqueue(h.ctx, c)
	if err != nil {
		h.t.Fatalf("enqueue: %v", err)
	}
	return tk
}

func urgent(c *routing.Caller)  { c.Priority = 1 }
func spanish(c *routing.Caller) { c.Language = "es" }
func number(n string) func(*routing.Caller) {
	return func(c *routing.Caller) { c.CallbackNumber = n }
}

// nextOffer waits for the connector to be asked to ring someone.
func (h *harness) nextOffer() *pendingOffer {
	h.t.Helper()
	select {
	case p := <-h.conn.offers:
		return p
	case <-time.After(10 * time.Second):
		h.t.Fatal("no offer made")
		return nil
	}
}

// expectOffer waits for the next offer and checks who and for whom.
func (h *harness) expectOffer(agent string, tk *routing.Ticket) *pendingOffer {
	h.t.Helper()
	p := h.nextOffer()
	if p.Agent.ID != agent || p.InteractionID != tk.ID {
		h.t.Fatalf("offer to %s for %s, want %s for %s", p.Agent.ID, p.InteractionID, agent, tk.ID)
	}
	return p
}

// offersMade counts offers the Router launched (logged synchronously, unlike the
// connector's channel which a goroutine feeds).
func (h *harness) offersMade() int { return len(h.events.Match("queue.offer", nil)) }

func (h *harness) noNewOffers(before int) {
	h.t.Helper()
	h.sync()
	if n := h.offersMade(); n != before {
		h.t.Fatalf("%d unexpected offers: %v", n-before, h.events.Match("queue.offer", nil)[before:])
	}
}

func (h *harness) state(id string) routing.AgentStatus {
	h.t.Helper()
	st, err := h.r.Agent(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

func (h *harness) wantState(id string, s routing.State, reason string) {
	h.t.Helper()
	st := h.state(id)
	if st.State != s || (reason != "" && st.Reason != reason) {
		h.t.Fatalf("agent %s is %s (%s), want %s (%s)", id, st.State, st.Reason, s, reason)
	}
}

// waitState waits until an agent.state event takes the agent to s.
func (h *harness) waitState(id string, s routing.State, n int) {
	h.t.Helper()
	h.events.WaitFor(h.t, n, "agent.state", map[string]any{"agent": id, "to": string(s)})
	h.sync()
}

// recv returns the next update on a ticket.
func recv(t *testing.T, tk *routing.Ticket) routing.Update {
	t.Helper()
	select {
	case u, ok := <-tk.Updates():
		if !ok {
			t.Fatal("ticket closed")
		}
		return u
	case <-time.After(10 * time.Second):
		t.Fatal("no update")
		return nil
	}
}

// until returns the first update of type T, skipping others.
func until[T routing.Update](t *testing.T, tk *routing.Ticket) T {
	t.Helper()
	for {
		if u, ok := recv(t, tk).(T); ok {
			return u
		}
	}
}

// closed checks that the ticket's channel is closed (after draining).
func closed(t *testing.T, tk *routing.Ticket) {
	t.Helper()
	for {
		select {
		case _, ok := <-tk.Updates():
			if !ok {
				return
			}
		case <-time.After(10 * time.Second):
			t.Fatal("ticket not closed")
		}
	}
}

// metric returns the value of a counter/gauge series from the registry.
func (h *harness) metric(name string, labels map[string]string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}
