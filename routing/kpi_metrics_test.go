package routing_test

import (
	"testing"
	"time"

	"github.com/careline/careline/routing"
)

// The call-center KPI inputs: answered within service level, short abandons counted
// apart, the configured threshold as a gauge, and agent-seconds per state adding up
// to the elapsed time.
func TestKPIMetrics(t *testing.T) {
	t.Parallel()
	h := newHarness(t, coordinators[:1]) // coord: service level 60s (the default)
	h.login("a1")
	c0 := h.enqueue("coord")
	h.expectOffer("a1", c0).answer() // answered at once: within service level
	until[routing.Connected](t, c0)
	h.sync()

	c1 := h.enqueue("coord")
	h.advance(2 * time.Second)
	if err := c1.Abandon(h.ctx); err != nil { // a short abandon
		t.Fatal(err)
	}
	c2 := h.enqueue("coord")
	h.advance(10 * time.Second)
	if err := c2.Abandon(h.ctx); err != nil {
		t.Fatal(err)
	}
	c3 := h.enqueue("coord")
	h.advance(70 * time.Second)
	if err := c0.Hangup(h.ctx); err != nil { // a1 goes to wrap-up (10s)
		t.Fatal(err)
	}
	h.sync()
	h.advance(10 * time.Second)
	h.expectOffer("a1", c3).answer() // answered after 80s: outside service level
	until[routing.Connected](t, c3)
	h.sync()
	h.advance(5 * time.Second)

	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"careline_queue_abandoned_total", map[string]string{"queue": "coord"}, 2},
		{"careline_queue_short_abandoned_total", map[string]string{"queue": "coord"}, 1},
		{"careline_queue_answered_within_service_level_total", map[string]string{"queue": "coord"}, 1},
		{"careline_queue_wait_seconds", map[string]string{"queue": "coord", "outcome": "answered"}, 2},
		{"careline_queue_service_level_threshold_seconds", map[string]string{"queue": "coord"}, 60},
		{"careline_queue_service_level_threshold_seconds", map[string]string{"queue": "rx"}, 25},
		{"careline_queue_offers_total", map[string]string{"queue": "rx", "result": "rejected"}, 0},
		{"careline_agent_state_seconds_total", map[string]string{"state": "wrap_up"}, 10},
		{"careline_agent_state_seconds_total", map[string]string{"state": "logged_out"}, 0},
	} {
		if got := h.metric(c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// One agent: the seconds over all states add up to the time elapsed since Run.
	var sum float64
	for _, s := range routing.States {
		sum += h.metric("careline_agent_state_seconds_total", map[string]string{"state": string(s)})
	}
	if elapsed := h.clock.Now().Sub(t0).Seconds(); sum != elapsed {
		t.Errorf("agent-seconds over all states %v, want the elapsed %v", sum, elapsed)
	}
	if onCall := h.metric("careline_agent_state_seconds_total", map[string]string{"state": "on_call"}); onCall < 87 {
		t.Errorf("on_call agent-seconds %v, want at least 87", onCall)
	}
}
