package media

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"
)

// ErrPortsExhausted means every port pair in the range is in use or resting.
var ErrPortsExhausted = errors.New("media: no free RTP port")

// PortAllocator hands out RTP/RTCP port pairs (even RTP port, RTCP on the next one, both
// bound) from a configured range. A released pair rests: it stays bound for the rest
// period (WithRest, default 30 s), so late packets from the previous call land in a
// socket nobody reads and are dropped; then it is closed and may be handed out again.
// Allocation walks the range round-robin from a random start, skipping ports another
// process holds. Options read: WithRest, WithLogger, WithMetrics. Safe for concurrent use.
type PortAllocator struct {
	ip       netip.Addr
	first    int // first even RTP port
	pairs    int
	rest     time.Duration
	log      *slog.Logger
	metrics  *Metrics
	mu       sync.Mutex
	inUse    map[int]bool // RTP port → true in use, false resting
	resting  []*Port      // oldest first (constant rest ⇒ FIFO)
	cursor   int
	timer    *time.Timer
	closed   bool
	numInUse int
}

// NewPortAllocator manages RTP ports from min to max (inclusive) on ip. The range must
// hold at least one even port p with p+1 ≤ max.
func NewPortAllocator(ip netip.Addr, min, max int, opts ...Option) (*PortAllocator, error) {
	if !ip.IsValid() {
		return nil, errors.New("media: port allocator needs an IP address")
	}
	first := min + min&1
	if min < 1 || max > 65535 || first+1 > max {
		return nil, fmt.Errorf("media: RTP port range %d-%d holds no even/odd pair", min, max)
	}
	o := buildOptions(opts)
	a := &PortAllocator{
		ip:      ip.Unmap(),
		first:   first,
		pairs:   (max - first + 1) / 2,
		rest:    o.rest,
		log:     o.logger,
		metrics: o.metrics,
		inUse:   map[int]bool{},
	}
	a.cursor = rand.IntN(a.pairs)
	return a, nil
}

// Range returns the first RTP port and the number of pairs.
func (a *PortAllocator) Range() (first, pairs int) { return a.first, a.pairs }

// Counts returns how many pairs are in use and how many are resting.
func (a *PortAllocator) Counts() (inUse, resting int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reapLocked(time.Now())
	return a.numInUse, len(a.resting)
}

// Allocate binds the next free pair. It returns ErrPortsExhausted (wrapped) when none is
// free; it does not wait for a resting pair.
func (a *PortAllocator) Allocate(ctx context.Context) (*Port, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, errors.New("media: port allocator closed")
	}
	a.reapLocked(time.Now())
	for i := range a.pairs {
		idx := (a.cursor + i) % a.pairs
		num := a.first + 2*idx
		if _, busy := a.inUse[num]; busy {
			continue
		}
		rtp, rtcp, err := a.bind(num)
		if err != nil {
			a.log.Debug("rtp port pair unavailable", "port", num, "err", err)
			continue
		}
		a.cursor = (idx + 1) % a.pairs
		a.inUse[num] = true
		a.numInUse++
		a.metrics.ports(a.numInUse, len(a.resting))
		return &Port{a: a, num: num, rtp: rtp, rtcp: rtcp}, nil
	}
	return nil, fmt.Errorf("%w: %d pairs in %d-%d, %d in use, %d resting",
		ErrPortsExhausted, a.pairs, a.first, a.first+2*a.pairs-1, a.numInUse, len(a.resting))
}

func (a *PortAllocator) bind(num int) (*net.UDPConn, *net.UDPConn, error) {
	network := "udp4"
	if a.ip.Is6() {
		network = "udp6"
	}
	rtp, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(a.ip, uint16(num))))
	if err != nil {
		return nil, nil, err
	}
	rtcp, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(a.ip, uint16(num+1))))
	if err != nil {
		rtp.Close()
		return nil, nil, err
	}
	return rtp, rtcp, nil
}

// release puts p to rest (or frees it at once when the rest period is 0 or the
// allocator is closed).
func (a *PortAllocator) release(p *Port) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.numInUse--
	if a.closed || a.rest == 0 {
		a.metrics.stalePackets(p.closeConns())
		delete(a.inUse, p.num)
		a.metrics.ports(a.numInUse, len(a.resting))
		return
	}
	p.until = time.Now().Add(a.rest)
	a.inUse[p.num] = false
	a.resting = append(a.resting, p)
	a.metrics.ports(a.numInUse, len(a.resting))
	if a.timer == nil {
		a.timer = time.AfterFunc(a.rest, a.onTimer)
	}
}

func (a *PortAllocator) onTimer() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.timer = nil
	if a.closed {
		return
	}
	now := time.Now()
	a.reapLocked(now)
	if len(a.resting) > 0 {
		a.timer = time.AfterFunc(max(a.resting[0].until.Sub(now), time.Millisecond), a.onTimer)
	}
}

// reapLocked frees resting pairs whose rest is over.
func (a *PortAllocator) reapLocked(now time.Time) {
	n := 0
	for _, p := range a.resting {
		if p.until.After(now) {
			break
		}
		if stale := p.closeConns(); stale > 0 {
			a.metrics.stalePackets(stale)
			a.log.Info("rtp port rested with stale packets dropped", "port", p.num, "packets", stale)
		}
		delete(a.inUse, p.num)
		n++
	}
	if n > 0 {
		a.resting = append(a.resting[:0], a.resting[n:]...)
		a.metrics.ports(a.numInUse, len(a.resting))
	}
}

// Close frees every resting pair now. Pairs still in use are closed when released.
func (a *PortAllocator) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	for _, p := range a.resting {
		a.metrics.stalePackets(p.closeConns())
		delete(a.inUse, p.num)
	}
	a.resting = nil
	a.metrics.ports(a.numInUse, 0)
	return nil
}

// Port is one allocated RTP/RTCP pair. A Session owns it and releases it on Close.
type Port struct {
	a         *PortAllocator
	num       int
	rtp, rtcp *net.UDPConn
	until     time.Time // end of rest (allocator's lock)
	once      sync.Once
}

// Number is the RTP port (even); RTCP is Number()+1.
func (p *Port) Number() int { return p.num }

// Addr is the bound RTP address.
func (p *Port) Addr() netip.AddrPort { return netip.AddrPortFrom(p.a.ip, uint16(p.num)) }

// RTP returns the RTP socket.
func (p *Port) RTP() *net.UDPConn { return p.rtp }

// RTCP returns the RTCP socket (bound so peers get no ICMP errors; not read).
func (p *Port) RTCP() *net.UDPConn { return p.rtcp }

// Release puts the pair to rest. Whoever reads the sockets must have stopped. Calling it
// more than once is harmless.
func (p *Port) Release() { p.once.Do(func() { p.a.release(p) }) }

// closeConns drains and counts what arrived while the pair rested, then closes it.
func (p *Port) closeConns() int {
	n := drainUDP(p.rtp) + drainUDP(p.rtcp)
	p.rtp.Close()
	p.rtcp.Close()
	return n
}
