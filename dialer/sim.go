package dialer

import (
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// Dist is a distribution of durations for the simulator.
type Dist interface {
	Sample(r *rand.Rand) time.Duration
	Mean() time.Duration
	String() string
}

type constDist time.Duration

func (d constDist) Sample(*rand.Rand) time.Duration { return time.Duration(d) }
func (d constDist) Mean() time.Duration             { return time.Duration(d) }
func (d constDist) String() string                  { return time.Duration(d).String() }

// Const is a fixed duration.
func Const(d time.Duration) Dist { return constDist(d) }

type uniformDist struct{ lo, hi time.Duration }

func (d uniformDist) Sample(r *rand.Rand) time.Duration {
	return d.lo + time.Duration(r.Float64()*float64(d.hi-d.lo))
}
func (d uniformDist) Mean() time.Duration { return (d.lo + d.hi) / 2 }
func (d uniformDist) String() string      { return fmt.Sprintf("uniform(%s..%s)", d.lo, d.hi) }

// Uniform is uniform between lo and hi.
func Uniform(lo, hi time.Duration) Dist { return uniformDist{lo, hi} }

type expDist time.Duration

func (d expDist) Sample(r *rand.Rand) time.Duration {
	return time.Duration(r.ExpFloat64() * float64(d))
}
func (d expDist) Mean() time.Duration { return time.Duration(d) }
func (d expDist) String() string      { return fmt.Sprintf("exp(%s)", time.Duration(d)) }

// Exponential has the given mean.
func Exponential(mean time.Duration) Dist { return expDist(mean) }

type logNormalDist struct {
	mu, sigma float64 // of log seconds
	mean, sd  time.Duration
}

func (d logNormalDist) Sample(r *rand.Rand) time.Duration {
	return secs(math.Exp(d.mu + d.sigma*r.NormFloat64()))
}
func (d logNormalDist) Mean() time.Duration { return d.mean }
func (d logNormalDist) String() string      { return fmt.Sprintf("lognormal(%s±%s)", d.mean, d.sd) }

// LogNormal has the given mean and standard deviation.
func LogNormal(mean, sd time.Duration) Dist {
	m, s := mean.Seconds(), sd.Seconds()
	s2 := math.Log(1 + s*s/(m*m))
	return logNormalDist{mu: math.Log(m) - s2/2, sigma: math.Sqrt(s2), mean: mean, sd: sd}
}

// ParseDist reads a distribution written for a command line: "180s" (fixed),
// "exp:180s", "uniform:5s:20s" or "lognormal:180s:90s" (mean and standard deviation).
func ParseDist(s string) (Dist, error) {
	parts := strings.Split(strings.TrimSpace(s), ":")
	durs := make([]time.Duration, 0, 2)
	for _, p := range parts[min(1, len(parts)-1):] {
		d, err := time.ParseDuration(p)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("dialer: distribution %q: bad duration %q", s, p)
		}
		durs = append(durs, d)
	}
	switch {
	case len(parts) == 1:
		return Const(durs[0]), nil
	case parts[0] == "exp" && len(durs) == 1 && durs[0] > 0:
		return Exponential(durs[0]), nil
	case parts[0] == "uniform" && len(durs) == 2 && durs[0] <= durs[1]:
		return Uniform(durs[0], durs[1]), nil
	case parts[0] == "lognormal" && len(durs) == 2 && durs[0] > 0:
		return LogNormal(durs[0], durs[1]), nil
	}
	return nil, fmt.Errorf("dialer: distribution %q: want 180s, exp:180s, uniform:5s:20s or lognormal:180s:90s", s)
}

