package recordings

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsLint(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.accessed(RoleAuditor, OutcomeGranted)
	m.accessed("", "unauthenticated")
	m.deleted.WithLabelValues(ReasonRetention).Inc()
	m.started.WithLabelValues(string(KindCall)).Inc()
	m.framesDropped.WithLabelValues("late").Inc()
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	for _, name := range []string{"careline_recordings_active", "careline_recordings_bytes_total",
		"careline_recording_access_total", "careline_recordings_deleted_total"} {
		if n, _ := testutil.GatherAndCount(reg, name); n == 0 {
			t.Errorf("%s not registered", name)
		}
	}
	if got := testutil.ToFloat64(m.access.WithLabelValues("none", "unauthenticated")); got != 1 {
		t.Errorf("unauthenticated requests are labelled role=none: %v", got)
	}
}
