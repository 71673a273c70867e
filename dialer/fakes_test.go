package dialer

import (
	"context"
	"io"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/careline/careline/store"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ---- clock ----

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// ---- audio ----

// pcm builds audio: ("v", ms) voice, ("s", ms) silence, ("b", ms) a 1 kHz beep.
func pcm(parts ...any) []int16 {
	var out []int16
	state := uint32(99)
	for i := 0; i < len(parts); i += 2 {
		kind, ms := parts[i].(string), parts[i+1].(int)
		n := ms * 8
		for j := range n {
			var v float64
			switch kind {
			case "v":
				state = state*1664525 + 1013904223
				v = float64(int32(state)>>20) * 4
			case "b":
				v = 6000 * math.Sin(2*math.Pi*1000*float64(j)/8000)
			}
			out = append(out, int16(v))
		}
	}
	return out
}

var (
	humanAudio   = pcm("s", 300, "v", 400, "s", 3000)
	machineAudio = pcm("s", 200, "v", 3000, "s", 300, "b", 500, "s", 3000)
	// beepEndFrame is the frame at which machineAudio's beep ends.
	beepEndFrame = (200 + 3000 + 300 + 500) / 20
)

type fakeAudio struct {
	mu     sync.Mutex
	pcm    []int16
	frames int
}

func (a *fakeAudio) ReadFrame(ctx context.Context) ([]int16, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	i := a.frames * 160
	if i >= len(a.pcm) {
		return nil, io.EOF
	}
	a.frames++
	return a.pcm[i:min(i+160, len(a.pcm))], nil
}

func (a *fakeAudio) read() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.frames
}

// ---- calls ----

type played struct {
	lang    string
	prompts []string
	atFrame int // audio frames consumed before the playback started
}

type fakeCall struct {
	audio *fakeAudio
	keys  []string // key returned by each Play, in order
	mu    sync.Mutex
	plays []played
	hung  bool
}

func (c *fakeCall) Audio() Audio { return c.audio }

func (c *fakeCall) Play(ctx context.Context, lang string, prompts []string, wait time.Duration) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.plays = append(c.plays, played{lang, slices.Clone(prompts), c.audio.read()})
	if len(c.keys) > 0 {
		k := c.keys[0]
		c.keys = c.keys[1:]
		return k, nil
	}
	return "", nil
}

func (c *fakeCall) Hangup(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hung = true
	return nil
}

// answer describes how a fake patient's phone behaves.
type answer struct {
	err   error // the dial fails with this
	audio []int16
	keys  []string // keys pressed at each Play (abandon message)
	flow  Disposition
	block chan struct{} // the dial hangs until closed (a node about to die)
}

type dialRec struct {
	to  string
	at  time.Time
	req DialRequest
}

type fakeDialer struct {
	clock   *fakeClock
	mu      sync.Mutex
	answers map[string]answer // by phone; default: no answer
	dials   []dialRec
	calls   map[string][]*fakeCall
	started chan string // phone, when a dial starts (optional)
}

func newDialer(clock *fakeClock) *fakeDialer {
	return &fakeDialer{clock: clock, answers: map[string]answer{}, calls: map[string][]*fakeCall{}}
}

func (d *fakeDialer) set(phone string, a answer) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.answers[phone] = a
}

func (d *fakeDialer) Dial(ctx context.Context, req DialRequest) (Call, error) {
	d.mu.Lock()
	d.dials = append(d.dials, dialRec{req.To, d.clock.Now(), req})
	a, ok := d.answers[req.To]
	started := d.started
	d.mu.Unlock()
	if started != nil {
		started <- req.To
	}
	if a.block != nil {
		select {
		case <-a.block:
			return nil, &DialError{Result: DialCancelled}
		case <-ctx.Done():
			return nil, &DialError{Result: DialCancelled, Err: ctx.Err()}
		}
	}
	if !ok {
		return nil, &DialError{Result: DialNoAnswer, Status: 480, Retryable: true}
	}
	if a.err != nil {
		return nil, a.err
	}
	c := &fakeCall{audio: &fakeAudio{pcm: a.audio}, keys: slices.Clone(a.keys)}
	d.mu.Lock()
	d.calls[req.To] = append(d.calls[req.To], c)
	d.mu.Unlock()
	return c, nil
}

