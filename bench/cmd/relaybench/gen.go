//go:build linux && (amd64 || arm64)

package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

const (
	pktSize     = 172 // 12-byte RTP header + 160 bytes of PCMU (20 ms)
	slotsPerPkt = 20  // 1 ms slots per 20 ms packet interval
)

// genStats is the generator's answer to "stats".
type genStats struct {
	T      int64  `json:"t"` // unix nanoseconds
	Sent   uint64 `json:"sent"`
	RecvA  uint64 `json:"recv_a"` // arrived at the A phones' socket (B → A direction)
	RecvB  uint64 `json:"recv_b"`
	BadLen uint64 `json:"bad_len"` // datagrams that were not 172 bytes
	Late   uint64 `json:"late"`    // 1 ms slots sent more than 5 ms late
}

type genPorts struct {
	A int `json:"a"`
	B int `json:"b"`
}

type stream struct {
	dst netip.AddrPort
	pkt [pktSize]byte
	seq uint16
	ts  uint32
}

func (s *stream) next() []byte {
	p := s.pkt[:]
	binary.BigEndian.PutUint16(p[2:], s.seq)
	binary.BigEndian.PutUint32(p[4:], s.ts)
	s.seq++
	s.ts += 160
	return p
}

func newStream(dst netip.AddrPort) *stream {
	s := &stream{dst: dst, seq: uint16(rand.Uint32()), ts: rand.Uint32()}
	s.pkt[0] = 0x80
	s.pkt[1] = 0x80 // marker on the first packet, PT 0 (PCMU)
	binary.BigEndian.PutUint32(s.pkt[8:], rand.Uint32())
	for i := 12; i < pktSize; i++ {
		s.pkt[i] = 0xff // μ-law silence
	}
	return s
}

// generator plays the phones of every call: all A phones share one socket and all B
// phones another, so the relays send back to two reading sinks (recvmmsg).
type generator struct {
	log    *slog.Logger
	a, b   *net.UDPConn
	sent   atomic.Uint64
	recvA  atomic.Uint64
	recvB  atomic.Uint64
	badLen atomic.Uint64
	late   atomic.Uint64
}

func runGen(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	rcvbuf := fs.Int("rcvbuf", 16<<20, "receive buffer of the two sink sockets (bytes)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	g := &generator{log: log}
	var err error
	lo := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	if g.a, err = net.ListenUDP("udp4", lo); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	defer g.a.Close()
	if g.b, err = net.ListenUDP("udp4", lo); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	defer g.b.Close()
	setRcvBuf(g.a, *rcvbuf)
	setRcvBuf(g.b, *rcvbuf)

	var wg sync.WaitGroup
	for _, sink := range []struct {
		c *net.UDPConn
		n *atomic.Uint64
	}{{g.a, &g.recvA}, {g.b, &g.recvB}} {
		wg.Go(func() {
			err := recvLoop(sink.c, newBatch(64, 2048), func(pkts, bytes int) {
				sink.n.Add(uint64(pkts))
				if bytes != pkts*pktSize {
					g.badLen.Add(1)
				}
			})
			if err != nil && !errors.Is(err, net.ErrClosed) {
				log.Error("sink read", "err", err)
			}
		})
	}
	defer wg.Wait()
	defer g.b.Close()
	defer g.a.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ctl := newChildIO()
	if err := ctl.reply(genPorts{A: g.a.LocalAddr().(*net.UDPAddr).Port, B: g.b.LocalAddr().(*net.UDPAddr).Port}); err != nil {
		return err
	}
	var slots [slotsPerPkt]slot
	sending := make(chan error, 1)
	for {
		cmd, err := ctl.next()
		if err != nil {
			cancel()
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return errors.Join(err, waitSending(sending))
		}
		switch cmd.Cmd {
		case "streams":
			slots = buildSlots(cmd.A, cmd.B)
			err = ctl.reply(map[string]int{"streams": len(cmd.A) + len(cmd.B)})
		case "start":
			go func() { sending <- g.send(ctx, &slots) }()
			err = ctl.reply(map[string]bool{"started": true})
		case "stats":
			err = ctl.reply(genStats{T: time.Now().UnixNano(), Sent: g.sent.Load(), RecvA: g.recvA.Load(),
				RecvB: g.recvB.Load(), BadLen: g.badLen.Load(), Late: g.late.Load()})
		default:
			err = ctl.reply(errReply{Error: "unknown command " + cmd.Cmd})
		}
		if err != nil {
			cancel()
			return errors.Join(err, waitSending(sending))
		}
	}
}

func waitSending(ch chan error) error {
	select {
	case err := <-ch:
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	default:
		return nil
	}
}

// slot holds the streams that send in one 1 ms slot of the 20 ms cycle.
type slot struct{ a, b []*stream }

func buildSlots(a, b []int) [slotsPerPkt]slot {
	var s [slotsPerPkt]slot
	lo := netip.MustParseAddr("127.0.0.1")
	for i, p := range a {
		k := i % slotsPerPkt
		s[k].a = append(s[k].a, newStream(netip.AddrPortFrom(lo, uint16(p))))
	}
	for i, p := range b { // the B direction of a call runs 10 ms after the A direction
		k := (i + slotsPerPkt/2) % slotsPerPkt
		s[k].b = append(s[k].b, newStream(netip.AddrPortFrom(lo, uint16(p))))
	}
	return s
}

// send paces every stream at 50 packets/s: every millisecond the streams of one slot send
// one packet each (one sendmmsg per socket). When the process falls behind it sends the
// missed slots at once, so each stream's average rate stays exact.
func (g *generator) send(ctx context.Context, slots *[slotsPerPkt]slot) error {
	most := 1
	for _, s := range slots {
		most = max(most, len(s.a), len(s.b))
	}
	bt := newBatch(most, 0)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	start := time.Now()
	for n := 0; ; n++ {
		due := start.Add(time.Duration(n) * time.Millisecond)
		if d := time.Until(due); d > 0 {
			t.Reset(d)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
			}
		} else if -d > 5*time.Millisecond {
			g.late.Add(1)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s := &slots[n%slotsPerPkt]
		for _, side := range []struct {
			c  *net.UDPConn
			ss []*stream
		}{{g.a, s.a}, {g.b, s.b}} {
			if len(side.ss) == 0 {
				continue
			}
			for i, st := range side.ss {
				bt.setSend(i, st.next(), st.dst)
			}
			k, err := sendBatch(side.c, bt, len(side.ss))
			g.sent.Add(uint64(k))
			if err != nil {
				return fmt.Errorf("gen: send: %w", err)
			}
		}
		for _, side := range [][]*stream{s.a, s.b} {
			for _, st := range side {
				st.pkt[1] &^= 0x80 // marker only on the first packet
			}
		}
	}
}
