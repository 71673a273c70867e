package dialer

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// PaceInput is what a pacer sees when it decides how many calls to place.
type PaceInput struct {
	Now time.Time
	// Ready is the number of agents ready for this campaign and not yet reserved.
	Ready int
	// Busy holds, for each agent busy with this campaign's calls (talking or wrapping
	// up), how long it has been busy.
	Busy []time.Duration
	// Ringing holds, for each dial without a reserved agent not yet answered, how
	// long it has been ringing. Calls with a reserved agent (progressive) are left out:
	// they need no other agent.
	Ringing []time.Duration
	// Classifying is the number of answered calls without a reserved agent whose AMD
	// verdict is pending.
	Classifying int
	// Waiting is the number of live answers waiting for an agent right now.
	Waiting int
	// FreeChannels is how many more calls the trunk and campaign allow (<0: no limit).
	FreeChannels int
	// Abandon is the campaign's 30-day live answers and abandons.
	Abandon AbandonStats
}

// Plan is a pacer's decision.
type Plan struct {
	Dials int
	// Reserve asks the runner to reserve one agent per dial before dialing
	// (progressive), so that a live answer always finds its agent.
	Reserve bool
	// Mode is the pacing actually applied (predictive falls back to progressive).
	Mode Pacing
	// Threshold is the largest chance, per dial, that a live answer would find no agent
	// (0 for progressive).
	Threshold float64
	// Why explains a fallback, for logs.
	Why string
}

// String formats the plan for logs.
func (p Plan) String() string {
	s := fmt.Sprintf("%s: %d dials", p.Mode, p.Dials)
	if p.Threshold > 0 {
		s += fmt.Sprintf(", risk <= %.3f", p.Threshold)
	}
	if p.Why != "" {
		s += " (" + p.Why + ")"
	}
	return s
}

// PacerOptions tunes a Pacer.
type PacerOptions struct {
	Mode Pacing
	// Target is the 30-day abandon target, held as a 95% upper confidence bound.
	Target float64
	// MinLive is the number of live answers in the 30-day window below which
	// predictive falls back to progressive. Default: the smallest count whose upper
	// bound with zero abandons is under Target (299 at 1%, 99 at 3%), at least 100.
	MinLive int
	// MinSamples is the number of dial outcomes the estimator needs (default 100).
	MinSamples int
	// LookAhead is the number of coming live answers over which the abandon budget is
	// spread (default 200).
	LookAhead int
	// Gain maps the abandon budget per live answer to the per-dial risk threshold
	// (default 1).
	Gain float64
	// MaxRisk caps the per-dial threshold (default 0.35).
	MaxRisk float64
	// Margin is the number of abandons kept in reserve under the bound, beyond the
	// high quantile of those the calls in flight may cause (default 4).
	Margin float64
	// FixedRisk, when above 0, replaces the budget-driven threshold and lifts the
	// bound check (experiments and simulator studies only: it ignores the target).
	FixedRisk float64
	// MaxPerStep caps the dials of one decision (default 50).
	MaxPerStep int
	// Grace is how long a live answer may wait for an agent after its greeting (2s).
	Grace time.Duration
	// AMDDelay is the expected time from answer to a human verdict (default 1.8s).
	AMDDelay time.Duration
}

// Pacer decides how many calls to place. Predictive pacing dials n calls when the
// n-th call's chance of being a live answer with no agent within the grace period is
// at most a threshold; the threshold follows the abandon budget left under the 30-day
// confidence bound, and is 0 (progressive) when there is none or too little data. It
// is safe for concurrent use.
type Pacer struct {
	o   PacerOptions
	est *Estimator

	mu   sync.Mutex
	kmax map[int]float64
	bufs sync.Pool // *[]float64 for distributions
}

// NewPacer returns a pacer; est supplies the live-answer rate, ring and handle times.
func NewPacer(o PacerOptions, est *Estimator) *Pacer {
	if o.Mode == "" {
		o.Mode = Agentless
	}
	if o.Target <= 0 {
		o.Target = 0.01
	}
	if o.MinLive <= 0 {
		o.MinLive = 100
		for !UpperWithin(0, float64(o.MinLive), o.Target, 0.95) {
			o.MinLive++
		}
	}
	if o.MinSamples <= 0 {
		o.MinSamples = 100
	}
	if o.Margin <= 0 {
		o.Margin = 4
	}
	if o.LookAhead <= 0 {
		o.LookAhead = 200
	}
	if o.Gain <= 0 {
		o.Gain = 1
	}
	if o.MaxRisk <= 0 {
		o.MaxRisk = 0.35
	}
	if o.MaxPerStep <= 0 {
		o.MaxPerStep = 50
	}
	if o.Grace <= 0 {
		o.Grace = 2 * time.Second
	}
	if o.AMDDelay <= 0 {
		o.AMDDelay = 1800 * time.Millisecond
	}
	return &Pacer{o: o, est: est, kmax: map[int]float64{}}
}