func (d *fakeDialer) dialsTo(phone string) []dialRec {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []dialRec
	for _, x := range d.dials {
		if x.to == phone {
			out = append(out, x)
		}
	}
	return out
}

func (d *fakeDialer) total() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.dials)
}

// ---- flows ----

type fakeFlows struct {
	d  *fakeDialer
	mu sync.Mutex
	// requests seen
	reqs []FlowRequest
}

func (f *fakeFlows) RunFlow(ctx context.Context, call Call, req FlowRequest) (FlowResult, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	// The fake patient's scripted choice: find the phone by the call.
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	for phone, cs := range f.d.calls {
		for _, c := range cs {
			if c == call {
				a := f.d.answers[phone]
				_, _ = c.Play(ctx, req.Language, []string{"dialer/identification", "dialer/refill_ready"}, 0)
				return FlowResult{Disposition: a.flow, OptOut: a.flow == OptedOut}, nil
			}
		}
	}
	return FlowResult{Disposition: Failed}, nil
}

// ---- agents ----

type fakeAgent struct {
	p    *fakeAgents
	disp Disposition
	done bool
}

func (a *fakeAgent) Connect(ctx context.Context, call Call, info ConnectInfo) (Disposition, error) {
	a.p.mu.Lock()
	late := a.p.late
	if !late {
		a.p.connected++
	}
	a.p.connectBy = info.ConnectBy
	a.done = true
	a.p.mu.Unlock()
	a.p.release()
	if late {
		return "", ErrNoAgent
	}
	return a.disp, nil
}

func (a *fakeAgent) Release() {
	a.p.mu.Lock()
	done := a.done
	a.done = true
	a.p.mu.Unlock()
	if !done {
		a.p.release()
	}
}

type fakeAgents struct {
	mu        sync.Mutex
	ready     int
	claim     int // Snapshot reports this many ready when above 0 (agents lost to inbound calls)
	disp      Disposition
	connected int
	late      bool      // Connect finds no agent on the line by ConnectBy
	connectBy time.Time // the last ConnectInfo.ConnectBy
}

func (p *fakeAgents) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ready++
}

func (p *fakeAgents) Snapshot() AgentSnapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.claim > 0 {
		return AgentSnapshot{Ready: p.claim}
	}
	return AgentSnapshot{Ready: p.ready}
}

func (p *fakeAgents) TryReserve() (Agent, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ready == 0 {
		return nil, false
	}
	p.ready--
	return &fakeAgent{p: p, disp: p.disp}, true
}

func (p *fakeAgents) Reserve(ctx context.Context) (Agent, error) {
	if a, ok := p.TryReserve(); ok {
		return a, nil
	}
	<-ctx.Done()
	return nil, ErrNoAgent
}

// ---- events ----

type fakeEvents struct {
	mu  sync.Mutex
	evs []store.Event
}

func (e *fakeEvents) Append(ev store.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evs = append(e.evs, ev)
	return nil
}

func (e *fakeEvents) types() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.evs {
		out = append(out, ev.Type)
	}
	return out
}

// ---- runner harness ----

type harness struct {
	t      *testing.T
	clock  *fakeClock
	dialer *fakeDialer
	flows  *fakeFlows
	events *fakeEvents
	gate   *Gate
	m      *Metrics
}

func newHarness(t *testing.T, now time.Time, rules Rules) *harness {
	clock := newClock(now)
	d := newDialer(clock)
	m := NewMetrics(nil)
	return &harness{t: t, clock: clock, dialer: d, flows: &fakeFlows{d: d}, events: &fakeEvents{},
		gate: NewGate(rules, WithGateMetrics(m)), m: m}
}

func (h *harness) runner(c *Campaign, p *pgxpool.Pool, node string, extra ...RunnerOption) *Runner {
	h.t.Helper()
	opts := append([]RunnerOption{WithDialer(h.dialer), WithFlows(h.flows), WithEvents(h.events),
		WithClock(h.clock.Now), WithGate(h.gate), WithMetrics(h.m), WithNode(node)}, extra...)
	r, err := NewRunner(c, p, opts...)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// step runs one Step and waits for its calls.
func (h *harness) step(r *Runner) StepReport {
	h.t.Helper()
	rep, err := r.Step(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	r.Wait()
	return rep
}
