package media

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the media counters and gauges. Labels take only fixed values. A nil
// *Metrics is valid and records nothing.
type Metrics struct {
	packetsIn, packetsOut prometheus.Counter
	lost                  prometheus.Counter
	sessions              prometheus.Gauge
	dropMalformed         prometheus.Counter
	dropUnknownPT         prometheus.Counter
	dropForeign           prometheus.Counter
	stale                 prometheus.Counter
	timeouts              prometheus.Counter
	dtmfRFC, dtmfInfo     prometheus.Counter
	dtmfInband            prometheus.Counter
	portsInUse            prometheus.Gauge
	portsResting          prometheus.Gauge
	lateTicks             prometheus.Counter
	playbacks             prometheus.Gauge
}

// NewMetrics creates the media metrics and registers them with reg (nil: not registered,
// useful in tests).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	packets := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "careline_rtp_packets_total", Help: "RTP packets received and sent, by direction.",
	}, []string{"direction"})
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "careline_rtp_dropped_packets_total", Help: "Received packets dropped, by reason (malformed, unknown_pt, foreign_source).",
	}, []string{"reason"})
	dtmf := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "careline_dtmf_events_total", Help: "DTMF digits received, by source (rfc4733, info, inband).",
	}, []string{"source"})
	ports := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "careline_rtp_ports", Help: "RTP port pairs held by the allocator, by state (in_use, resting).",
	}, []string{"state"})
	m := &Metrics{
		packetsIn:  packets.WithLabelValues("in"),
		packetsOut: packets.WithLabelValues("out"),
		lost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "careline_rtp_lost_packets_total", Help: "RTP packets lost, from sequence-number gaps.",
		}),
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "careline_media_sessions_active", Help: "Media sessions open.",
		}),
		dropMalformed: dropped.WithLabelValues("malformed"),
		dropUnknownPT: dropped.WithLabelValues("unknown_pt"),
		dropForeign:   dropped.WithLabelValues("foreign_source"),
		stale: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "careline_rtp_stale_packets_total", Help: "Packets that reached a port while it rested after a call (dropped).",
		}),
		timeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "careline_media_timeouts_total", Help: "Sessions whose media timed out (no RTP).",
		}),
		dtmfRFC:      dtmf.WithLabelValues(string(DTMFRFC4733)),
		dtmfInfo:     dtmf.WithLabelValues(string(DTMFInfo)),
		dtmfInband:   dtmf.WithLabelValues(string(DTMFInband)),
		portsInUse:   ports.WithLabelValues("in_use"),
		portsResting: ports.WithLabelValues("resting"),
		lateTicks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "careline_media_clock_late_ticks_total", Help: "Playout clock ticks that ran late and had to catch up.",
		}),
		playbacks: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "careline_media_playbacks_active", Help: "Prompt playbacks and DTMF sends in progress on the playout clock.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{packets, m.lost, m.sessions, dropped, m.stale, m.timeouts, dtmf, ports, m.lateTicks, m.playbacks} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("media: registering metrics: %w", err)
			}
		}
	}
	return m, nil
}

// Nil-safe recorders used on the media paths.
func (m *Metrics) packetIn() {
	if m != nil {
		m.packetsIn.Inc()
	}
}

func (m *Metrics) packetOut() {
	if m != nil {
		m.packetsOut.Inc()
	}
}

func (m *Metrics) lostPackets(n int) {
	if m != nil && n > 0 {
		m.lost.Add(float64(n))
	}
}

func (m *Metrics) dropped(reason dropReason) {
	if m == nil {
		return
	}
	switch reason {
	case dropMalformed:
		m.dropMalformed.Inc()
	case dropUnknownPT:
		m.dropUnknownPT.Inc()
	case dropForeign:
		m.dropForeign.Inc()
	}
}

func (m *Metrics) dtmfEvent(src DTMFSource) {
	if m == nil {
		return
	}
	switch src {
	case DTMFRFC4733:
		m.dtmfRFC.Inc()
	case DTMFInfo:
		m.dtmfInfo.Inc()
	case DTMFInband:
		m.dtmfInband.Inc()
	}
}

func (m *Metrics) stalePackets(n int) {
	if m != nil && n > 0 {
		m.stale.Add(float64(n))
	}
}

func (m *Metrics) timeout() {
	if m != nil {
		m.timeouts.Inc()
	}
}

func (m *Metrics) lateTick() {
	if m != nil {
		m.lateTicks.Inc()
	}
}

func (m *Metrics) sessionDelta(d float64) {
	if m != nil {
		m.sessions.Add(d)
	}
}

func (m *Metrics) playbackDelta(d float64) {
	if m != nil {
		m.playbacks.Add(d)
	}
}

func (m *Metrics) ports(inUse, resting int) {
	if m != nil {
		m.portsInUse.Set(float64(inUse))
		m.portsResting.Set(float64(resting))
	}
}
