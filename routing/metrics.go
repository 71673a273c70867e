package routing

import (
	"slices"
	"time"

	"github.com/careline/careline/internal/config"
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
}

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
	}
	if reg != nil {
		reg.MustRegister(m.waiting, m.oldest, m.wait, m.abandoned, m.agents, m.rona, m.offers)
	}
	return m
}

// initQueues makes every queue's series exist from the start (zero).
func (m *Metrics) initQueues(names []string) {
	for _, q := range names {
		m.waiting.WithLabelValues(q)
		m.oldest.WithLabelValues(q)
		m.abandoned.WithLabelValues(q)
		m.rona.WithLabelValues(q)
	}
	for _, s := range States {
		m.agents.WithLabelValues(string(s))
	}
}
