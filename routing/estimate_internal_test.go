package routing

import (
	"testing"
	"time"

	"github.com/careline/careline/config"
)

func TestEstimator(t *testing.T) {
	t.Parallel()
	cfg := config.Estimate{MinSamples: 5, Window: 30 * time.Minute, MaxRelativeError: 0.25, Cap: 20 * time.Minute}
	t0 := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	feed := func(intervals ...time.Duration) (*estimator, time.Time) {
		e := &estimator{cfg: cfg}
		now := t0
		e.answered(now, true)
		for _, d := range intervals {
			now = now.Add(d)
			e.answered(now, true)
		}
		return e, now
	}
	s := time.Second
	cases := []struct {
		name      string
		intervals []time.Duration
		pos       int
		later     time.Duration
		staffed   bool
		want      Estimate
	}{
		{"too few samples", []time.Duration{60 * s, 60 * s, 60 * s, 60 * s}, 1, 0, true, Estimate{}},
		{"stable, rounded up", []time.Duration{61 * s, 61 * s, 61 * s, 61 * s, 61 * s}, 1, 0, true, Estimate{Known: true, Wait: 2 * time.Minute}},
		{"exact minute stays", []time.Duration{60 * s, 60 * s, 60 * s, 60 * s, 60 * s}, 3, 0, true, Estimate{Known: true, Wait: 3 * time.Minute}},
		{"short waits still say a minute", []time.Duration{5 * s, 5 * s, 5 * s, 5 * s, 5 * s}, 1, 0, true, Estimate{Known: true, Wait: time.Minute}},
		{"upper figure: mean plus one standard error", []time.Duration{50 * s, 70 * s, 50 * s, 70 * s, 50 * s, 70 * s}, 2, 0, true,
			Estimate{Known: true, Wait: 3 * time.Minute}}, // 2 × (60 + 4.47) s = 129 s → 3 min
		{"unstable: high variance", []time.Duration{5 * s, 300 * s, 10 * s, 200 * s, 2 * s, 250 * s}, 1, 0, true, Estimate{}},
		{"capped", []time.Duration{120 * s, 120 * s, 120 * s, 120 * s, 120 * s}, 15, 0, true, Estimate{Known: true, Wait: 20 * time.Minute, Capped: true}},
		{"samples age out of the window", []time.Duration{60 * s, 60 * s, 60 * s, 60 * s, 60 * s}, 1, 30 * time.Minute, true, Estimate{}},
		{"nobody staffed", []time.Duration{60 * s, 60 * s, 60 * s, 60 * s, 60 * s}, 1, 0, false, Estimate{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, now := feed(tc.intervals...)
			if got := e.estimate(tc.pos, now.Add(tc.later), tc.staffed); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	// Intervals while the queue was empty are not throughput: not sampled.
	e := &estimator{cfg: cfg}
	for i := range 10 {
		e.answered(t0.Add(time.Duration(i)*time.Minute), false)
	}
	if got := e.estimate(1, t0.Add(10*time.Minute), true); got.Known {
		t.Fatalf("idle-queue intervals used: %+v", got)
	}
}
