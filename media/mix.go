package media

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Mix joins three or more sessions (a monitored call and a supervisor): each
// participant hears the sum of the participants it may hear. Hears[d][s] says whether
// participant d hears participant s; a listen-only supervisor is heard by nobody, a
// whisper is heard by the agent only, a barge by everyone. Frames are decoded on
// arrival, queued per participant (a few frames deep; late frames are dropped rather
// than delaying the call), and mixed on a 20 ms ticker owned by Run. Taps, when set,
// see each participant's frames as they arrive (a recorder keeps recording).
type Mix struct {
	parts []*mixPart
	hears [][]bool
}

type mixPart struct {
	name string
	s    *Session
	mu   sync.Mutex
	q    [][]int16
	tap  FrameSink
	prev FrameSink
}

// maxMixQueue frames per participant (60 ms): more means a sender runs fast.
const maxMixQueue = 3

// MixParticipant is one leg of a Mix.
type MixParticipant struct {
	Name    string // for String(): "patient", "agent", "supervisor"
	Session *Session
	Tap     FrameSink // optional
}

// NewMix prepares a mix; hears[d][s] must be len(parts)×len(parts).
func NewMix(parts []MixParticipant, hears [][]bool) (*Mix, error) {
	if len(parts) < 2 || len(hears) != len(parts) {
		return nil, fmt.Errorf("media: mix needs a hears matrix per participant")
	}
	m := &Mix{hears: hears}
	for i, p := range parts {
		if len(hears[i]) != len(parts) {
			return nil, fmt.Errorf("media: mix hears row %d has %d entries", i, len(hears[i]))
		}
		m.parts = append(m.parts, &mixPart{name: p.Name, s: p.Session, tap: p.Tap})
	}
	return m, nil
}

// WriteFrame queues a participant's decoded frame (the session's receive goroutine).
func (p *mixPart) WriteFrame(f Frame) error {
	if p.tap != nil {
		_ = p.tap.WriteFrame(f)
	}
	pcm := append([]int16(nil), f.Samples...)
	p.mu.Lock()
	if len(p.q) >= maxMixQueue {
		p.q = p.q[1:]
	}
	p.q = append(p.q, pcm)
	p.mu.Unlock()
	return nil
}

func (p *mixPart) String() string { return "MixInput(" + p.name + ")" }

func (p *mixPart) pop() []int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.q) == 0 {
		return nil
	}
	f := p.q[0]
	p.q = p.q[1:]
	return f
}

// Run mixes until ctx ends, then gives every session its previous sink back.
func (m *Mix) Run(ctx context.Context) {
	for _, p := range m.parts {
		p.prev = p.s.SetSink(p)
	}
	defer func() {
		for _, p := range m.parts {
			p.s.SetSink(p.prev)
		}
	}()
	t := time.NewTicker(FrameDuration)
	defer t.Stop()
	cur := make([][]int16, len(m.parts))
	out := make([]int32, FrameSamples)
	buf := make([]int16, FrameSamples)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for i, p := range m.parts {
			cur[i] = p.pop()
		}
		for d, p := range m.parts {
			clear(out)
			any := false
			for s := range m.parts {
				if s == d || !m.hears[d][s] || cur[s] == nil {
					continue
				}
				any = true
				for k, v := range cur[s] {
					if k < len(out) {
						out[k] += int32(v)
					}
				}
			}
			if !any {
				continue // nothing to hear this tick: the session starts a new talkspurt later
			}
			for k, v := range out {
				buf[k] = int16(max(-32768, min(32767, v)))
			}
			_ = p.s.WriteFrame(buf)
		}
	}
}

// String describes who hears whom, e.g. "Mix[agent<-patient+supervisor; patient<-agent]".
func (m *Mix) String() string {
	var rows []string
	for d, p := range m.parts {
		var srcs []string
		for s, q := range m.parts {
			if s != d && m.hears[d][s] {
				srcs = append(srcs, q.name)
			}
		}
		if len(srcs) > 0 {
			rows = append(rows, p.name+"<-"+strings.Join(srcs, "+"))
		}
	}
	return "Mix[" + strings.Join(rows, "; ") + "]"
}
