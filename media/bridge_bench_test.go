package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

// benchPhones plays the phones of n bridged calls: every A phone shares one socket and
// every B phone another (as bench/cmd/relaybench does), each call's legs negotiated
// through real SDP with them.
type benchPhones struct {
	pa, pb *net.UDPConn
	a, b   []netip.AddrPort // careline's leg A and leg B of each call
	br     []*Bridge
}

func newBenchPhones(b *testing.B, n int) *benchPhones {
	e := newTestEnv(b, 2*n)
	p := &benchPhones{pa: udpSocket(b), pb: udpSocket(b)}
	for _, c := range []*net.UDPConn{p.pa, p.pb} {
		_ = c.SetReadBuffer(4 << 20)
	}
	phone := func(c *net.UDPConn) SDPConfig {
		return SDPConfig{Addr: loopback, Port: c.LocalAddr().(*net.UDPAddr).Port, Codecs: []Codec{PCMU}, DTMF: true}
	}
	for range n {
		a, bl := e.session(b), e.session(b)
		offer, err := Offer(phone(p.pa)) // the A phone calls in; leg A answers
		if err != nil {
			b.Fatal(err)
		}
		_, na, err := Answer(offer, sdpCfg(a, true))
		if err != nil {
			b.Fatal(err)
		}
		offer, err = Offer(sdpCfg(bl, true)) // leg B calls the B phone
		if err != nil {
			b.Fatal(err)
		}
		ans, _, err := Answer(offer, phone(p.pb))
		if err != nil {
			b.Fatal(err)
		}
		nb, err := ParseAnswer(ans, sdpCfg(bl, true))
		if err != nil {
			b.Fatal(err)
		}
		if err := errors.Join(a.Start(na), bl.Start(nb)); err != nil {
			b.Fatal(err)
		}
		br := NewBridge(a, bl, BridgeOptions{})
		br.Start()
		b.Cleanup(br.Stop)
		p.br = append(p.br, br)
		p.a, p.b = append(p.a, a.LocalAddr()), append(p.b, bl.LocalAddr())
	}
	return p
}

// BenchmarkBridgeRelay sends 172-byte PCMU packets through bridged calls over
// 127.0.0.1, alternating the direction and the call, with at most 32 packets in flight,
// and counts them at the far phone. One op is one relayed packet: ns/op is wall time per
// packet for the whole loop (phones included), relayed-pkts/s its inverse, cpu-µs/pkt the
// process's CPU per packet (phones included), and allocs/op the whole process's
// allocations per packet (the phones allocate nothing). A packet's relay cost sits in
// Session.handle → Bridge → Session.WritePayload; cmd/relaybench measures the relay
// alone, in its own process, against rtpengine.
func BenchmarkBridgeRelay(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("calls=%d", n), func(b *testing.B) { benchRelay(b, n) })
	}
}

func benchRelay(b *testing.B, n int) {
	p := newBenchPhones(b, n)
	const window = 32
	credits := make(chan struct{}, window)
	for range window {
		credits <- struct{}{}
	}
	for _, c := range []*net.UDPConn{p.pa, p.pb} {
		go func() {
			buf := make([]byte, 1500)
			for {
				k, _, err := c.ReadFromUDPAddrPort(buf)
				if err != nil {
					return // closed by the test's cleanup
				}
				if k == 172 {
					credits <- struct{}{}
				}
			}
		}()
	}
	payload := PCMU.Encode(nil, Tone(440, 20*time.Millisecond).pcm)
	pkts := make([][]byte, 2*n) // per call and direction, header rewritten per send
	for i := range pkts {
		pkts[i] = rtpBytes(b, 0, 0, 0, uint32(i+1), false, payload)
	}
	send := func(i int) error {
		call, dir := (i/2)%n, i%2
		pkt := pkts[2*call+dir]
		seq := binary.BigEndian.Uint16(pkt[2:]) + 1
		binary.BigEndian.PutUint16(pkt[2:], seq)
		binary.BigEndian.PutUint32(pkt[4:], uint32(seq)*160)
		if dir == 0 {
			_, err := p.pa.WriteToUDPAddrPort(pkt, p.a[call])
			return err
		}
		_, err := p.pb.WriteToUDPAddrPort(pkt, p.b[call])
		return err
	}
	// Warm up: latch every leg (one packet each way per call) and settle the goroutines.
	for i := range 2 * n {
		<-credits
		if err := send(i); err != nil {
			b.Fatal(err)
		}
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	take := func() {
		select {
		case <-credits:
			return
		default:
		}
		timer.Reset(5 * time.Second)
		select {
		case <-credits:
		case <-timer.C:
			b.Fatal("relayed packets went missing")
		}
	}
	for range window {
		take()
	}
	for range window {
		credits <- struct{}{}
	}
	b.ReportAllocs()
	cpu0, wall0 := cpuTime(), time.Now()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		take()
		if err := send(i); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			b.Fatal(err)
		}
		i++
	}
	for range window { // wait for the packets still in flight
		take()
	}
	b.StopTimer()
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	b.ReportMetric(float64(i)/wall.Seconds(), "relayed-pkts/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(i), "cpu-µs/pkt")
	var relayed uint64
	for _, br := range p.br {
		r, t := br.Stats()
		if t != 0 {
			b.Fatalf("%d frames transcoded between same-codec legs", t)
		}
		relayed += r
	}
	if relayed < uint64(i) {
		b.Fatalf("bridges relayed %d of %d packets", relayed, i)
	}
}