// SimOptions describes a simulated campaign. Zero fields take the defaults noted.
type SimOptions struct {
	Mode   Pacing // progressive or predictive
	Agents int    // default 20
	// LiveAnswerProb is the chance a dial reaches a person (default 0.25); MachineRate
	// an answering machine (default 0.25); BusyRate a busy signal (default 0.05). The
	// rest ring out.
	LiveAnswerProb, MachineRate, BusyRate float64
	RingTime                              Dist          // dial to answer (default lognormal 9s±4s)
	RingTimeout                           time.Duration // unanswered calls (default 25s)
	HandleTime                            Dist          // agent talk time (default lognormal 180s±90s)
	WrapUp                                Dist          // after-call work (default none)
	// AMDHuman and AMDMachine are answer-to-verdict times (defaults 1.8s±0.3s, 3.5s±1s);
	// AfterGreeting is the silence AMD waits after the greeting (800ms), so a person's
	// greeting ends AfterGreeting before the verdict.
	AMDHuman, AMDMachine Dist
	AfterGreeting        time.Duration
	Days                 int     // default 10
	HoursPerDay          float64 // shift length (default 8)
	Seed                 uint64
	AbandonTarget        float64       // default 0.03
	Tick                 time.Duration // decision interval (default 1s; also after each agent frees)
	MaxChannels          int           // 0: unlimited
	// Pacer overrides pacer options (Mode and Target are taken from above).
	Pacer PacerOptions
}

func (o *SimOptions) defaults() {
	if o.Mode == "" {
		o.Mode = Predictive
	}
	if o.Agents <= 0 {
		o.Agents = 20
	}
	if o.LiveAnswerProb <= 0 {
		o.LiveAnswerProb = 0.25
	}
	if o.MachineRate <= 0 {
		o.MachineRate = 0.25
	}
	if o.BusyRate <= 0 {
		o.BusyRate = 0.05
	}
	if o.RingTime == nil {
		o.RingTime = LogNormal(9*time.Second, 4*time.Second)
	}
	if o.RingTimeout <= 0 {
		o.RingTimeout = 25 * time.Second
	}
	if o.HandleTime == nil {
		o.HandleTime = LogNormal(180*time.Second, 90*time.Second)
	}
	if o.WrapUp == nil {
		o.WrapUp = Const(0)
	}
	if o.AMDHuman == nil {
		o.AMDHuman = Uniform(1500*time.Millisecond, 2100*time.Millisecond)
	}
	if o.AMDMachine == nil {
		o.AMDMachine = Uniform(2500*time.Millisecond, 4500*time.Millisecond)
	}
	if o.AfterGreeting <= 0 {
		o.AfterGreeting = 800 * time.Millisecond
	}
	if o.Days <= 0 {
		o.Days = 10
	}
	if o.HoursPerDay <= 0 {
		o.HoursPerDay = 8
	}
	if o.AbandonTarget <= 0 {
		o.AbandonTarget = 0.03
	}
	if o.Tick <= 0 {
		o.Tick = time.Second
	}
}

// SimReport is what a simulation measured.
type SimReport struct {
	Mode                    Pacing
	Agents, Days            int
	AgentHours              float64
	TalkMinutesPerAgentHour float64 // agent talk time per logged-in hour
	Occupancy               float64 // (talk + wrap-up) / logged-in time
	Dials                   int
	DialsPerHour            float64
	LiveAnswers             int
	Connected               int
	Abandoned               int
	Machines                int
	AbandonRate             float64 // abandoned / live answers (the 30-day window at the end)
	AbandonUpper            float64 // its one-sided 95% Clopper-Pearson bound
	MaxDailyAbandonRate     float64
	// MaxAbandonUpper is the highest upper bound seen after any abandon, once the
	// window held the pacer's minimum of live answers.
	MaxAbandonUpper float64
	MaxUpperAtLive  int     // the live answers in the window at that moment
	FallbackShare   float64 // share of pacing decisions that fell back to progressive
	Target          float64
}

// String formats the report as one table row.
func (r SimReport) String() string {
	return fmt.Sprintf("%-11s agents=%d days=%d talk=%.1f min/agent-h occupancy=%.1f%% dials/h=%.0f live=%d abandoned=%d rate=%.2f%% ucb95=%.2f%% fallback=%.1f%%",
		r.Mode, r.Agents, r.Days, r.TalkMinutesPerAgentHour, 100*r.Occupancy, r.DialsPerHour, r.LiveAnswers,
		r.Abandoned, 100*r.AbandonRate, 100*r.AbandonUpper, 100*r.FallbackShare)
}

