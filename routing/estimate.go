package routing

import (
	"encoding/json"
	"math"
	"time"

	"github.com/careline/careline/config"
)

// Estimate is an estimated wait for an announcement. When Known is false nothing may be
// announced. Wait is an upper figure rounded up to whole minutes (at least one);
// Capped means "more than Wait".
type Estimate struct {
	Known  bool          `json:"known"`
	Wait   time.Duration `json:"-"` // JSON: "wait" in seconds
	Capped bool          `json:"capped,omitempty"`
}

// MarshalJSON writes Wait in seconds.
func (e Estimate) MarshalJSON() ([]byte, error) {
	type plain Estimate
	return json.Marshal(struct {
		plain
		Wait float64 `json:"wait,omitempty"`
	}{plain(e), e.Wait.Seconds()})
}

type interval struct {
	at time.Time
	d  time.Duration
}

// estimator measures a queue's throughput from the intervals between answers taken
// while the queue was never empty (some caller waited through the whole interval), so
// an idle queue's sparse arrivals do not pass for service capacity.
type estimator struct {
	cfg        config.Estimate
	lastAnswer time.Time
	samples    []interval
}

// answered records an answer at now; busy says a caller waited since the previous
// answer or longer.
func (e *estimator) answered(now time.Time, busy bool) {
	if busy && !e.lastAnswer.IsZero() && now.Sub(e.lastAnswer) <= e.cfg.Window {
		e.samples = append(e.samples, interval{at: now, d: now.Sub(e.lastAnswer)})
		if max := 4 * e.cfg.MinSamples; len(e.samples) > max {
			e.samples = append(e.samples[:0], e.samples[len(e.samples)-max:]...)
		}
	}
	e.lastAnswer = now
}

// estimate returns the wait for the caller at position pos (1-based).
func (e *estimator) estimate(pos int, now time.Time, staffed bool) Estimate {
	if pos < 1 || !staffed {
		return Estimate{}
	}
	cut := 0
	for cut < len(e.samples) && now.Sub(e.samples[cut].at) > e.cfg.Window {
		cut++
	}
	e.samples = e.samples[cut:]
	n := len(e.samples)
	if n < e.cfg.MinSamples || n < 2 {
		return Estimate{}
	}
	var sum float64
	for _, s := range e.samples {
		sum += s.d.Seconds()
	}
	mean := sum / float64(n)
	var ss float64
	for _, s := range e.samples {
		d := s.d.Seconds() - mean
		ss += d * d
	}
	sd := math.Sqrt(ss / float64(n-1))
	se := sd / math.Sqrt(float64(n))
	if mean <= 0 || se/mean > e.cfg.MaxRelativeError {
		return Estimate{}
	}
	upper := time.Duration(float64(pos) * (mean + se) * float64(time.Second))
	minutes := int64(math.Ceil(upper.Minutes()))
	if minutes < 1 {
		minutes = 1
	}
	w := time.Duration(minutes) * time.Minute
	if w > e.cfg.Cap {
		return Estimate{Known: true, Wait: e.cfg.Cap, Capped: true}
	}
	return Estimate{Known: true, Wait: w}
}
