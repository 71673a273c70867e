package media

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestBridgeRelayAllocs: a packet received on one leg and relayed out of the other
// (Session.handle → Bridge → Session.WritePayload → socket) allocates nothing.
func TestBridgeRelayAllocs(t *testing.T) {
	e := newTestEnv(t, 2)
	a, b := e.session(t), e.session(t)
	phoneA, phoneB := udpSocket(t), udpSocket(t)
	go func() { // phone B drains what the bridge relays
		buf := make([]byte, 1500)
		for {
			if _, _, err := phoneB.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
		}
	}()
	srcA := phoneA.LocalAddr().(*net.UDPAddr).AddrPort()
	if err := a.Start(Negotiated{Codec: PCMU, DTMFPT: 101, Remote: srcA}); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(Negotiated{Codec: PCMU, DTMFPT: 101, Remote: phoneB.LocalAddr().(*net.UDPAddr).AddrPort()}); err != nil {
		t.Fatal(err)
	}
	br := NewBridge(a, b, BridgeOptions{})
	br.Start()
	defer br.Stop()
	pkt := rtpBytes(t, 0, 1, 0, 9, false, PCMU.Encode(nil, make([]int16, 160)))
	seq := uint16(1)
	now := time.Now()
	// handle runs on a's receive goroutine in production; a's socket gets no traffic
	// here, so calling it directly does not race with that goroutine.
	if n := testing.AllocsPerRun(1000, func() {
		seq++
		binary.BigEndian.PutUint16(pkt[2:], seq)
		a.handle(pkt, netip.AddrPortFrom(srcA.Addr(), srcA.Port()), now)
	}); n != 0 {
		t.Errorf("relay path: %.1f allocs per packet", n)
	}
	if relayed, _ := br.Stats(); relayed < 1000 {
		t.Fatalf("relayed %d packets, want ≥ 1000", relayed)
	}
	if out := b.Stats().PacketsOut; out < 1000 {
		t.Fatalf("leg B sent %d packets, want ≥ 1000", out)
	}
}
