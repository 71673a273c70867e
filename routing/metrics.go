package routing

import (
	"slices"
	"sync"
	"time"

	"github.com/careline/careline/config"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the routing metrics. Labels come only from configuration (queue names)
// and bounded enums (states, outcomes, results): never agent ids or numbers.
//
// Gauges are what this node sees: calls waiting and the oldest wait count this node's
// callers (sum over nodes); careline_agents counts the shared agent records (every node
// reports the same cluster-wide figure: aggregate with max, not sum).
type Metrics struct {
	waiting   *prometheus.GaugeVec     // queue
	oldest    *prometheus.GaugeVec     // queue
	wait      *prometheus.HistogramVec // queue, outcome
	abandoned *prometheus.CounterVec   // queue
	agents    *prometheus.GaugeVec     // state
	rona      *prometheus.CounterVec   // queue
	offers    *prometheus.CounterVec   // queue, result
	short     *prometheus.CounterVec   // queue
	inSL      *prometheus.CounterVec   // queue
	slSeconds *prometheus.GaugeVec     // queue
	states    *stateClock              // state
}

// ShortAbandon is the wait under which an abandon counts as short (a caller who
// dialled by mistake or changed their mind): such abandons are counted apart in
// careline_queue_short_abandoned_total and left out of service level and abandonment
// rate. It is a wait histogram bucket boundary.
const ShortAbandon = 5 * time.Second

// Wait outcomes (label values of careline_queue_wait_seconds).
const (
	OutcomeAnswered   = "answered"
	OutcomeAbandoned  = "abandoned"
	OutcomeOverflowed = "overflowed"
	OutcomeCallback   = "callback"
)

// Offer result label values besides the Outcome values: an offer cancelled because the
// caller left.
const resultCancelled = "cancelled"

// DefaultWaitBuckets are the wait histogram buckets (seconds) before service levels
// are merged in.
var DefaultWaitBuckets = []float64{5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300, 600, 900, 1800, 3600}

// ServiceLevels returns every queue's service-level threshold, for NewMetrics.
func ServiceLevels(c *config.Config) []time.Duration {
	var out []time.Duration
	for _, q := range c.Queues {
		if q != nil && q.ServiceLevel > 0 {
			out = append(out, q.ServiceLevel)
		}
	}
	return out
}

// NewMetrics registers the routing metrics with reg. The wait histogram's buckets
// include each given service-level threshold, so the share answered within service
// level is exact: rate(careline_queue_wait_seconds_bucket{outcome="answered",le="60"}).
func NewMetrics(reg prometheus.Registerer, serviceLevels ...time.Duration) *Metrics {
	buckets := slices.Clone(DefaultWaitBuckets)
	for _, sl := range serviceLevels {
		if s := sl.Seconds(); !slices.Contains(buckets, s) {
			buckets = append(buckets, s)
		}
	}
	slices.Sort(buckets)
	m := &Metrics{
		waiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "careline_queue_calls_waiting",
			Help: "Callers waiting in the queue on this node (callbacks keeping a place excluded)."}, []string{"queue"}),
		oldest: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "careline_queue_oldest_wait_seconds",
			Help: "Wait so far of the longest-waiting caller on this node."}, []string{"queue"}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "careline_queue_wait_seconds",
			Help:    "Time callers waited in the queue, by how the wait ended (answered, abandoned, overflowed, callback).",
			Buckets: buckets}, []string{"queue", "outcome"}),
		abandoned: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "careline_queue_abandoned_total",
			Help: "Callers who hung up while waiting."}, []string{"queue"}),
		agents: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "careline_agents",
			Help: "Configured agents by routing state (cluster-wide; aggregate with max)."}, []string{"state"}),
		rona: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "careline_agent_rona_total",
			Help: "Offers not answered within the ring timeout (agent set away: rona)."}, []string{"queue"}),
		offers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "careline_queue_offers_total",
			Help: "Offers of a caller to an agent, by result (answered, no_answer, rejected, failed, cancelled)."}, []string{"queue", "result"}),
		short: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "careline_queue_short_abandoned_total",
			Help: "Callers who hung up after waiting less than 5 s (also counted in careline_queue_abandoned_total)."}, []string{"queue"}),
		inSL: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "careline_queue_answered_within_service_level_total",
			Help: "Callers answered within their queue's service-level threshold."}, []string{"queue"}),
		slSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "careline_queue_service_level_threshold_seconds",
			Help: "The queue's configured service-level threshold (answered within it = within service level)."}, []string{"queue"}),
		states: newStateClock(),
	}
	if reg != nil {
		reg.MustRegister(m.waiting, m.oldest, m.wait, m.abandoned, m.agents, m.rona, m.offers, m.short, m.inSL, m.slSeconds, m.states)
	}
	return m
}