// Options returns the options in effect.
func (p *Pacer) Options() PacerOptions { return p.o }

// String names the pacer.
func (p *Pacer) String() string { return fmt.Sprintf("pacer(%s, target %.3f)", p.o.Mode, p.o.Target) }

// Plan decides how many calls to place now.
func (p *Pacer) Plan(in PaceInput) Plan {
	var pl Plan
	switch p.o.Mode {
	case Agentless:
		pl = Plan{Mode: Agentless, Dials: p.o.MaxPerStep}
	case Progressive:
		pl = p.progressive(in, "")
	default:
		pl = p.predictive(in)
	}
	if in.FreeChannels >= 0 && pl.Dials > in.FreeChannels {
		pl.Dials = in.FreeChannels
	}
	pl.Dials = max(0, min(pl.Dials, p.o.MaxPerStep))
	return pl
}

// progressive dials one call per ready agent and reserves the agent. Calls still in
// flight without an agent (placed predictively) keep one ready agent each.
func (p *Pacer) progressive(in PaceInput, why string) Plan {
	n := in.Ready - len(in.Ringing) - in.Classifying - in.Waiting
	return Plan{Mode: Progressive, Dials: max(0, n), Reserve: true, Why: why}
}

// Threshold returns the per-dial risk allowed by the abandon budget, given the
// abandons already committed (expected from calls in flight, with a margin): 0 when
// there are too few live answers to know the rate, or when the 30-day count plus the
// committed abandons leaves no room under the target's confidence bound.
//
// The budget is the number of abandons the campaign can add over its next LookAhead
// live answers with the one-sided 95% Clopper-Pearson bound still at most the target;
// the threshold is Gain times that budget per live answer, capped at MaxRisk.
func (p *Pacer) Threshold(s AbandonStats, committed float64) (float64, string) {
	if s.Live < p.o.MinLive {
		return 0, fmt.Sprintf("fallback: %d live answers < %d", s.Live, p.o.MinLive)
	}
	k := float64(s.Abandoned) + committed
	if k > p.kMax(s.Live) {
		return 0, "fallback: abandon bound at target"
	}
	m := float64(p.o.LookAhead)
	a := (p.kMax(s.Live+p.o.LookAhead) - k) / m
	if a <= 0 {
		return 0, "fallback: abandon bound at target"
	}
	return math.Min(p.o.MaxRisk, p.o.Gain*a), ""
}

// kMax returns the largest (fractional) abandon count that n live answers may hold
// with the upper bound at most the target. Cached per n.
func (p *Pacer) kMax(n int) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := p.kmax[n]; ok {
		return v
	}
	tau, nf := p.o.Target, float64(n)
	hi := -1.0
	if UpperWithin(0, nf, tau, 0.95) {
		// The bound is near tau*n - 1.645*sqrt(n*tau); bracket around it, then bisect.
		guess := tau*nf - 1.645*math.Sqrt(nf*tau*(1-tau))
		lo, up := math.Max(0, guess-4), math.Min(tau*nf, guess+4)
		for lo > 0 && !UpperWithin(lo, nf, tau, 0.95) {
			lo = math.Max(0, lo-8)
		}
		for up < tau*nf && UpperWithin(up, nf, tau, 0.95) {
			up = math.Min(tau*nf, up+8)
		}
		for range 10 {
			mid := (lo + up) / 2
			if UpperWithin(mid, nf, tau, 0.95) {
				lo = mid
			} else {
				up = mid
			}
		}
		hi = lo
	}
	if len(p.kmax) > 1<<14 {
		clear(p.kmax)
	}
	p.kmax[n] = hi
	return hi
}

