package dialer

import (
	"github.com/careline/careline/dialer/amd"
	"github.com/careline/careline/store"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the dialer's Prometheus metrics. Labels are campaign names (from
// configuration), dispositions, reasons and AMD results: all bounded.
type Metrics struct {
	attempts     *prometheus.CounterVec // careline_dialer_attempts_total{campaign,result}
	blocked      *prometheus.CounterVec // careline_compliance_blocked_total{campaign,reason}
	abandonRatio *prometheus.GaugeVec   // careline_dialer_abandon_ratio{campaign,window="30d"}
	abandonUpper *prometheus.GaugeVec   // careline_dialer_abandon_ratio_upper{campaign}
	amdResults   *prometheus.CounterVec // careline_amd_results_total{result}
	inFlight     *prometheus.GaugeVec   // careline_dialer_calls_in_flight{campaign}
	threshold    *prometheus.GaugeVec   // careline_dialer_pacing_risk_threshold{campaign}
}

// NewMetrics creates the metrics and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "careline_dialer_attempts_total",
			Help: "Dial attempts by campaign and result (disposition, or blocked-by-compliance)."}, []string{"campaign", "result"}),
		blocked: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "careline_compliance_blocked_total",
			Help: "Dials refused by the compliance gate, by reason."}, []string{"campaign", "reason"}),
		abandonRatio: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "careline_dialer_abandon_ratio",
			Help: "Abandoned share of live answers over the window."}, []string{"campaign", "window"}),
		abandonUpper: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "careline_dialer_abandon_ratio_upper",
			Help: "One-sided 95% Clopper-Pearson upper bound of the 30-day abandon ratio."}, []string{"campaign"}),
		amdResults: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "careline_amd_results_total",
			Help: "Answering-machine detection results."}, []string{"result"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "careline_dialer_calls_in_flight",
			Help: "Outbound calls placed and not yet ended, by campaign."}, []string{"campaign"}),
		threshold: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "careline_dialer_pacing_risk_threshold",
			Help: "Largest chance per dial of a live answer finding no agent that predictive pacing allows now (0: progressive)."}, []string{"campaign"}),
	}
	for _, r := range amd.Results {
		m.amdResults.WithLabelValues(r.String())
	}
	if reg != nil {
		reg.MustRegister(m.attempts, m.blocked, m.abandonRatio, m.abandonUpper, m.amdResults, m.inFlight, m.threshold)
	}
	return m
}

// register pre-creates a campaign's series so dashboards see zeros.
func (m *Metrics) register(c *Campaign) {
	for _, d := range Dispositions {
		m.attempts.WithLabelValues(c.Name, string(d))
	}
	for _, r := range Reasons {
		m.blocked.WithLabelValues(c.Name, string(r))
	}
	m.abandonRatio.WithLabelValues(c.Name, "30d")
	m.abandonUpper.WithLabelValues(c.Name)
	m.inFlight.WithLabelValues(c.Name)
	m.threshold.WithLabelValues(c.Name)
}

func (m *Metrics) setAbandon(c *Campaign, s AbandonStats) {
	m.abandonRatio.WithLabelValues(c.Name, "30d").Set(s.Ratio())
	m.abandonUpper.WithLabelValues(c.Name).Set(s.Upper())
}

func newID() uuid.UUID { return store.NewID() }
