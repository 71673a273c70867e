package media

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// freeRange finds pairs free port pairs on 127.0.0.1 below the Linux ephemeral range
// (32768+), where only explicit binders compete, and returns min and max.
func freeRange(t testing.TB, pairs int) (int, int) {
	t.Helper()
	for range 200 {
		base := 20000 + 2*rand.IntN(6000-pairs)
		ok := true
		var held []*net.UDPConn
		for p := base; p < base+2*pairs; p++ {
			c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(p))))
			if err != nil {
				ok = false
				break
			}
			held = append(held, c)
		}
		for _, c := range held {
			c.Close()
		}
		if ok {
			return base, base + 2*pairs - 1
		}
	}
	t.Fatal("no free port range")
	return 0, 0
}

func TestPortAllocator(t *testing.T) {
	t.Parallel()
	lo, hi := freeRange(t, 3)
	a, err := NewPortAllocator(loopback, lo, hi, WithRest(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	seen := map[int]bool{}
	var ports []*Port
	for range 3 {
		p, err := a.Allocate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p.Number()%2 != 0 || p.Number() < lo || p.Number()+1 > hi || seen[p.Number()] {
			t.Fatalf("port %d", p.Number())
		}
		seen[p.Number()] = true
		// Both RTP and RTCP are bound by us.
		for _, port := range []int{p.Number(), p.Number() + 1} {
			if c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(port)))); err == nil {
				c.Close()
				t.Fatalf("port %d not bound", port)
			}
		}
		if p.Addr() != netip.AddrPortFrom(loopback, uint16(p.Number())) || p.RTCP() == nil {
			t.Fatal("addr")
		}
		ports = append(ports, p)
	}
	if _, err := a.Allocate(ctx); !errors.Is(err, ErrPortsExhausted) {
		t.Fatalf("4th allocation: %v", err)
	}
	ports[0].Release()
	ports[0].Release() // idempotent
	if in, rest := a.Counts(); in != 2 || rest != 1 {
		t.Fatalf("counts %d in use, %d resting", in, rest)
	}
	if _, err := a.Allocate(ctx); !errors.Is(err, ErrPortsExhausted) {
		t.Fatalf("allocation while the freed port rests: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := a.Allocate(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
	for _, bad := range [][2]int{{0, 10}, {5000, 5000}, {5001, 5002}, {60000, 70000}} {
		if _, err := NewPortAllocator(loopback, bad[0], bad[1]); err == nil {
			t.Errorf("range %v accepted", bad)
		}
	}
}

func TestPortAllocatorSkipsForeignPorts(t *testing.T) {
	t.Parallel()
	lo, hi := freeRange(t, 2)
	// Someone else holds the RTCP port of the first pair.
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(lo+1))))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, _ := NewPortAllocator(loopback, lo, hi)
	defer a.Close()
	for range 3 {
		p, err := a.Allocate(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if p.Number() != lo+2 {
			t.Fatalf("got %d, want %d", p.Number(), lo+2)
		}
		p.a.rest = 0 // free at once for the next round
		p.Release()
	}
}

// TestPortRest: a released port stays bound for the rest period, swallowing what the
// previous peer still sends, and is handed out fresh afterwards. Fake time (synctest).
func TestPortRest(t *testing.T) {
	t.Parallel()
	lo, hi := freeRange(t, 1)
	synctest.Test(t, func(t *testing.T) {
		m, _ := NewMetrics(nil)
		a, err := NewPortAllocator(loopback, lo, hi, WithRest(30*time.Second), WithMetrics(m))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		ctx := context.Background()
		p, err := a.Allocate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p.Release()

		// The previous patient's phone keeps sending to the resting port.
		peer, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close()
		for range 5 {
			if _, err := peer.WriteToUDPAddrPort([]byte("stale audio"), p.Addr()); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(29 * time.Second)
		synctest.Wait()
		if _, err := a.Allocate(ctx); !errors.Is(err, ErrPortsExhausted) {
			t.Fatalf("allocated during rest: %v", err)
		}
		if in, rest := a.Counts(); in != 0 || rest != 1 {
			t.Fatalf("counts %d/%d", in, rest)
		}
		time.Sleep(2 * time.Second) // rest over: the allocator's timer closes the pair
		synctest.Wait()
		if in, rest := a.Counts(); in != 0 || rest != 0 {
			t.Fatalf("after rest: counts %d/%d", in, rest)
		}
		if got := counterValue(t, m.stale); got != 5 {
			t.Fatalf("stale packets counted %v, want 5", got)
		}
		p2, err := a.Allocate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer p2.Release()
		if p2.Number() != p.Number() {
			t.Fatalf("got port %d, want %d again", p2.Number(), p.Number())
		}
		// The new socket starts empty: the first thing it reads is the new call's packet.
		if _, err := peer.WriteToUDPAddrPort([]byte("new call"), p2.Addr()); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, _, err := p2.RTP().ReadFromUDPAddrPort(buf)
		if err != nil || string(buf[:n]) != "new call" {
			t.Fatalf("first packet on the reused port: %q %v", buf[:n], err)
		}
	})
}
