package main

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/careline/careline/media"
	"github.com/careline/careline/phone"
)

// gapHist is a histogram of RTP inter-arrival gaps, 100 µs buckets up to 1 s.
type gapHist struct {
	buckets [10001]atomic.Uint64
	n       atomic.Uint64
	maxNS   atomic.Int64
}

const bucketNS = 100_000

func (h *gapHist) add(ns int64) {
	i := min(ns/bucketNS, int64(len(h.buckets)-1))
	h.buckets[max(i, 0)].Add(1)
	h.n.Add(1)
	for {
		m := h.maxNS.Load()
		if ns <= m || h.maxNS.CompareAndSwap(m, ns) {
			break
		}
	}
}

// quantileMS returns the q quantile in milliseconds (bucket upper bound).
func (h *gapHist) quantileMS(q float64) float64 {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	want := uint64(q * float64(n))
	var acc uint64
	for i := range h.buckets {
		acc += h.buckets[i].Load()
		if acc > want || acc == n {
			return float64(i+1) * bucketNS / 1e6
		}
	}
	return float64(len(h.buckets)) * bucketNS / 1e6
}

// gapSink measures when each audio packet of one call reached the phone.
type gapSink struct {
	h         *gapHist
	measuring *atomic.Bool
	packets   *atomic.Uint64
	last      int64
	ssrc      uint32
}

func (s *gapSink) String() string { return "GapMeter" }

func (s *gapSink) WriteFrame(f media.Frame) error {
	now := time.Now().UnixNano()
	if s.measuring.Load() {
		s.packets.Add(1)
		// A marker starts a new talkspurt: the silence before it is not jitter.
		if s.last != 0 && f.SSRC == s.ssrc && !f.Marker {
			s.h.add(now - s.last)
		}
	}
	s.last, s.ssrc = now, f.SSRC
	return nil
}

// loadResult is one concurrent-calls run.
type loadResult struct {
	Target       string  `json:"target"`
	N            int     `json:"n"`
	Established  int     `json:"established"`
	SetupFailed  int     `json:"setup_failed"`
	Window       float64 `json:"window_s"`
	Packets      uint64  `json:"packets"`
	Expected     float64 `json:"expected_packets"`
	GapP50       float64 `json:"gap_p50_ms"`
	GapP99       float64 `json:"gap_p99_ms"`
	GapP999      float64 `json:"gap_p999_ms"`
	GapMax       float64 `json:"gap_max_ms"`
	TargetCPU    float64 `json:"target_cpu_cores"`
	GenCPU       float64 `json:"generator_cpu_cores"`
	MachineBusy  float64 `json:"machine_busy"` // all CPUs, 0..1, during the window
	HeapIdle     float64 `json:"heap_idle_bytes"`
	HeapLoaded   float64 `json:"heap_loaded_bytes"`
	HeapPerCall  float64 `json:"heap_per_call_bytes"`
	DTMFSent     int     `json:"dtmf_sent"`
	DTMFDetected float64 `json:"dtmf_detected"` // the target's own counter
	DTMFEchoed   int     `json:"dtmf_echoed"`   // echo events the phones received back
	ActiveAtPeak float64 `json:"active_at_peak"`
	LeftUp       float64 `json:"left_up"` // calls the target still held 45 s after every phone hung up
}

type loadOptions struct {
	N           int
	Ramp        int // calls per second
	Settle      time.Duration
	Window      time.Duration
	CallerAudio bool
	RTPMin      int
	RTPMax      int
	Log         *slog.Logger
}