// SimTable formats reports as a Markdown table.
func SimTable(rs ...SimReport) string {
	var b strings.Builder
	b.WriteString("| mode | target | talk min/agent-h | occupancy | dials/h | live answers | abandoned | abandon rate | UCB95 | fallback decisions |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %.0f%% | %.1f | %.1f%% | %.0f | %d | %d | %.2f%% | %.2f%% | %.1f%% |\n", r.Mode, 100*r.Target,
			r.TalkMinutesPerAgentHour, 100*r.Occupancy, r.DialsPerHour, r.LiveAnswers, r.Abandoned,
			100*r.AbandonRate, 100*r.AbandonUpper, 100*r.FallbackShare)
	}
	return b.String()
}

// ---- discrete-event model ----

type evKind int

const (
	evTick evKind = iota
	evAnswer
	evRingOut
	evVerdict
	evDeadline
	evAgentFree
	evChannelFree
	evShiftEnd
)

type simEvent struct {
	at   time.Duration
	kind evKind
	call *simCall
	ag   int
	seq  uint64
}

type evHeap []*simEvent

func (h evHeap) Len() int { return len(h) }
func (h evHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h evHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *evHeap) Push(x any)   { *h = append(*h, x.(*simEvent)) }
func (h *evHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type callState int

const (
	csRinging callState = iota
	csClassifying
	csWaiting
	csDone
)

type simCall struct {
	placed   time.Duration
	answered time.Duration
	kind     int // 0 live, 1 machine, 2 busy, 3 no answer
	state    callState
	agent    int // reserved or connected agent, -1 none
	idx      int // position in its state list
}

type agentState int

const (
	agIdle agentState = iota
	agReserved
	agBusy
	agOff
)

type simAgent struct {
	state agentState
	since time.Duration
}

type simulator struct {
	o       SimOptions
	r       *rand.Rand
	now     time.Duration
	seq     uint64
	q       evHeap
	pacer   *Pacer
	est     *Estimator
	agents  []simAgent
	ringing []*simCall
	classif int // answered, verdict pending, no reserved agent
	waiting []*simCall
	chans   int
	dialing bool
	// 30-day window of live answers and abandons, per day
	liveDay, abDay []int
	day            int
	rep            SimReport
	talk, busy     time.Duration
	decisions      int
	fallbacks      int
	shiftStart     time.Duration
	shiftEnd       time.Duration
	busyBuf        []time.Duration
	ringBuf        []time.Duration
}

// Simulate runs the real Pacer and Estimator against a discrete-event model of a
// campaign (a virtual clock: nothing sleeps) and reports agent utilisation and the
// abandon rate with its upper confidence bound.
func Simulate(o SimOptions) SimReport {
	o.defaults()
	s := &simulator{o: o, r: rand.New(rand.NewPCG(o.Seed, 0x6469616c6572))}
	s.est = NewEstimator(1000)
	po := o.Pacer
	po.Mode, po.Target = o.Mode, o.AbandonTarget
	s.pacer = NewPacer(po, s.est)
	s.agents = make([]simAgent, o.Agents)
	s.liveDay, s.abDay = make([]int, o.Days), make([]int, o.Days)
	shift := time.Duration(o.HoursPerDay * float64(time.Hour))
	for d := 0; d < o.Days; d++ {
		s.day = d
		s.shiftStart = time.Duration(d) * 24 * time.Hour
		s.shiftEnd = s.shiftStart + shift
		s.now = s.shiftStart
		for i := range s.agents {
			s.agents[i] = simAgent{state: agIdle, since: s.now}
		}
		s.dialing = true
		s.push(s.shiftStart, evTick, nil, -1)
		s.push(s.shiftEnd, evShiftEnd, nil, -1)
		for s.q.Len() > 0 {
			e := heap.Pop(&s.q).(*simEvent)
			s.now = e.at
			s.handle(e)
		}
		if s.liveDay[d] > 0 {
			s.rep.MaxDailyAbandonRate = math.Max(s.rep.MaxDailyAbandonRate, float64(s.abDay[d])/float64(s.liveDay[d]))
		}
	}
	r := s.rep
	r.Mode, r.Agents, r.Days, r.Target = o.Mode, o.Agents, o.Days, o.AbandonTarget
	r.AgentHours = float64(o.Agents) * o.HoursPerDay * float64(o.Days)
	r.TalkMinutesPerAgentHour = s.talk.Minutes() / r.AgentHours
	r.Occupancy = s.busy.Hours() / r.AgentHours
	r.DialsPerHour = float64(r.Dials) / (o.HoursPerDay * float64(o.Days))
	st := s.window()
	r.AbandonRate, r.AbandonUpper = st.Ratio(), st.Upper()
	if s.decisions > 0 {
		r.FallbackShare = float64(s.fallbacks) / float64(s.decisions)
	}
	return r
}

func (s *simulator) push(at time.Duration, k evKind, c *simCall, ag int) {
	s.seq++
	heap.Push(&s.q, &simEvent{at: at, kind: k, call: c, ag: ag, seq: s.seq})
}

func (s *simulator) window() AbandonStats {
	var st AbandonStats
	for d := max(0, s.day-29); d <= s.day && d < len(s.liveDay); d++ {
		st.Live += s.liveDay[d]
		st.Abandoned += s.abDay[d]
	}
	return st
}

// clip counts the part of [from, to) inside the shift.
func (s *simulator) clip(from, to time.Duration) time.Duration {
	from, to = max(from, s.shiftStart), min(to, s.shiftEnd)
	return max(0, to-from)
}

func (s *simulator) handle(e *simEvent) {
	switch e.kind {
	case evTick:
		if s.dialing {
			s.decide()
			s.push(s.now+s.o.Tick, evTick, nil, -1)
		}
	case evShiftEnd:
		s.dialing = false
	case evAnswer:
		c := e.call
		s.unring(c)
		c.answered, c.state = s.now, csClassifying
		if c.agent < 0 {
			s.classif++
		}
		v := s.o.AMDHuman
		if c.kind == 1 {
			v = s.o.AMDMachine
		}
		s.push(s.now+v.Sample(s.r), evVerdict, c, -1)
	case evRingOut:
		c := e.call
		s.unring(c)
		s.est.ObserveDial(DialObservation{})
		s.endCall(c)
		s.releaseReserved(c)
	case evVerdict:
		c := e.call
		if c.agent < 0 {
			s.classif--
		}
		live := c.kind == 0
		s.est.ObserveDial(DialObservation{Answered: true, Live: live, Ring: c.answered - c.placed})
		if !live {
			s.rep.Machines++
			s.releaseReserved(c)
			// the voicemail drop holds the channel, not an agent
			s.push(s.now+25*time.Second, evChannelFree, c, -1)
			return
		}
		s.rep.LiveAnswers++
		s.liveDay[s.day]++
		if c.agent >= 0 { // progressive: the reserved agent takes it
			s.connect(c, c.agent)
			return
		}
		if ag := s.idleAgent(); ag >= 0 {
			s.connect(c, ag)
			return
		}
		c.state = csWaiting
		s.waiting = append(s.waiting, c)
		deadline := s.now - s.o.AfterGreeting + 2*time.Second
		s.push(max(deadline, s.now), evDeadline, c, -1)
	case evDeadline:
		c := e.call
		if c.state != csWaiting {
			return
		}
		s.removeWaiting(c)
		c.state = csDone
		s.rep.Abandoned++
		s.abDay[s.day]++
		if st := s.window(); st.Live >= s.pacer.o.MinLive {
			if u := st.Upper(); u > s.rep.MaxAbandonUpper {
				s.rep.MaxAbandonUpper, s.rep.MaxUpperAtLive = u, st.Live
			}
		}
		// the identification and opt-out message holds the channel a few seconds
		s.push(s.now+8*time.Second, evChannelFree, c, -1)
	case evAgentFree:
		a := &s.agents[e.ag]
		s.busy += s.clip(a.since, s.now)
		a.state, a.since = agIdle, s.now
		if len(s.waiting) > 0 {
			c := s.waiting[0]
			s.removeWaiting(c)
			s.connect(c, e.ag)
			return
		}
		if s.dialing {
			s.decide()
		}
	case evChannelFree:
		s.endCall(e.call)
	}
}

func (s *simulator) unring(c *simCall) {
	last := s.ringing[len(s.ringing)-1]
	s.ringing[c.idx], last.idx = last, c.idx
	s.ringing = s.ringing[:len(s.ringing)-1]
}

func (s *simulator) endCall(c *simCall) {
	c.state = csDone
	s.chans--
}

func (s *simulator) releaseReserved(c *simCall) {
	if c.agent >= 0 {
		a := &s.agents[c.agent]
		a.state, a.since = agIdle, s.now
		c.agent = -1
	}
}

func (s *simulator) removeWaiting(c *simCall) {
	for i, w := range s.waiting {
		if w == c {
			s.waiting = append(s.waiting[:i], s.waiting[i+1:]...)
			return
		}
	}
}

func (s *simulator) idleAgent() int {
	best := -1
	for i, a := range s.agents {
		if a.state == agIdle && (best < 0 || a.since < s.agents[best].since) {
			best = i
		}
	}
	return best
}

func (s *simulator) connect(c *simCall, ag int) {
	c.state, c.agent = csDone, ag
	s.rep.Connected++
	talk := s.o.HandleTime.Sample(s.r)
	wrap := s.o.WrapUp.Sample(s.r)
	s.talk += s.clip(s.now, s.now+talk)
	a := &s.agents[ag]
	a.state, a.since = agBusy, s.now
	s.est.ObserveHandle(talk + wrap)
	s.push(s.now+talk+wrap, evAgentFree, nil, ag)
	// the patient's leg ends with the talk
	s.push(s.now+talk, evChannelFree, c, -1)
}

func (s *simulator) decide() {
	in := PaceInput{Classifying: s.classif, Waiting: len(s.waiting), FreeChannels: -1, Abandon: s.window(),
		Busy: s.busyBuf[:0], Ringing: s.ringBuf[:0]}
	if s.o.MaxChannels > 0 {
		in.FreeChannels = max(0, s.o.MaxChannels-s.chans)
	}
	for _, a := range s.agents {
		switch a.state {
		case agIdle:
			in.Ready++
		case agBusy:
			in.Busy = append(in.Busy, s.now-a.since)
		}
	}
	for _, c := range s.ringing {
		if c.agent < 0 {
			in.Ringing = append(in.Ringing, s.now-c.placed)
		}
	}
	s.busyBuf, s.ringBuf = in.Busy, in.Ringing
	pl := s.pacer.Plan(in)
	s.decisions++
	if pl.Mode != s.o.Mode {
		s.fallbacks++
	}
	for range pl.Dials {
		c := &simCall{placed: s.now, agent: -1}
		if pl.Reserve {
			ag := s.idleAgent()
			if ag < 0 {
				break
			}
			s.agents[ag].state = agReserved
			c.agent = ag
		}
		s.dial(c)
	}
}

func (s *simulator) dial(c *simCall) {
	s.rep.Dials++
	s.chans++
	c.idx = len(s.ringing)
	s.ringing = append(s.ringing, c)
	u := s.r.Float64()
	switch {
	case u < s.o.LiveAnswerProb:
		c.kind = 0
		s.push(s.now+s.o.RingTime.Sample(s.r), evAnswer, c, -1)
	case u < s.o.LiveAnswerProb+s.o.MachineRate:
		c.kind = 1
		s.push(s.now+s.o.RingTime.Sample(s.r), evAnswer, c, -1)
	case u < s.o.LiveAnswerProb+s.o.MachineRate+s.o.BusyRate:
		c.kind = 2
		s.push(s.now+Uniform(2*time.Second, 5*time.Second).Sample(s.r), evRingOut, c, -1)
	default:
		c.kind = 3
		s.push(s.now+s.o.RingTimeout, evRingOut, c, -1)
	}
}
