package media

import (
	"context"
	"errors"
	"math"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/careline/careline/media/dsp"
)

// testEnv is one allocator and one running clock, as a process would have.
type testEnv struct {
	alloc   *PortAllocator
	clock   *Clock
	metrics *Metrics
}

func newTestEnv(t testing.TB, pairs int) *testEnv {
	t.Helper()
	return newTestEnvClock(t, pairs, nil)
}

// newTestEnvClock is newTestEnv with a hook to adjust the clock before it runs.
func newTestEnvClock(t testing.TB, pairs int, prepare func(*Clock)) *testEnv {
	t.Helper()
	lo, hi := freeRange(t, pairs)
	m, _ := NewMetrics(nil)
	a, err := NewPortAllocator(loopback, lo, hi, WithMetrics(m))
	if err != nil {
		t.Fatal(err)
	}
	c := NewClock(WithMetrics(m))
	if prepare != nil {
		prepare(c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		a.Close()
	})
	return &testEnv{alloc: a, clock: c, metrics: m}
}

func (e *testEnv) session(t testing.TB, opts ...Option) *Session {
	t.Helper()
	p, err := e.alloc.Allocate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(p, e.clock, append([]Option{WithMetrics(e.metrics)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sdpCfg(s *Session, dtmf bool) SDPConfig {
	return SDPConfig{Addr: loopback, Port: s.Port(), Codecs: []Codec{PCMU, PCMA}, DTMF: dtmf}
}

// connect negotiates a (offerer) with b (answerer) through real SDP and starts both.
func connect(t testing.TB, a, b *Session, ca, cb SDPConfig) (Negotiated, Negotiated) {
	t.Helper()
	offer, err := Offer(ca)
	if err != nil {
		t.Fatal(err)
	}
	ans, nb, err := Answer(offer, cb)
	if err != nil {
		t.Fatal(err)
	}
	na, err := ParseAnswer(ans, ca)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(na); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(nb); err != nil {
		t.Fatal(err)
	}
	return na, nb
}

// collector is a FrameSink that keeps copies of what it receives.
type collector struct {
	name   string
	mu     sync.Mutex
	pcm    []int16
	frames []Frame // metadata (Samples/Payload copied)
	want   int     // samples after which full is closed
	full   chan struct{}
	once   sync.Once
}

func newCollector(name string, want int) *collector {
	return &collector{name: name, want: want, full: make(chan struct{})}
}

func (c *collector) WriteFrame(f Frame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pcm = append(c.pcm, f.Samples...)
	f.Samples = slices.Clone(f.Samples)
	f.Payload = slices.Clone(f.Payload)
	c.frames = append(c.frames, f)
	if len(c.pcm) >= c.want {
		c.once.Do(func() { close(c.full) })
	}
	return nil
}

func (c *collector) String() string { return c.name }

func (c *collector) snapshot() ([]int16, []Frame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.pcm), slices.Clone(c.frames)
}

func wait[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

func TestLoopbackTone(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, 8)
	for _, codec := range []Codec{PCMU, PCMA} {
		t.Run(codec.Name(), func(t *testing.T) {
			a, b := e.session(t), e.session(t)
			ca, cb := sdpCfg(a, true), sdpCfg(b, true)
			ca.Codecs = []Codec{codec}
			connect(t, a, b, ca, cb)
			col := newCollector("rx", 8000)
			b.SetSink(col)
			res, err := a.Play(context.Background(), PlayOptions{Prompts: []*Prompt{Tone(440, 600*time.Millisecond), Silence(100 * time.Millisecond), Tone(440, 400*time.Millisecond)}})
			if err != nil || res.Interrupted || res.Played != 1100*time.Millisecond {
				t.Fatalf("play: %+v %v", res, err)
			}
			// The last packets may still be in flight; wait for a second of audio.
			wait(t, col.full, "1 s of received audio")
			pcm, frames := col.snapshot()
			if f := dsp.DominantFrequency(pcm[:4800], SampleRate); math.Abs(f-440) > 2 {
				t.Fatalf("received dominant frequency %.1f Hz, want 440", f)
			}
			if frames[0].Codec != codec || frames[0].PayloadType != codec.PayloadType() || !frames[0].Marker {
				t.Fatalf("first frame %+v", frames[0])
			}
			for i := 1; i < len(frames); i++ {
				if frames[i].Marker || frames[i].Timestamp-frames[i-1].Timestamp != 160 || frames[i].SequenceNumber-frames[i-1].SequenceNumber != 1 {
					t.Fatalf("frame %d: marker %v ts +%d seq +%d (continuous across prompts expected)", i,
						frames[i].Marker, frames[i].Timestamp-frames[i-1].Timestamp, frames[i].SequenceNumber-frames[i-1].SequenceNumber)
				}
			}
			if st := a.Stats(); st.PacketsOut < 55 {
				t.Fatalf("sender stats %+v", st)
			}
			if st := b.Stats(); st.PacketsIn < 50 || st.Lost != 0 || st.LastPacket.IsZero() {
				t.Fatalf("receiver stats %+v", st)
			}
		})
	}
}

func TestLoopbackDTMF(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, 8)
	for _, pt := range []uint8{101, 96, 100} {
		t.Run("pt"+string(rune('0'+pt/100))+string(rune('0'+pt/10%10))+string(rune('0'+pt%10)), func(t *testing.T) {
			t.Parallel()
			a, b := e.session(t), e.session(t)
			ca := sdpCfg(a, true)
			ca.DTMFPT = pt
			na, nb := connect(t, a, b, ca, sdpCfg(b, true))
			if na.DTMFPT != int(pt) || nb.DTMFPT != int(pt) {
				t.Fatalf("negotiated %d/%d", na.DTMFPT, nb.DTMFPT)
			}
			ctx := context.Background()
			if err := a.SendDTMF(ctx, "123#"); err != nil {
				t.Fatal(err)
			}
			if err := a.SendDTMF(ctx, "9"); err != nil { // a sentinel: nothing may come in between
				t.Fatal(err)
			}
			var got []rune
			for range 5 {
				ev := wait(t, b.DTMF(), "digit")
				if ev.Source != DTMFRFC4733 {
					t.Fatalf("source %s", ev.Source)
				}
				got = append(got, ev.Digit)
			}
			if string(got) != "123#9" {
				t.Fatalf("received %q, want 123#9", string(got))
			}
			if err := a.SendDTMF(ctx, "1x"); !errors.Is(err, ErrInvalidDigit) {
				t.Fatalf("invalid digit: %v", err)
			}
		})
	}
}

func TestLoopbackInbandDTMF(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, 4)
	a, b := e.session(t), e.session(t, WithInbandDTMF(true))
	connect(t, a, b, sdpCfg(a, false), sdpCfg(b, false))
	if err := a.SendDTMF(context.Background(), "1223#"); err != nil {
		t.Fatal(err)
	}
	if err := a.SendDTMF(context.Background(), "9"); err != nil {
		t.Fatal(err)
	}
	var got []rune
	for range 6 {
		ev := wait(t, b.DTMF(), "in-band digit")
		if ev.Source != DTMFInband {
			t.Fatalf("source %s", ev.Source)
		}
		got = append(got, ev.Digit)
	}
	if string(got) != "1223#9" {
		t.Fatalf("received %q", string(got))
	}
	if s := b.String(); !contains(s, "G711Decode -> InbandDTMF -> Sink(discard)") {
		t.Fatalf("String() = %s", s)
	}
}

func contains(s, sub string) bool { return len(s) >= len(sub) && (s == sub || indexOf(s, sub) >= 0) }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestBargeIn(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, 4)
	a, b := e.session(t), e.session(t)
	connect(t, a, b, sdpCfg(a, true), sdpCfg(b, true))
	ctx := context.Background()

	// RFC 4733 digit from the peer interrupts a long prompt; the digit stays queued.
	type playOut struct {
		res PlayResult
		err error
	}
	done := make(chan playOut, 1)
	go func() {
		res, err := b.Play(ctx, PlayOptions{Prompts: []*Prompt{Tone(400, 30*time.Second)}, StopOnDTMF: true})
		done <- playOut{res, err}
	}()
	go func() { _ = a.SendDTMF(ctx, "5") }()
	out := wait(t, done, "barge-in")
	if out.err != nil || !out.res.Interrupted || out.res.Played >= 30*time.Second {
		t.Fatalf("play ended %+v %v", out.res, out.err)
	}
	if ev := wait(t, b.DTMF(), "the barge-in digit"); ev.Digit != '5' || ev.Source != DTMFRFC4733 {
		t.Fatalf("digit %q from %s", ev.Digit, ev.Source)
	}

	// A SIP INFO digit (injected by the signalling layer) does the same.
	go func() {
		res, err := b.Play(ctx, PlayOptions{Prompts: []*Prompt{Tone(400, time.Second)}, StopOnDTMF: true, Loop: true})
		done <- playOut{res, err}
	}()
	eventually(t, "playback", playing(b))
	if err := b.InjectDTMF('7'); err != nil {
		t.Fatal(err)
	}
	out = wait(t, done, "INFO barge-in")
	if !out.res.Interrupted || out.err != nil {
		t.Fatalf("INFO barge-in: %+v %v", out.res, out.err)
	}
	// Type-ahead: the queued '7' interrupts the next barge-in prompt at once.
	res, err := b.Play(ctx, PlayOptions{Prompts: []*Prompt{Tone(400, 10*time.Second)}, StopOnDTMF: true})
	if err != nil || !res.Interrupted || res.Played != 0 {
		t.Fatalf("type-ahead: %+v %v", res, err)
	}
	if ev := wait(t, b.DTMF(), "INFO digit"); ev.Digit != '7' || ev.Source != DTMFInfo {
		t.Fatalf("digit %q from %s", ev.Digit, ev.Source)
	}
	// Without StopOnDTMF a digit does not stop playback.
	if err := b.InjectDTMF('1'); err != nil {
		t.Fatal(err)
	}
	res, err = b.Play(ctx, PlayOptions{Prompts: []*Prompt{Silence(60 * time.Millisecond)}})
	if err != nil || res.Interrupted || res.Played != 60*time.Millisecond {
		t.Fatalf("no barge-in: %+v %v", res, err)
	}
	if n := b.FlushDTMF(); n != 1 {
		t.Fatalf("flushed %d", n)
	}
	if err := b.InjectDTMF('x'); !errors.Is(err, ErrInvalidDigit) {
		t.Fatal(err)
	}
}

