package media

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"time"
)

// ErrClockStopped means the playout clock's Run has returned, so nothing can be played
// or sent as DTMF. (Work queued before Run starts simply waits for the first tick.)
var ErrClockStopped = errors.New("media: playout clock not running")

// maxCatchUp bounds how many frames one session sends in a single late tick.
const maxCatchUp = 3

// inlineTick is the number of active sessions up to which a tick runs on the clock's own
// goroutine instead of being spread over the workers.
const inlineTick = 32

// Clock is the one playout clock of the process. Every 20 ms it sends the next frame of
// every active playback and DTMF send of every session. Sessions join it while they have
// something to send and leave when done; no call owns a timer or ticker. A tick's writes
// are spread over a few worker goroutines. When the process falls behind, the next tick
// sends up to three frames per session so RTP timestamps keep pace with the wall clock.
// Options read: WithWorkers, WithLogger, WithMetrics.
type Clock struct {
	interval time.Duration
	workers  int
	log      *slog.Logger
	metrics  *Metrics

	mu       sync.Mutex
	running  bool
	stopped  bool       // Run has returned
	streams  []*Session // sessions with work
	snapshot []*Session // reused per tick
	work     []chan clockWork
	wg       sync.WaitGroup

	onTick func(due, start, end time.Time) // test hook (benchmarks), set before Run
}

type clockWork struct {
	list   []*Session
	now    time.Time
	frames int
}

// NewClock returns a clock that ticks once Run is called.
func NewClock(opts ...Option) *Clock {
	o := buildOptions(opts)
	w := o.workers
	if w <= 0 {
		w = min(runtime.NumCPU(), 8)
	}
	return &Clock{interval: FrameDuration, workers: w, log: o.logger, metrics: o.metrics}
}

// String describes the clock.
func (c *Clock) String() string { return "Clock(20ms)" }

// Active is the number of sessions currently on the clock.
func (c *Clock) Active() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.streams)
}

// Run ticks until ctx is done. Playbacks and DTMF sends still active then end with
// ErrClockStopped. Run returns ctx.Err(), or an error if the clock is already running.
func (c *Clock) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		return errors.New("media: clock already running")
	}
	c.running, c.stopped = true, false
	c.work = make([]chan clockWork, c.workers)
	for i := range c.work {
		ch := make(chan clockWork, 1)
		c.work[i] = ch
		go c.worker(ch)
	}
	c.mu.Unlock()

	defer func() {
		c.mu.Lock()
		c.running, c.stopped = false, true
		for _, ch := range c.work {
			close(ch)
		}
		c.work = nil
		list := c.streams
		c.streams = nil
		for _, s := range list {
			s.inClock = false
		}
		c.mu.Unlock()
		for _, s := range list {
			s.abortOutput(ErrClockStopped)
		}
	}()

	next := time.Now().Add(c.interval)
	timer := time.NewTimer(c.interval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		now := time.Now()
		frames := 1
		if late := now.Sub(next); late >= c.interval {
			c.metrics.lateTick()
			frames += int(late / c.interval)
			if frames > maxCatchUp {
				frames = maxCatchUp
				next = now // give up on the lost time rather than burst
			} else {
				next = next.Add(time.Duration(frames-1) * c.interval)
			}
		}
		c.tick(now, frames)
		if c.onTick != nil {
			c.onTick(next, now, time.Now())
		}
		next = next.Add(c.interval)
		timer.Reset(time.Until(next))
	}
}

func (c *Clock) worker(ch <-chan clockWork) {
	for w := range ch {
		for _, s := range w.list {
			s.tick(w.now, w.frames)
		}
		c.wg.Done()
	}
}

func (c *Clock) tick(now time.Time, frames int) {
	c.mu.Lock()
	snap := c.snapshot[:0]
	keep := c.streams[:0]
	for _, s := range c.streams {
		if s.idle.Load() {
			s.inClock = false
			continue
		}
		keep = append(keep, s)
		snap = append(snap, s)
	}
	clear(c.streams[len(keep):])
	c.streams = keep
	c.snapshot = snap
	work := c.work
	c.mu.Unlock()

	n := len(snap)
	if n <= inlineTick || len(work) <= 1 {
		for _, s := range snap {
			s.tick(now, frames)
		}
		return
	}
	chunk := (n + len(work) - 1) / len(work)
	for i := 0; i < n; i += chunk {
		c.wg.Add(1)
		work[i/chunk] <- clockWork{list: snap[i:min(i+chunk, n)], now: now, frames: frames}
	}
	c.wg.Wait()
}

// activate puts s on the clock. The caller has set s.idle to false first.
func (c *Clock) activate(s *Session) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return ErrClockStopped
	}
	if !s.inClock {
		s.inClock = true
		c.streams = append(c.streams, s)
	}
	return nil
}
