package media

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func counterValue(t testing.TB, c prometheus.Collector) float64 {
	t.Helper()
	return testutil.ToFloat64(c)
}

func TestMetricsRegister(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.packetIn()
	m.packetOut()
	m.lostPackets(2)
	m.sessionDelta(1)
	m.dtmfEvent(DTMFInfo)
	m.dropped(dropForeign)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
	err = testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP careline_rtp_packets_total RTP packets received and sent, by direction.
# TYPE careline_rtp_packets_total counter
careline_rtp_packets_total{direction="in"} 1
careline_rtp_packets_total{direction="out"} 1
# HELP careline_rtp_lost_packets_total RTP packets lost, from sequence-number gaps.
# TYPE careline_rtp_lost_packets_total counter
careline_rtp_lost_packets_total 2
# HELP careline_media_sessions_active Media sessions open.
# TYPE careline_media_sessions_active gauge
careline_media_sessions_active 1
`), "careline_rtp_packets_total", "careline_rtp_lost_packets_total", "careline_media_sessions_active")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewMetrics(reg); err == nil {
		t.Fatal("double registration accepted")
	}
	var nilM *Metrics
	nilM.packetIn() // nil-safe
}