func TestPlayCancelPreemptClose(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, 4)
	a, b := e.session(t), e.session(t)
	connect(t, a, b, sdpCfg(a, true), sdpCfg(b, true))

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 2)
	go func() {
		_, err := a.Play(ctx, PlayOptions{Prompts: []*Prompt{Tone(300, time.Minute)}})
		errc <- err
	}()
	eventually(t, "playback", playing(a))
	cancel()
	if err := wait(t, errc, "cancelled play"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel: %v", err)
	}

	go func() {
		_, err := a.Play(context.Background(), PlayOptions{Prompts: []*Prompt{Tone(300, time.Minute)}})
		errc <- err
	}()
	eventually(t, "playback", playing(a))
	res, err := a.Play(context.Background(), PlayOptions{Prompts: []*Prompt{Silence(40 * time.Millisecond)}})
	if err != nil || res.Played != 40*time.Millisecond {
		t.Fatalf("newer play: %+v %v", res, err)
	}
	if err := wait(t, errc, "preempted play"); !errors.Is(err, ErrPlaybackPreempted) {
		t.Fatalf("preempted: %v", err)
	}

	go func() {
		_, err := a.Play(context.Background(), PlayOptions{Prompts: []*Prompt{Tone(300, time.Minute)}})
		errc <- err
	}()
	go func() { errc <- a.SendDTMF(context.Background(), "123456789") }()
	eventually(t, "playback and dtmf", func() bool { p, d := a.busy(); return p && d })
	a.Close()
	for range 2 {
		if err := wait(t, errc, "play/dtmf after Close"); !errors.Is(err, ErrSessionClosed) {
			t.Fatalf("after close: %v", err)
		}
	}
	if _, err := a.Play(context.Background(), PlayOptions{Prompts: []*Prompt{Silence(time.Second)}}); !errors.Is(err, ErrSessionClosed) {
		t.Fatal(err)
	}
	if err := a.WriteFrame(make([]int16, 160)); !errors.Is(err, ErrSessionClosed) {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, rest := e.alloc.Counts(); rest != 1 {
		t.Fatalf("closed session's port is not resting (%d resting)", rest)
	}
}

