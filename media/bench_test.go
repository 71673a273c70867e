package media

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// gapHist is a histogram of inter-packet gaps in 0.1 ms buckets up to 500 ms.
type gapHist struct{ b [5001]atomic.Uint64 }

func (h *gapHist) add(d time.Duration) {
	i := int(d / (100 * time.Microsecond))
	h.b[min(max(i, 0), len(h.b)-1)].Add(1)
}

func (h *gapHist) quantile(q float64) time.Duration {
	total := h.count()
	if total == 0 {
		return 0
	}
	rank := max(uint64(math.Ceil(q*float64(total))), 1)
	var acc uint64
	for i := range h.b {
		acc += h.b[i].Load()
		if acc >= rank {
			return time.Duration(i) * 100 * time.Microsecond
		}
	}
	return time.Duration(len(h.b)-1) * 100 * time.Microsecond
}

func (h *gapHist) count() uint64 {
	var total uint64
	for i := range h.b {
		total += h.b[i].Load()
	}
	return total
}

// gapSink records the arrival gap between consecutive packets of a talkspurt.
type gapSink struct {
	h    *gapHist
	last time.Time
}

func (g *gapSink) WriteFrame(f Frame) error {
	now := time.Now()
	if !f.Marker && !g.last.IsZero() {
		g.h.add(now.Sub(g.last))
	}
	g.last = now
	return nil
}

func (g *gapSink) String() string { return "gaps" }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPlayoutSessions plays a 1 s prompt on N sender sessions at once, all on the
// one shared clock, to N receiver sessions over 127.0.0.1, and reports the receivers'
// inter-packet gaps (p50/p99/max, ideal 20 ms), heap and goroutine-stack bytes per
// session, and process CPU as a percentage of one core. Run with -benchtime=Nx.
func BenchmarkPlayoutSessions(b *testing.B) {
	for _, n := range []int{100, 500, 1000} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) { benchPlayout(b, n) })
	}
}

func benchPlayout(b *testing.B, n int) {
	lateness, work := new(gapHist), new(gapHist)
	e := newTestEnvClock(b, 2*n, func(c *Clock) {
		c.onTick = func(due, start, end time.Time) {
			lateness.add(start.Sub(due))
			work.add(end.Sub(start))
		}
	})
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	hist := new(gapHist)
	senders := make([]*Session, n)
	for i := range n {
		a, r := e.session(b), e.session(b)
		connect(b, a, r, sdpCfg(a, true), sdpCfg(r, true))
		r.SetSink(&gapSink{h: hist})
		senders[i] = a
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	prompt := Tone(440, time.Second)
	ctx := context.Background()

	cpu0, wall0 := cpuTime(), time.Now()
	b.ResetTimer()
	for b.Loop() {
		var wg sync.WaitGroup
		for _, s := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.Play(ctx, PlayOptions{Prompts: []*Prompt{prompt}}); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	b.StopTimer()
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(hist.quantile(0.50)), "p50-gap-ms")
	b.ReportMetric(ms(hist.quantile(0.99)), "p99-gap-ms")
	b.ReportMetric(ms(hist.quantile(0.999)), "p99.9-gap-ms")
	b.ReportMetric(ms(hist.quantile(1)), "max-gap-ms")
	b.ReportMetric(ms(lateness.quantile(0.99)), "p99-tick-late-ms")
	b.ReportMetric(ms(work.quantile(0.99)), "p99-tick-work-ms")
	b.ReportMetric(float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/float64(2*n), "heap-B/session")
	b.ReportMetric(float64(int64(m1.StackInuse)-int64(m0.StackInuse))/float64(2*n), "stack-B/session")
	b.ReportMetric(100*float64(cpu)/float64(wall), "cpu-%")
	b.ReportMetric(0, "ns/op") // wall time per op is the prompt length; not informative
}
