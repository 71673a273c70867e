package sip

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds the sip package's Prometheus collectors. Every label value
// comes from a fixed set (methods, status classes, causes); never from a
// request (no numbers, users, hosts or Call-IDs).
type Metrics struct {
	requests      *prometheus.CounterVec // method, status_class
	authFailures  *prometheus.CounterVec // kind
	registrations prometheus.Gauge
	legsActive    *prometheus.GaugeVec   // direction
	legsEnded     *prometheus.CounterVec // direction, cause
	dials         *prometheus.CounterVec // result
	preparse      *prometheus.CounterVec // verdict
	logDropped    prometheus.Counter
	panics        prometheus.Counter
}

// NewMetrics creates the collectors and registers them with reg. Registering
// twice against the same registry reuses the existing collectors, so tests
// may build several servers.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "careline_sip_requests_total",
			Help: "SIP requests received, by method and the class of the response we sent (none for ACK/dropped).",
		}, []string{"method", "status_class"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "careline_sip_auth_failures_total",
			Help: "Digest authentication failures by kind (missing, stale, invalid, forbidden).",
		}, []string{"kind"}),
		registrations: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "careline_sip_registrations",
			Help: "Current registrar bindings (contacts) known to this node.",
		}),
		legsActive: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "careline_sip_legs_active",
			Help: "Call legs currently alive, by direction.",
		}, []string{"direction"}),
		legsEnded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "careline_sip_legs_ended_total",
			Help: "Call legs ended, by direction and end cause.",
		}, []string{"direction", "cause"}),
		dials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "careline_sip_dial_results_total",
			Help: "Outbound Dial results (answered or the error's metric label).",
		}, []string{"result"}),
		preparse: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "careline_sip_preparse_total",
			Help: "Raw UDP datagrams by pre-parse verdict (pass, reply, drop, ratelimited).",
		}, []string{"verdict"}),
		logDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "careline_sip_log_records_dropped_total",
			Help: "sipgo log records dropped by the rate limiter.",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "careline_sip_handler_panics_total",
			Help: "Panics recovered in SIP request handlers and call legs.",
		}),
	}
	if reg == nil {
		return m
	}
	m.requests = register(reg, m.requests)
	m.authFailures = register(reg, m.authFailures)
	m.registrations = register(reg, m.registrations)
	m.legsActive = register(reg, m.legsActive)
	m.legsEnded = register(reg, m.legsEnded)
	m.dials = register(reg, m.dials)
	m.preparse = register(reg, m.preparse)
	m.logDropped = register(reg, m.logDropped)
	m.panics = register(reg, m.panics)
	m.init()
	return m
}

// init makes the series of the bounded label values exist from the start (zero), so
// dashboards and alerts see zeros rather than nothing.
func (m *Metrics) init() {
	classes := []string{"none", "1xx", "2xx", "3xx", "4xx", "5xx", "6xx"}
	for method := range knownMethods {
		for _, c := range classes {
			m.requests.WithLabelValues(method, c)
		}
	}
	m.requests.WithLabelValues("other", "4xx")
	for _, k := range []string{"missing", "stale", "invalid", "forbidden"} {
		m.authFailures.WithLabelValues(k)
	}
	for _, d := range []Direction{Inbound, Outbound} {
		m.legsActive.WithLabelValues(d.String())
		for c := EndUnknown; c <= EndError; c++ {
			m.legsEnded.WithLabelValues(d.String(), c.String())
		}
	}
	m.dials.WithLabelValues("answered")
	for k := KindBusy; k <= KindCancelled; k++ {
		m.dials.WithLabelValues(k.String())
	}
	for _, v := range []string{"pass", "ratelimited"} {
		m.preparse.WithLabelValues(v)
	}
}

func register[T prometheus.Collector](reg prometheus.Registerer, c T) T {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing
			}
		}
	}
	return c
}

// methodLabel maps a method to a bounded label value.
func methodLabel(m string) string {
	if _, ok := knownMethods[m]; ok {
		return m
	}
	return "other"
}

func statusClass(code int) string {
	switch {
	case code <= 0:
		return "none"
	case code < 200:
		return "1xx"
	case code < 300:
		return "2xx"
	case code < 400:
		return "3xx"
	case code < 500:
		return "4xx"
	case code < 600:
		return "5xx"
	default:
		return "6xx"
	}
}

func (m *Metrics) request(method string, code int) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(methodLabel(method), statusClass(code)).Inc()
}

func (m *Metrics) authFailure(kind string) {
	if m == nil {
		return
	}
	m.authFailures.WithLabelValues(kind).Inc()
}
