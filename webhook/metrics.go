package webhook

import "github.com/prometheus/client_golang/prometheus"

// Metrics of webhook delivery, labelled by endpoint name only.
type Metrics struct {
	attempts *prometheus.CounterVec   // endpoint, result: delivered, failed, dead
	backlog  *prometheus.GaugeVec     // endpoint
	dead     *prometheus.GaugeVec     // endpoint
	latency  *prometheus.HistogramVec // endpoint
}

// NewMetrics registers the metrics with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "careline_webhook_attempts_total",
			Help: "Webhook delivery attempts by endpoint and result (delivered, failed: will retry, dead: retries given up)."},
			[]string{"endpoint", "result"}),
		backlog: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "careline_webhook_backlog",
			Help: "Webhook deliveries pending (not yet accepted by the receiver) per endpoint."}, []string{"endpoint"}),
		dead: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "careline_webhook_dead_letters",
			Help: "Webhook deliveries dead-lettered and not replayed per endpoint."}, []string{"endpoint"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "careline_webhook_delivery_latency_seconds",
			Help:    "Delay from the event to its delivery accepted by the receiver, per endpoint.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 1800, 3600, 6 * 3600, 24 * 3600}},
			[]string{"endpoint"}),
	}
	if reg != nil {
		reg.MustRegister(m.attempts, m.backlog, m.dead, m.latency)
	}
	return m
}

// init creates every endpoint's series at zero, so dashboards see them before the
// first event.
func (m *Metrics) init(eps []*Endpoint) {
	for _, e := range eps {
		for _, r := range []string{"delivered", "failed", "dead"} {
			m.attempts.WithLabelValues(e.Name, r)
		}
		m.backlog.WithLabelValues(e.Name)
		m.dead.WithLabelValues(e.Name)
		m.latency.WithLabelValues(e.Name)
	}
}
