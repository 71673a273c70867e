package ivr

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts node exits and flow outcomes. Labels come from configuration
// (flow and node names, option keys) or fixed sets (exit codes, outcome kinds), so
// they are bounded; digits and numbers never appear.
type Metrics struct {
	nodeExits *prometheus.CounterVec
	outcomes  *prometheus.CounterVec
}

// NewMetrics registers the IVR metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		nodeExits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "careline_ivr_node_exits_total",
			Help: "IVR node exits by flow, node and exit code (option:<key>, ok, timeout, max_failures, open, closed, holiday, hangup, ...).",
		}, []string{"flow", "node", "exit"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "careline_ivr_outcomes_total",
			Help: "IVR flow runs by flow and outcome (hangup, queue, transfer, voicemail, callback, error).",
		}, []string{"flow", "outcome"}),
	}
	reg.MustRegister(m.nodeExits, m.outcomes)
	return m
}

// initNode makes a node's series exist from the start (zero): its hang-up exit (the
// caller can leave at any node) and its flow's outcomes.
func (m *Metrics) initNode(flow, node string) {
	if m == nil {
		return
	}
	m.nodeExits.WithLabelValues(flow, node, "hangup")
	for _, k := range outcomeNames {
		m.outcomes.WithLabelValues(flow, k)
	}
}

func (m *Metrics) nodeExit(flow, node, exit string) {
	if m != nil {
		m.nodeExits.WithLabelValues(flow, node, exit).Inc()
	}
}

func (m *Metrics) outcome(flow string, k OutcomeKind) {
	if m != nil {
		m.outcomes.WithLabelValues(flow, k.String()).Inc()
	}
}
