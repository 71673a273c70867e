package media

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Bridge anchors the media of two started sessions: what A receives is sent out of B
// and the reverse. When both legs negotiated the same codec the RTP payload is relayed
// untouched (each session keeps its own SSRC, sequence numbers and timestamps); when
// they differ, audio is transcoded through PCM (PCMU↔PCMA). Taps see every decoded
// frame of a direction (a recorder, a supervisor's listen-in). A bridge replaces the
// sessions' sinks while it runs and restores them on Stop.
type Bridge struct {
	a, b       *Session
	ab, ba     *relay
	prevA      FrameSink
	prevB      FrameSink
	stopOnce   sync.Once
	startOnce  sync.Once
	relayed    atomic.Uint64
	transcoded atomic.Uint64
}

// BridgeOptions are the per-bridge parameters.
type BridgeOptions struct {
	// TapA receives frames A sent to us (A → B direction); TapB those from B.
	TapA, TapB FrameSink
}

// NewBridge prepares a bridge between a and b; Start connects them.
func NewBridge(a, b *Session, o BridgeOptions) *Bridge {
	br := &Bridge{a: a, b: b}
	br.ab = &relay{br: br, from: "A", to: b, tap: o.TapA}
	br.ba = &relay{br: br, from: "B", to: a, tap: o.TapB}
	return br
}

// Start connects the two directions.
func (br *Bridge) Start() {
	br.startOnce.Do(func() {
		br.prevA = br.a.SetSink(br.ab)
		br.prevB = br.b.SetSink(br.ba)
	})
}

// Stop disconnects the sessions and gives them back their previous sinks.
func (br *Bridge) Stop() {
	br.stopOnce.Do(func() {
		br.ab.stopped.Store(true)
		br.ba.stopped.Store(true)
		br.a.SetSink(br.prevA)
		br.b.SetSink(br.prevB)
	})
}

// SetTaps replaces the taps (e.g. when a recording starts mid-call); nil removes one.
func (br *Bridge) SetTaps(tapA, tapB FrameSink) {
	br.ab.setTap(tapA)
	br.ba.setTap(tapB)
}

// Stats returns frames relayed as payload and frames transcoded.
func (br *Bridge) Stats() (relayed, transcoded uint64) {
	return br.relayed.Load(), br.transcoded.Load()
}

// String describes both directions, e.g. "Bridge[A->B: relay PCMU; B->A: relay PCMU]".
func (br *Bridge) String() string {
	return fmt.Sprintf("Bridge[A->B: %s; B->A: %s]", br.ab.mode(br.a), br.ba.mode(br.b))
}

type relay struct {
	br      *Bridge
	from    string
	to      *Session
	mu      sync.Mutex
	tap     FrameSink
	stopped atomic.Bool
}

func (r *relay) setTap(t FrameSink) {
	r.mu.Lock()
	r.tap = t
	r.mu.Unlock()
}

func (r *relay) mode(src *Session) string {
	in, out := src.Negotiated().Codec, r.to.Negotiated().Codec
	if in == out {
		return "relay " + in.Name()
	}
	return "transcode " + in.Name() + "->" + out.Name()
}

// WriteFrame runs on the source session's receive goroutine.
func (r *relay) WriteFrame(f Frame) error {
	if r.stopped.Load() {
		return nil
	}
	r.mu.Lock()
	tap := r.tap
	r.mu.Unlock()
	if tap != nil {
		_ = tap.WriteFrame(f)
	}
	var err error
	if f.Codec == r.to.Negotiated().Codec && len(f.Payload) > 0 {
		err = r.to.WritePayload(f.Payload, f.Marker)
		r.br.relayed.Add(1)
	} else {
		err = r.to.WriteFrame(f.Samples)
		r.br.transcoded.Add(1)
	}
	if err == ErrSessionClosed {
		return nil
	}
	return err
}

func (r *relay) String() string {
	return "BridgeRelay(" + r.from + "->" + r.to.LocalAddr().String() + ")"
}