func (p *Pacer) predictive(in PaceInput) Plan {
	if n := p.est.Samples(); n < p.o.MinSamples {
		return p.progressive(in, fmt.Sprintf("fallback: %d dial outcomes < %d", n, p.o.MinSamples))
	}
	if in.Abandon.Live < p.o.MinLive {
		return p.progressive(in, fmt.Sprintf("fallback: %d live answers < %d", in.Abandon.Live, p.o.MinLive))
	}
	st := p.est.Snapshot()
	if st.Live <= 0 {
		return p.progressive(in, "fallback: no live answers measured")
	}
	// Horizon: when a call placed now, if answered live, needs its agent.
	h := st.MeanAnswerRing + p.o.AMDDelay + p.o.Grace
	// D = live answers - free agents at the horizon, over the calls already in flight.
	buf, _ := p.bufs.Get().(*[]float64)
	if buf == nil {
		buf = new([]float64)
	}
	defer p.bufs.Put(buf)
	d := newDist(-in.Ready, (*buf)[:0])
	for _, e := range in.Busy {
		d.addNeg(st.freeWithin(e, h))
	}
	d.shift(in.Waiting)
	liveIfAnswered := math.Min(1, st.Live/math.Max(st.Answer, 1e-9))
	for range in.Classifying {
		d.add(liveIfAnswered)
	}
	for _, e := range in.Ringing {
		d.add(st.liveGivenRinging(e))
	}
	// Abandons the calls in flight may still cause: a high quantile plus one, so that
	// bad luck on calls already placed does not carry the bound over the target.
	mean, sd := d.positivePart()
	theta, why := p.Threshold(in.Abandon, mean+2.33*sd+p.o.Margin)
	if p.o.FixedRisk > 0 {
		theta, why = p.o.FixedRisk, ""
	}
	if theta <= 0 {
		return p.progressive(in, why)
	}
	// Dial while the next call's chance of finding no agent is within the threshold,
	// and while the abandons all calls in flight may cause (a high quantile, plus one)
	// would still leave the 30-day bound at the target.
	room := p.kMax(in.Abandon.Live) - float64(in.Abandon.Abandoned) - p.o.Margin
	if p.o.FixedRisk > 0 {
		room = math.Inf(1)
	}
	n := 0
	for n < p.o.MaxPerStep && d.atLeast(0) <= theta {
		d.add(st.Live)
		if mean, sd := d.positivePart(); mean+2.33*sd > room {
			break
		}
		n++
	}
	*buf = d.p
	return Plan{Mode: Predictive, Dials: n, Threshold: theta}
}

// dist is a probability mass function over consecutive integers starting at off.
type dist struct {
	p   []float64
	off int
}

func newDist(off int, buf []float64) dist {
	return dist{p: append(buf[:0], 1), off: off}
}

// add convolves with a Bernoulli(q) variable, in place.
func (d *dist) add(q float64) {
	if q <= 0 {
		return
	}
	d.p = append(d.p, 0)
	for i := len(d.p) - 2; i >= 0; i-- {
		d.p[i+1] += d.p[i] * q
		d.p[i] *= 1 - q
	}
}

// addNeg convolves with minus a Bernoulli(q) variable (an agent that may free up).
func (d *dist) addNeg(q float64) {
	if q <= 0 {
		return
	}
	d.p = append(d.p, 0)
	for i := len(d.p) - 2; i >= 0; i-- {
		d.p[i+1] += d.p[i] * (1 - q)
		d.p[i] *= q
	}
	d.off--
}

func (d *dist) shift(k int) { d.off += k }

// atLeast returns P(X >= k).
func (d *dist) atLeast(k int) float64 {
	s := 0.0
	for i := max(0, k-d.off); i < len(d.p); i++ {
		s += d.p[i]
	}
	return s
}

// positivePart returns the mean and standard deviation of max(X, 0): the expected
// abandons of the calls in flight.
func (d *dist) positivePart() (mean, sd float64) {
	var m1, m2 float64
	for i := max(0, -d.off); i < len(d.p); i++ {
		x := float64(i + d.off)
		m1 += x * d.p[i]
		m2 += x * x * d.p[i]
	}
	return m1, math.Sqrt(math.Max(0, m2-m1*m1))
}

// ---- estimator ----

// DialObservation is the outcome of one dial, for the estimator.
type DialObservation struct {
	Answered bool          // someone or something answered
	Live     bool          // a person (AMD human or unsure)
	Ring     time.Duration // dial to answer (answered calls)
}

// Estimator keeps recent dial outcomes, ring times and handle times of a campaign in
// bounded windows. It is safe for concurrent use.
type Estimator struct {
	mu      sync.Mutex
	out     ring[uint8] // bit 0 answered, bit 1 live
	rings   ring[float64]
	handles ring[float64]
	prior   priorCounts
	// the last snapshot, recomputed after every refresh observations
	snap    *Estimates
	stale   int
	refresh int
}

type priorCounts struct {
	dials, answered, live float64
	ring, handle          float64
}

// NewEstimator returns an estimator keeping the last window dial outcomes (default
// 1000) and the last window/2 handle times.
func NewEstimator(window int) *Estimator {
	if window <= 0 {
		window = 1000
	}
	return &Estimator{out: newRing[uint8](window), rings: newRing[float64](window), handles: newRing[float64](window / 2),
		refresh: max(1, window/4)}
}

// Seed adds pseudo-observations from history (e.g. the last days in Postgres) so a
// restarted runner does not start blind.
func (e *Estimator) Seed(dials, answered, live int, meanRing, meanHandle time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.prior = priorCounts{float64(dials), float64(answered), float64(live), meanRing.Seconds(), meanHandle.Seconds()}
	e.snap = nil
}