// Label values pre-created for every queue, so dashboards and alerts see zeros.
var (
	waitOutcomes = []string{OutcomeAnswered, OutcomeAbandoned, OutcomeOverflowed, OutcomeCallback}
	offerResults = []string{string(Answered), string(NoAnswer), string(Rejected), string(Failed), resultCancelled}
)

// initQueue makes a queue's series exist from the start (zero) and publishes its
// service-level threshold.
func (m *Metrics) initQueue(q string, serviceLevel time.Duration) {
	m.waiting.WithLabelValues(q)
	m.oldest.WithLabelValues(q)
	m.abandoned.WithLabelValues(q)
	m.rona.WithLabelValues(q)
	m.short.WithLabelValues(q)
	m.inSL.WithLabelValues(q)
	m.slSeconds.WithLabelValues(q).Set(serviceLevel.Seconds())
	for _, o := range waitOutcomes {
		m.wait.WithLabelValues(q, o)
	}
	for _, r := range offerResults {
		m.offers.WithLabelValues(q, r)
	}
	for _, s := range States {
		m.agents.WithLabelValues(string(s))
	}
}

// stateClock is careline_agent_state_seconds_total{state}: agent-seconds spent in each
// routing state (occupancy = offered+on_call+wrap_up over ready+offered+on_call+wrap_up).
// The Router reports how many agents are in each state at every routing pass; time
// between passes is credited to the counts last reported, and a scrape credits the
// time since the last pass, so the counters advance smoothly and never go back. Like
// careline_agents it counts the shared agent records: every node reports the same
// cluster-wide figure (ratios are unaffected by summing over nodes).
type stateClock struct {
	desc   *prometheus.Desc
	mu     sync.Mutex
	now    func() time.Time
	last   time.Time
	counts map[State]int
	acc    map[State]float64
}

func newStateClock() *stateClock {
	return &stateClock{
		desc: prometheus.NewDesc("careline_agent_state_seconds_total",
			"Agent-seconds spent in each routing state (cluster-wide, like careline_agents).", []string{"state"}, nil),
		counts: map[State]int{}, acc: map[State]float64{},
	}
}

// advanceLocked credits the time since the last report to the last counts.
func (c *stateClock) advanceLocked(now time.Time) {
	if c.last.IsZero() || !now.After(c.last) {
		if c.last.IsZero() {
			c.last = now
		}
		return
	}
	d := now.Sub(c.last).Seconds()
	for s, n := range c.counts {
		c.acc[s] += d * float64(n)
	}
	c.last = now
}

// set records the agents in each state as of now.
func (c *stateClock) set(now time.Time, clock func() time.Time, counts map[State]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = clock
	c.advanceLocked(now)
	c.counts = counts
}

// Describe implements prometheus.Collector.
func (c *stateClock) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *stateClock) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	if c.now != nil {
		c.advanceLocked(c.now())
	}
	vals := make([]float64, len(States))
	for i, s := range States {
		vals[i] = c.acc[s]
	}
	c.mu.Unlock()
	for i, s := range States {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, vals[i], string(s))
	}
}
