package media

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"
)

type nopSink struct{}

func (nopSink) WriteFrame(Frame) error { return nil }
func (nopSink) String() string         { return "nop" }

// TestHotPathAllocs: receiving a packet, sending a frame and a clock tick of a playback
// allocate nothing.
func TestHotPathAllocs(t *testing.T) {
	src := netip.MustParseAddrPort("127.0.0.1:4000")
	s := newSession(buildOptions(nil))
	st, _ := s.buildState(Negotiated{Codec: PCMU, DTMFPT: 101, Remote: src}, 1)
	s.state.Store(st)
	s.SetSink(nopSink{})
	pkt := rtpBytes(t, 0, 1, 0, 9, false, PCMU.Encode(nil, make([]int16, 160)))
	now := time.Now()
	seq := uint16(1)
	if n := testing.AllocsPerRun(1000, func() {
		seq++
		binary.BigEndian.PutUint16(pkt[2:], seq)
		s.handle(pkt, src, now)
	}); n != 0 {
		t.Errorf("receive path: %.1f allocs per packet", n)
	}

	e := newTestEnv(t, 2)
	tx := e.session(t)
	peer := udpSocket(t)
	go func() { // drain
		buf := make([]byte, 1500)
		for {
			if _, _, err := peer.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
		}
	}()
	_ = tx.Start(Negotiated{Codec: PCMA, PayloadType: 8, DTMFPT: -1, Remote: peer.LocalAddr().(*net.UDPAddr).AddrPort()})
	frame := make([]int16, 160)
	if n := testing.AllocsPerRun(1000, func() { _ = tx.WriteFrame(frame) }); n != 0 {
		t.Errorf("WriteFrame: %.1f allocs per frame", n)
	}
	// A playback's per-tick work, driven by hand (the running clock may tick too).
	done := make(chan struct{})
	go func() {
		_, _ = tx.Play(context.Background(), PlayOptions{Prompts: []*Prompt{Tone(440, time.Second)}, Loop: true})
		close(done)
	}()
	eventually(t, "playback", playing(tx))
	if n := testing.AllocsPerRun(1000, func() { tx.tick(time.Now(), 1) }); n != 0 {
		t.Errorf("clock tick: %.1f allocs per frame", n)
	}
	tx.Close()
	<-done
}