// ObserveDial records one dial outcome.
func (e *Estimator) ObserveDial(o DialObservation) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b uint8
	if o.Answered {
		b |= 1
		e.rings.push(o.Ring.Seconds())
	}
	if o.Live {
		b |= 2
	}
	e.out.push(b)
	e.stale++
}

// ObserveHandle records how long an agent was busy with one live call (talk and wrap-up).
func (e *Estimator) ObserveHandle(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.handles.push(d.Seconds())
	e.stale++
}

// Samples returns the number of dial outcomes known (observed and seeded).
func (e *Estimator) Samples() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.out.n + int(e.prior.dials)
}

// Estimates are an estimator's current figures.
type Estimates struct {
	Answer         float64       // P(answered)
	Live           float64       // P(live answer)
	MeanAnswerRing time.Duration // mean ring time of answered calls
	MeanHandle     time.Duration
	ringS          survTable
	handleS        survTable
}

// survTable is an empirical survival function P(X > x) tabulated on a grid, or an
// exponential tail when there are too few samples.
type survTable struct {
	step float64   // grid step in seconds
	s    []float64 // s[i] = P(X > i*step)
	mean float64
}

func newSurvTable(sorted []float64, step, mean float64) survTable {
	t := survTable{step: step, mean: mean}
	if len(sorted) < 20 {
		return t
	}
	n := int(sorted[len(sorted)-1]/step) + 2
	t.s = make([]float64, n)
	j := 0
	for i := range t.s {
		x := float64(i) * step
		for j < len(sorted) && sorted[j] <= x {
			j++
		}
		t.s[i] = float64(len(sorted)-j) / float64(len(sorted))
	}
	return t
}

// at returns P(X > x), interpolating on the grid.
func (t survTable) at(x float64) float64 {
	if t.s == nil {
		return math.Exp(-x / math.Max(t.mean, 1e-9))
	}
	f := x / t.step
	i := int(f)
	if f < 0 {
		return 1
	}
	if i >= len(t.s)-1 {
		return 0
	}
	w := f - float64(i)
	return t.s[i]*(1-w) + t.s[i+1]*w
}

// Snapshot returns the current estimates. They are recomputed after every few
// observations (a quarter of the window), not on every call.
func (e *Estimator) Snapshot() Estimates {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.snap != nil && e.stale < e.refresh {
		return *e.snap
	}
	var ans, live float64
	for _, b := range e.out.items() {
		if b&1 != 0 {
			ans++
		}
		if b&2 != 0 {
			live++
		}
	}
	n := float64(e.out.n) + e.prior.dials
	st := Estimates{}
	if n > 0 {
		st.Answer = (ans + e.prior.answered) / n
		st.Live = (live + e.prior.live) / n
	}
	rs := slices.Sorted(slices.Values(e.rings.items()))
	hs := slices.Sorted(slices.Values(e.handles.items()))
	st.MeanAnswerRing = secs(meanOr(rs, e.prior.ring, 10))
	st.MeanHandle = secs(meanOr(hs, e.prior.handle, 180))
	st.ringS = newSurvTable(rs, 0.25, st.MeanAnswerRing.Seconds())
	st.handleS = newSurvTable(hs, 1, st.MeanHandle.Seconds())
	e.snap, e.stale = &st, 0
	return st
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func meanOr(xs []float64, prior, def float64) float64 {
	if len(xs) == 0 {
		if prior > 0 {
			return prior
		}
		return def
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// freeWithin is the chance that an agent busy for e frees up within h.
func (s Estimates) freeWithin(e, h time.Duration) float64 {
	mean := s.MeanHandle.Seconds()
	se := s.handleS.at(e.Seconds())
	if se <= 0 {
		// busier than any call seen: assume a memoryless rest of the call
		return 1 - math.Exp(-h.Seconds()/math.Max(mean/4, 1))
	}
	return math.Max(0, math.Min(1, (se-s.handleS.at((e+h).Seconds()))/se))
}

// liveGivenRinging is the chance that a dial still ringing after e becomes a live answer.
func (s Estimates) liveGivenRinging(e time.Duration) float64 {
	if s.Answer <= 0 {
		return 0
	}
	sr := s.ringS.at(e.Seconds())
	den := s.Answer*sr + (1 - s.Answer)
	if den <= 0 {
		return 0
	}
	return s.Live * sr / den
}

// ring is a fixed-size circular buffer.
type ring[T any] struct {
	buf  []T
	next int
	n    int
}

func newRing[T any](size int) ring[T] { return ring[T]{buf: make([]T, max(size, 1))} }

func (r *ring[T]) push(v T) {
	r.buf[r.next] = v
	r.next = (r.next + 1) % len(r.buf)
	if r.n < len(r.buf) {
		r.n++
	}
}

func (r *ring[T]) items() []T {
	if r.n < len(r.buf) {
		return r.buf[:r.n]
	}
	return r.buf
}