// runLoad holds N calls to the target's test number from one phone, measures the gaps
// between RTP packets the phones receive during the window, then sends one DTMF digit
// on every call and counts detections (the target's counter) and echoes (received back).
func runLoad(ctx context.Context, t *process, o loadOptions) (loadResult, error) {
	res := loadResult{Target: t.name, N: o.N, Window: o.Window.Seconds()}
	// Heap in use saw-tooths between collections; the lowest sample over a few
	// seconds approximates the live heap.
	idle, err := minHeap(ctx, t.metrics, 2*time.Second)
	if err != nil {
		return res, err
	}
	res.HeapIdle = idle

	pctx, stopPhone := context.WithCancel(ctx)
	defer stopPhone()
	p, err := phone.New(pctx, phone.Config{User: "loadgen"}, phone.WithRTPPorts(o.RTPMin, o.RTPMax),
		phone.WithCodecs(media.PCMU), phone.WithMediaTimeout(10*time.Minute), phone.WithLogger(o.Log))
	if err != nil {
		return res, err
	}
	defer p.Close()

	var (
		hist      gapHist
		measuring atomic.Bool
		packets   atomic.Uint64
		mu        sync.Mutex
		calls     []*phone.Call
		failed    int
		wg        sync.WaitGroup
	)
	silence := media.Silence(time.Second)
	target := "sip:9999@" + t.sip
	tick := time.NewTicker(time.Second / time.Duration(max(o.Ramp, 1)))
	for i := 0; i < o.N; i++ {
		select {
		case <-ctx.Done():
			tick.Stop()
			return res, ctx.Err()
		case <-tick.C:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			c, err := p.Call(cctx, target)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				if failed <= 3 {
					o.Log.Warn("call setup failed", "err", err)
				}
				return
			}
			c.Session().SetSink(&gapSink{h: &hist, measuring: &measuring, packets: &packets})
			if o.CallerAudio {
				go func() { _ = c.Play(pctx, phone.PlayOptions{Audio: []*media.Prompt{silence}, Loop: true}) }()
			}
			calls = append(calls, c)
		}()
	}
	tick.Stop()
	wg.Wait()
	res.Established, res.SetupFailed = len(calls), failed
	sleepCtx(ctx, o.Settle)

	// Measurement window.
	pid := t.cmd.Process.Pid
	c0, _ := cpuSeconds(pid)
	g0 := selfCPU()
	b0, t0 := cpuTimes()
	w0 := time.Now()
	measuring.Store(true)
	loaded, err := minHeap(ctx, t.metrics, o.Window)
	measuring.Store(false)
	if err != nil {
		return res, err
	}
	wall := time.Since(w0).Seconds()
	c1, _ := cpuSeconds(pid)
	g1 := selfCPU()
	b1, t1 := cpuTimes()
	res.TargetCPU, res.GenCPU = (c1-c0)/wall, (g1-g0)/wall
	if t1 > t0 {
		res.MachineBusy = (b1 - b0) / (t1 - t0)
	}
	res.Packets = packets.Load()
	res.Expected = float64(res.Established) * wall * 50
	res.GapP50, res.GapP99, res.GapP999 = hist.quantileMS(0.50), hist.quantileMS(0.99), hist.quantileMS(0.999)
	res.GapMax = float64(hist.maxNS.Load()) / 1e6
	m1, err := scrape(ctx, t.metrics)
	if err != nil {
		return res, err
	}
	res.HeapLoaded = loaded
	res.ActiveAtPeak = m1[t.activeMetric]
	if res.Established > 0 {
		res.HeapPerCall = (res.HeapLoaded - res.HeapIdle) / float64(res.Established)
	}

	// One digit per call, spread over the ramp rate; count what the target detected
	// and which echoes came back.
	dtmf0 := m1[t.dtmfMetric]
	var echoed atomic.Int64
	tick = time.NewTicker(time.Second / time.Duration(max(o.Ramp, 1)))
	for _, c := range calls {
		select {
		case <-ctx.Done():
			tick.Stop()
			return res, ctx.Err()
		case <-tick.C:
		}
		res.DTMFSent++
		wg.Add(1)
		go func() {
			defer wg.Done()
			dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			if err := c.SendDTMF(dctx, "5"); err != nil {
				return
			}
			for {
				select {
				case ev := <-c.DTMF():
					if ev.Digit == '5' {
						echoed.Add(1)
						return
					}
				case <-c.Done():
					return
				case <-dctx.Done():
					return
				}
			}
		}()
	}
	tick.Stop()
	wg.Wait()
	res.DTMFEchoed = int(echoed.Load())
	if m2, err := scrape(ctx, t.metrics); err == nil {
		res.DTMFDetected = m2[t.dtmfMetric] - dtmf0
	}

	// Tear down at the ramp rate and wait for the target to be idle.
	tick = time.NewTicker(time.Second / time.Duration(max(o.Ramp, 1)))
	for _, c := range calls {
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Long enough for the BYE's own retransmissions (Timer F, 64×T1).
			hctx, cancel := context.WithTimeout(ctx, 35*time.Second)
			defer cancel()
			_ = c.Hangup(hctx)
		}()
	}
	tick.Stop()
	wg.Wait()
	wctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	left, err := waitMetricValue(wctx, t.metrics, t.activeMetric, func(v float64) bool { return v == 0 })
	if err != nil && ctx.Err() == nil {
		o.Log.Warn("target still holds calls after the teardown", "target", t.name, "calls", left, "err", err)
	}
	res.LeftUp = left
	return res, ctx.Err()
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// minHeap samples go_memstats_heap_inuse_bytes every 250 ms for d and returns the
// lowest value.
func minHeap(ctx context.Context, url string, d time.Duration) (float64, error) {
	end := time.Now().Add(d)
	low := -1.0
	for {
		m, err := scrape(ctx, url)
		if err != nil {
			return 0, err
		}
		if v := m["go_memstats_heap_inuse_bytes"]; low < 0 || v < low {
			low = v
		}
		left := time.Until(end)
		if left <= 0 {
			return low, nil
		}
		sleepCtx(ctx, min(250*time.Millisecond, left))
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
	}
}
