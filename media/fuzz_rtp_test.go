package media

import (
	"net/netip"
	"testing"
	"time"
)

// checkSink verifies what the receive path hands to sinks.
type checkSink struct{ t *testing.T }

func (c checkSink) WriteFrame(f Frame) error {
	if len(f.Samples) != len(f.Payload) || len(f.Payload) == 0 || !f.Codec.Valid() {
		c.t.Fatalf("bad frame: %d samples for %d payload bytes, codec %v", len(f.Samples), len(f.Payload), f.Codec)
	}
	return nil
}

func (checkSink) String() string { return "check" }

// FuzzRTPPacket feeds arbitrary datagrams to the receive path: RTP parsing, source
// latching, loss accounting, G.711 decoding and RFC 4733 decoding.
func FuzzRTPPacket(f *testing.F) {
	payload := PCMU.Encode(nil, make([]int16, 160))
	seeds := [][]byte{
		rtpBytes(f, 0, 1, 160, 7, true, payload),
		rtpBytes(f, 101, 2, 320, 7, true, appendDTMFPayload(nil, 5, false, 10, 160)),
		rtpBytes(f, 101, 3, 320, 7, false, appendDTMFPayload(nil, 5, true, 10, 1280)),
		rtpBytes(f, 101, 4, 320, 7, false, []byte{200, 0x80, 0, 0}),
		rtpBytes(f, 13, 5, 320, 7, false, []byte{40}),
		{0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0, 0}, // extension
		{0xA0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9},                         // bad padding
		{0x8F, 0, 0, 1},
	}
	for _, s := range seeds {
		f.Add(s, uint16(4000))
	}
	f.Fuzz(func(t *testing.T, data []byte, srcPort uint16) {
		s := newSession(buildOptions([]Option{WithInbandDTMF(true)}))
		st, _ := s.buildState(Negotiated{Codec: PCMU, DTMFPT: 101, Remote: netip.MustParseAddrPort("127.0.0.1:4000")}, 1)
		s.state.Store(st)
		s.SetSink(checkSink{t})
		now := time.Unix(1700000000, 0)
		src := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), srcPort)
		// Twice, so the second pass exercises the decoders' "already seen" state.
		s.handle(data, src, now)
		s.handle(data, src, now.Add(20*time.Millisecond))
		st2, _ := s.buildState(Negotiated{Codec: PCMA, PayloadType: 8, DTMFPT: -1, Remote: src}, 2)
		s.state.Store(st2)
		s.handle(data, src, now.Add(40*time.Millisecond))
		stats := s.Stats()
		if stats.PacketsIn+stats.Dropped != 3 {
			t.Fatalf("3 datagrams, %d accepted + %d dropped", stats.PacketsIn, stats.Dropped)
		}
		for len(s.dtmf) > 0 {
			if ev := <-s.dtmf; !ValidDTMF(ev.Digit) {
				t.Fatalf("digit %q", ev.Digit)
			}
		}
	})
}
