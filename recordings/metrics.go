package recordings

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the recordings store. Labels take only bounded values: role is one of the
// configured roles or "none"; outcome, reason and kind are fixed words.
type Metrics struct {
	active         prometheus.Gauge
	bytes          prometheus.Counter
	access         *prometheus.CounterVec
	deleted        *prometheus.CounterVec
	started        *prometheus.CounterVec
	framesDropped  *prometheus.CounterVec
	resyncs        prometheus.Counter
	writeErrors    prometheus.Counter
	integrityFails prometheus.Counter
}

// NewMetrics registers the recordings metrics with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "careline_recordings_active",
			Help: "Recordings being written now."}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "careline_recordings_bytes_total",
			Help: "Encrypted recording bytes written to disk."}),
		access: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "careline_recording_access_total",
			Help: "Requests to play, download or export a recording, by role and outcome."}, []string{"role", "outcome"}),
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "careline_recordings_deleted_total",
			Help: "Recordings deleted, by reason."}, []string{"reason"}),
		started: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "careline_recordings_started_total",
			Help: "Recordings started, by kind."}, []string{"kind"}),
		framesDropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "careline_recordings_frames_dropped_total",
			Help: "Received frames left out of recordings: late (beyond the jitter window) or disk_stall (write queue full)."},
			[]string{"reason"}),
		resyncs: prometheus.NewCounter(prometheus.CounterOpts{Name: "careline_recordings_resyncs_total",
			Help: "Times a stream was re-anchored to arrival time (new SSRC or RTP timestamps far from the clock)."}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "careline_recordings_write_errors_total",
			Help: "Recordings that failed to write to disk."}),
		integrityFails: prometheus.NewCounter(prometheus.CounterOpts{Name: "careline_recordings_integrity_failures_total",
			Help: "Recording files that failed authentication or checksum when read."}),
	}
	if reg != nil {
		reg.MustRegister(m.active, m.bytes, m.access, m.deleted, m.started, m.framesDropped, m.resyncs, m.writeErrors, m.integrityFails)
	}
	// The series of bounded label values exist from the start (zero).
	for _, r := range []Role{RoleSupervisor, RoleAuditor, RoleAdmin, RoleAgent, RoleSystem, "none"} {
		for _, o := range []string{OutcomeGranted, OutcomeDenied} {
			m.access.WithLabelValues(string(r), o)
		}
	}
	for _, r := range []string{ReasonRetention, ReasonManual} {
		m.deleted.WithLabelValues(r)
	}
	for _, k := range []Kind{KindCall, KindVoicemail} {
		m.started.WithLabelValues(string(k))
	}
	for _, r := range []string{"late", "disk_stall"} {
		m.framesDropped.WithLabelValues(r)
	}
	return m
}

// deletedReason bounds the reason label: DeleteOptions.Reason is the caller's string.
func deletedReason(r string) string {
	if r == ReasonRetention || r == ReasonManual {
		return r
	}
	return "other"
}

func (m *Metrics) accessed(role Role, outcome string) {
	r := string(role)
	if !role.valid() {
		r = "none"
	}
	m.access.WithLabelValues(r, outcome).Inc()
}
