package routing_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsBucketsAndLabels(t *testing.T) {
	t.Parallel()
	h := newHarness(t, coordinators[:1])
	c := h.enqueue("rx")
	h.advance(10 * time.Second)
	if err := c.Abandon(h.ctx); err != nil {
		t.Fatal(err)
	}
	h.login("a1")
	h.sync()
	if probs, err := testutil.GatherAndLint(h.reg); err != nil || len(probs) != 0 {
		t.Fatalf("lint: %v %v", probs, err)
	}
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sawSL bool
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "careline_") {
			t.Errorf("metric %s lacks the careline_ prefix", mf.GetName())
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				switch lp.GetName() {
				case "queue", "state", "outcome", "result":
				default:
					t.Errorf("%s has label %s", mf.GetName(), lp.GetName())
				}
			}
			if mf.GetName() == "careline_queue_wait_seconds" {
				for _, b := range m.GetHistogram().GetBucket() {
					if b.GetUpperBound() == 25 { // rx's service level
						sawSL = true
					}
				}
			}
		}
	}
	if !sawSL {
		t.Fatal("service-level threshold 25s is not a bucket boundary")
	}
	if got := h.metric("careline_queue_wait_seconds", map[string]string{"queue": "rx", "outcome": "abandoned"}); got != 1 {
		t.Fatalf("abandoned waits %v", got)
	}
	if got := h.metric("careline_agents", map[string]string{"state": "ready"}); got != 1 {
		t.Fatalf("ready agents gauge %v", got)
	}
	if got := h.metric("careline_queue_calls_waiting", map[string]string{"queue": "rx"}); got != 0 {
		t.Fatalf("waiting gauge %v", got)
	}
}