// eventually polls cond (state that has no event to wait on) for up to 10 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func playing(s *Session) func() bool {
	return func() bool { p, _ := s.busy(); return p }
}

func TestClockStopped(t *testing.T) {
	t.Parallel()
	lo, hi := freeRange(t, 1)
	a, _ := NewPortAllocator(loopback, lo, hi)
	defer a.Close()
	p, _ := a.Allocate(context.Background())
	clock := NewClock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := clock.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	s, _ := NewSession(p, clock)
	defer s.Close()
	if _, err := s.Play(context.Background(), PlayOptions{Prompts: []*Prompt{Silence(time.Second)}}); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("before Start: %v", err)
	}
	_ = s.Start(Negotiated{Codec: PCMU, DTMFPT: -1, Remote: netip.MustParseAddrPort("127.0.0.1:9")})
	if _, err := s.Play(context.Background(), PlayOptions{Prompts: []*Prompt{Silence(time.Second)}}); !errors.Is(err, ErrClockStopped) {
		t.Fatalf("stopped clock: %v", err)
	}
	if err := s.SendDTMF(context.Background(), "1"); !errors.Is(err, ErrClockStopped) {
		t.Fatalf("stopped clock: %v", err)
	}
	if err := s.Start(Negotiated{Codec: PCMU}); err == nil {
		t.Fatal("second Start accepted")
	}
}

