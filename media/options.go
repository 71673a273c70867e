package media

import (
	"log/slog"
	"time"
)

// Option configures the long-lived objects of this package (PortAllocator, Clock,
// Session, PromptCache). Each constructor documents the options it reads and ignores
// the rest, so one set of WithLogger/WithMetrics can be passed everywhere.
type Option func(*options)

type options struct {
	logger       *slog.Logger
	metrics      *Metrics
	rest         time.Duration
	timeout      time.Duration
	holdTimeout  time.Duration
	workers      int
	latchPackets int
	inband       bool
	dtmfBuffer   int
	defaultLang  string
}

// Defaults.
const (
	DefaultRest         = 30 * time.Second // port quarantine after Close
	DefaultTimeout      = 30 * time.Second // no RTP for this long ends the call
	DefaultHoldFactor   = 10               // hold timeout = DefaultHoldFactor × timeout
	DefaultLatchPackets = 3                // valid packets before latching to a new source
	DefaultDTMFBuffer   = 32
)

func buildOptions(opts []Option) options {
	o := options{
		rest:         DefaultRest,
		timeout:      DefaultTimeout,
		latchPackets: DefaultLatchPackets,
		dtmfBuffer:   DefaultDTMFBuffer,
		defaultLang:  "en",
	}
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.holdTimeout <= 0 {
		o.holdTimeout = DefaultHoldFactor * o.timeout
	}
	return o
}

// WithLogger sets the logger (default: discard). All objects.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithMetrics sets the metrics sink (default: none). All objects.
func WithMetrics(m *Metrics) Option { return func(o *options) { o.metrics = m } }

// WithRest sets how long a released port stays bound, swallowing stale packets, before
// it can be handed out again (default 30 s). PortAllocator.
func WithRest(d time.Duration) Option { return func(o *options) { o.rest = max(d, 0) } }

// WithTimeout sets the media timeout: no RTP for d ends the session's media (default
// 30 s). Session.
func WithTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// WithHoldTimeout sets the media timeout while the peer is on hold or not expected to
// send (default 10 × the timeout). Session.
func WithHoldTimeout(d time.Duration) Option { return func(o *options) { o.holdTimeout = d } }

// WithWorkers sets how many goroutines write packets on each clock tick (default: the
// number of CPUs, at most 8). Clock.
func WithWorkers(n int) Option { return func(o *options) { o.workers = n } }

// WithLatchPackets sets how many consecutive valid packets from a new source address it
// takes to latch onto it (symmetric RTP; default 3). Session.
func WithLatchPackets(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.latchPackets = n
		}
	}
}

// WithInbandDTMF enables the Goertzel DTMF detector on received audio when no
// telephone-event was negotiated (digits come with source "inband"). Session.
func WithInbandDTMF(on bool) Option { return func(o *options) { o.inband = on } }

// WithDTMFBuffer sets the capacity of the DTMF channel (default 32). Session.
func WithDTMFBuffer(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.dtmfBuffer = n
		}
	}
}

// WithDefaultLang sets the language PromptCache.Get falls back to (default "en").
func WithDefaultLang(lang string) Option { return func(o *options) { o.defaultLang = lang } }