func TestMediaTimeout(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, 6)
	peer := netip.MustParseAddrPort("127.0.0.1:9")

	// Nothing ever arrives.
	s := e.session(t, WithTimeout(100*time.Millisecond))
	if err := s.Start(Negotiated{Codec: PCMU, DTMFPT: -1, Remote: peer}); err != nil {
		t.Fatal(err)
	}
	wait(t, s.Timeout(), "media timeout")
	var te *TimeoutError
	if err := s.TimeoutErr(); !errors.Is(err, ErrMediaTimeout) || !errors.As(err, &te) || !te.NeverReceived || te.OnHold || te.Limit != 100*time.Millisecond {
		t.Fatalf("timeout error %v", err)
	}

	// Media flows, then stops: the timeout fires only after the last packet.
	a, b := e.session(t), e.session(t, WithTimeout(400*time.Millisecond))
	connect(t, a, b, sdpCfg(a, true), sdpCfg(b, true))
	if _, err := a.Play(context.Background(), PlayOptions{Prompts: []*Prompt{Tone(440, 600*time.Millisecond)}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.Timeout():
		t.Fatalf("timed out while media flowed: %v", b.TimeoutErr())
	default:
	}
	wait(t, b.Timeout(), "timeout after media stopped")
	if err := b.TimeoutErr(); !errors.As(err, &te) || te.NeverReceived || te.Idle < 400*time.Millisecond {
		t.Fatalf("timeout error %v", err)
	}
	if last := b.Stats().LastPacket; last.IsZero() {
		t.Fatal("no packets recorded")
	}

	// On hold the (longer) hold timeout applies.
	h := e.session(t, WithTimeout(time.Hour), WithHoldTimeout(100*time.Millisecond))
	if err := h.Start(Negotiated{Codec: PCMU, DTMFPT: -1, Remote: peer}); err != nil {
		t.Fatal(err)
	}
	if err := h.Update(Negotiated{Codec: PCMU, DTMFPT: -1, Remote: peer, RemoteDirection: SendOnly, LocalDirection: RecvOnly, OnHold: true}); err != nil {
		t.Fatal(err)
	}
	wait(t, h.Timeout(), "hold timeout")
	if err := h.TimeoutErr(); !errors.As(err, &te) || !te.OnHold || te.Limit != 100*time.Millisecond {
		t.Fatalf("hold timeout error %v", err)
	}
}

func rtpBytes(t testing.TB, pt uint8, seq uint16, ts, ssrc uint32, marker bool, payload []byte) []byte {
	t.Helper()
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc, Marker: marker}, Payload: payload}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func udpSocket(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readPacket(t testing.TB, c *net.UDPConn) rtp.Packet {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1500)
	n, _, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	var p rtp.Packet
	if err := p.Unmarshal(buf[:n]); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSymmetricLatching: the peer's SDP names one port but its packets come from
// another (NAT). We send to the SDP address until a few packets have come from the real
// source, then there.
func TestSymmetricLatching(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, 2)
	s := e.session(t)
	sdpAddr := udpSocket(t) // what the SDP says
	natAddr := udpSocket(t) // where the peer's packets really come from
	intruder := udpSocket(t)
	col := newCollector("rx", 1<<30)
	s.SetSink(col)
	if err := s.Start(Negotiated{Codec: PCMU, DTMFPT: 101, Remote: sdpAddr.LocalAddr().(*net.UDPAddr).AddrPort()}); err != nil {
		t.Fatal(err)
	}
	frame := make([]int16, 160)
	payload := PCMU.Encode(nil, frame)

	if err := s.WriteFrame(frame); err != nil {
		t.Fatal(err)
	}
	readPacket(t, sdpAddr) // before any packet: the SDP address

	for i := range 3 {
		if _, err := natAddr.WriteToUDPAddrPort(rtpBytes(t, 0, uint16(100+i), uint32(160*i), 1234, i == 0, payload), s.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until all three were accepted.
	eventually(t, "3 packets", func() bool { return s.Stats().PacketsIn >= 3 })
	st := s.Stats()
	if !st.Latched || st.Remote != natAddr.LocalAddr().(*net.UDPAddr).AddrPort() {
		t.Fatalf("not latched: %+v", st)
	}
	if err := s.WriteFrame(frame); err != nil {
		t.Fatal(err)
	}
	if p := readPacket(t, natAddr); p.PayloadType != 0 {
		t.Fatalf("pt %d", p.PayloadType)
	}
	// Once latched, a stray source is dropped (its audio never reaches the sink).
	before := len(func() []Frame { _, f := col.snapshot(); return f }())
	if _, err := intruder.WriteToUDPAddrPort(rtpBytes(t, 0, 7, 0, 999, false, payload), s.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	// Then a packet from the latched source, which must be the next one the sink sees.
	if _, err := natAddr.WriteToUDPAddrPort(rtpBytes(t, 0, 103, 480, 1234, false, payload), s.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "4 packets", func() bool { return s.Stats().PacketsIn+s.Stats().Dropped >= 5 })
	_, frames := col.snapshot()
	if len(frames) != before+1 || frames[len(frames)-1].SSRC != 1234 || s.Stats().Dropped != 1 {
		t.Fatalf("intruder packet reached the sink or was not counted: %d frames, stats %+v", len(frames)-before, s.Stats())
	}

	// A re-INVITE with a new address restarts latching at that address.
	newAddr := udpSocket(t)
	if err := s.Update(Negotiated{Codec: PCMU, DTMFPT: 101, Remote: newAddr.LocalAddr().(*net.UDPAddr).AddrPort()}); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteFrame(frame); err != nil {
		t.Fatal(err)
	}
	readPacket(t, newAddr)
}

func TestSequenceLoss(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, 2)
	s := e.session(t)
	peer := udpSocket(t)
	if err := s.Start(Negotiated{Codec: PCMA, PayloadType: 8, DTMFPT: -1, Remote: peer.LocalAddr().(*net.UDPAddr).AddrPort()}); err != nil {
		t.Fatal(err)
	}
	payload := PCMA.Encode(nil, make([]int16, 160))
	seqs := []uint16{65530, 65531, 65534, 65535, 2, 1, 2, 3} // 2 lost, wrap, 2 lost, reorder, dup
	for _, q := range seqs {
		_, _ = peer.WriteToUDPAddrPort(rtpBytes(t, 8, q, 0, 5, false, payload), s.LocalAddr())
	}
	_, _ = peer.WriteToUDPAddrPort(rtpBytes(t, 0, 4, 0, 5, false, payload), s.LocalAddr())     // PCMU: not negotiated
	_, _ = peer.WriteToUDPAddrPort([]byte{1, 2, 3}, s.LocalAddr())                             // garbage
	_, _ = peer.WriteToUDPAddrPort(rtpBytes(t, 13, 4, 0, 5, false, []byte{40}), s.LocalAddr()) // comfort noise
	eventually(t, "all packets", func() bool { return s.Stats().PacketsIn+s.Stats().Dropped >= uint64(len(seqs)+3) })
	st := s.Stats()
	if st.PacketsIn != uint64(len(seqs)+1) || st.Lost != 4 || st.Dropped != 2 {
		t.Fatalf("stats %+v, want in=%d lost=4 dropped=2", st, len(seqs)+1)
	}
}

func TestHoldStopsSending(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, 2)
	s := e.session(t)
	peer := udpSocket(t)
	remote := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	_ = s.Start(Negotiated{Codec: PCMU, DTMFPT: -1, Remote: remote})
	frame := make([]int16, 160)
	_ = s.WriteFrame(frame)
	first := readPacket(t, peer)
	// The peer holds with sendonly (we answered recvonly): nothing is sent, time passes.
	_ = s.Update(Negotiated{Codec: PCMU, DTMFPT: -1, Remote: remote, RemoteDirection: SendOnly, LocalDirection: RecvOnly, OnHold: true})
	res, err := s.Play(context.Background(), PlayOptions{Prompts: []*Prompt{Silence(100 * time.Millisecond)}})
	if err != nil || res.Played != 100*time.Millisecond {
		t.Fatalf("%+v %v", res, err)
	}
	if out := s.Stats().PacketsOut; out != 1 {
		t.Fatalf("sent %d packets while held", out)
	}
	// Resume: the next packet's timestamp has moved on by the time spent on hold.
	_ = s.Update(Negotiated{Codec: PCMU, DTMFPT: -1, Remote: remote})
	_ = s.WriteFrame(frame)
	next := readPacket(t, peer)
	if !next.Marker || next.SequenceNumber != first.SequenceNumber+1 || next.Timestamp-first.Timestamp < 800 {
		t.Fatalf("after resume: marker %v seq +%d ts +%d", next.Marker, next.SequenceNumber-first.SequenceNumber, next.Timestamp-first.Timestamp)
	}
}

func TestWritePayloadContinuity(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, 2)
	s := e.session(t)
	peer := udpSocket(t)
	_ = s.Start(Negotiated{Codec: PCMU, DTMFPT: -1, Remote: peer.LocalAddr().(*net.UDPAddr).AddrPort()})
	payload := PCMU.Encode(nil, make([]int16, 160))
	var pkts []rtp.Packet
	for i := range 3 {
		if err := s.WritePayload(payload, i == 0); err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, readPacket(t, peer))
	}
	for i := 1; i < 3; i++ {
		if pkts[i].Timestamp-pkts[i-1].Timestamp != 160 || pkts[i].SequenceNumber-pkts[i-1].SequenceNumber != 1 ||
			pkts[i].SSRC != pkts[0].SSRC || pkts[i].Marker {
			t.Fatalf("packet %d not continuous", i)
		}
	}
	if !pkts[0].Marker || pkts[0].SSRC != s.SSRC() {
		t.Fatal("first packet")
	}
	// A new talkspurt advances the timestamp by the pause.
	pause := time.Now()
	for time.Since(pause) < 100*time.Millisecond {
		time.Sleep(10 * time.Millisecond)
	}
	_ = s.WritePayload(payload, true)
	p := readPacket(t, peer)
	if d := p.Timestamp - pkts[2].Timestamp; !p.Marker || d < 800 || d > 8000 {
		t.Fatalf("after a 100 ms pause: marker %v ts +%d", p.Marker, d)
	}
}

func TestSessionString(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, 2)
	s := e.session(t)
	local := s.LocalAddr().String()
	if got, want := s.String(), "RTP("+local+"<-none) -> Mux[]"; got != want {
		t.Fatalf("before Start:\n got %s\nwant %s", got, want)
	}
	_ = s.Start(Negotiated{Codec: PCMU, DTMFPT: 101, Remote: netip.MustParseAddrPort("127.0.0.1:31000")})
	if got, want := s.String(), "RTP("+local+"<-127.0.0.1:31000) -> Mux[PCMU/0 -> G711Decode -> Sink(discard); telephone-event/101 -> RFC4733]"; got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	s.SetSink(newCollector("x", 1))
	_ = s.Update(Negotiated{Codec: PCMA, PayloadType: 8, DTMFPT: 96, Remote: netip.MustParseAddrPort("127.0.0.1:31002")})
	if got, want := s.String(), "RTP("+local+"<-127.0.0.1:31002) -> Mux[PCMA/8 -> G711Decode -> Sink(x); telephone-event/96 -> RFC4733]"; got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	if old := s.SetSink(nil); old == nil || old.String() != "x" {
		t.Fatal("SetSink did not return the previous sink")
	}
}

// TestCodecChangeMidPlay: a re-INVITE switches PCMU → PCMA during a prompt; the prompt
// continues in the new codec from the same position.
func TestCodecChangeMidPlay(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, 4)
	a, b := e.session(t), e.session(t)
	na, nb := connect(t, a, b, sdpCfg(a, true), sdpCfg(b, true))
	col := newCollector("rx", 1<<30)
	b.SetSink(col)
	done := make(chan error, 1)
	go func() {
		_, err := a.Play(context.Background(), PlayOptions{Prompts: []*Prompt{Tone(440, 800*time.Millisecond)}})
		done <- err
	}()
	eventually(t, "5 packets", func() bool { return b.Stats().PacketsIn >= 5 })
	na.Codec, na.PayloadType, nb.Codec, nb.PayloadType = PCMA, 8, PCMA, 8
	_ = b.Update(nb)
	_ = a.Update(na)
	if err := wait(t, done, "play"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "40 packets", func() bool { return b.Stats().PacketsIn+b.Stats().Dropped >= 40 })
	pcm, frames := col.snapshot()
	if frames[len(frames)-1].Codec != PCMA || frames[0].Codec != PCMU {
		t.Fatalf("codecs %v … %v", frames[0].Codec, frames[len(frames)-1].Codec)
	}
	if f := dsp.DominantFrequency(pcm, SampleRate); math.Abs(f-440) > 3 {
		t.Fatalf("dominant %.1f", f)
	}
}
