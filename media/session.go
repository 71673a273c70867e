package media

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/careline/careline/media/dsp"
)

// Session errors.
var (
	ErrSessionClosed     = errors.New("media: session closed")
	ErrNotStarted        = errors.New("media: session not started")
	ErrMediaTimeout      = errors.New("media: no RTP received")
	ErrPlaybackPreempted = errors.New("media: playback replaced by a newer one")
	ErrDTMFBusy          = errors.New("media: a DTMF send is already in progress")
	ErrInvalidDigit      = errors.New("media: invalid DTMF digit")
)

// Frame is one chunk of received audio handed to a FrameSink. Samples and Payload point
// into buffers the session reuses: a sink that keeps them must copy. Timestamp and
// SequenceNumber let a recorder place the frame in time and fill gaps.
type Frame struct {
	Samples        []int16 // decoded 8 kHz PCM, usually 160 samples
	Payload        []byte  // the RTP payload as received (for relaying without decoding)
	Codec          Codec
	PayloadType    uint8
	SequenceNumber uint16
	Timestamp      uint32
	SSRC           uint32
	Marker         bool
}

// FrameSink receives audio from a Session's receive goroutine. WriteFrame must not block
// for long (it delays the next packet). String names the sink in pipeline descriptions.
type FrameSink interface {
	WriteFrame(f Frame) error
	String() string
}

// TimeoutError says why a session's media timed out. errors.Is(err, ErrMediaTimeout).
type TimeoutError struct {
	Idle          time.Duration // time since the last packet (or since Start/Update)
	Limit         time.Duration
	OnHold        bool // the hold timeout applied
	NeverReceived bool // no packet arrived at all
}

func (e *TimeoutError) Error() string {
	what := "no RTP"
	if e.NeverReceived {
		what = "no RTP ever received"
	}
	hold := ""
	if e.OnHold {
		hold = " (on hold)"
	}
	return fmt.Sprintf("media timeout: %s for %s, limit %s%s", what, e.Idle.Round(time.Millisecond), e.Limit, hold)
}

// Unwrap makes errors.Is(err, ErrMediaTimeout) true.
func (e *TimeoutError) Unwrap() error { return ErrMediaTimeout }

// Stats are a session's counters.
type Stats struct {
	PacketsIn  uint64    // accepted RTP packets (audio, telephone-event, comfort noise)
	PacketsOut uint64    // RTP packets sent
	Lost       uint64    // from gaps in received sequence numbers
	Dropped    uint64    // malformed, unknown payload type, or from a foreign source
	LastPacket time.Time // arrival of the last accepted packet (zero: none yet)
	Remote     netip.AddrPort
	Latched    bool // Remote was learned from received packets (symmetric RTP)
}

// PlayOptions are the parameters of one Play call.
type PlayOptions struct {
	Prompts    []*Prompt // played back to back
	StopOnDTMF bool      // barge-in: stop when a digit arrives (the digit stays in DTMF())
	Loop       bool      // start over until ctx is done or barge-in
}

// PlayResult says how a playback ended.
type PlayResult struct {
	Interrupted bool          // stopped by a DTMF digit (barge-in)
	Played      time.Duration // audio sent (20 ms per frame)
}

// RFC 4733 send timing (20 ms ticks).
const (
	dtmfToneSamples = 1280 // 160 ms per digit
	dtmfGapTicks    = 4    // + the three end packets ≈ 140 ms between digits
	dtmfPauseTicks  = 25   // ',' in SendDTMF: 500 ms
	dtmfVolume      = 10   // -10 dBm0
)

type sessionState struct {
	neg      Negotiated
	codec    Codec
	pt       uint8
	dtmfPT   int
	latchGen uint64 // changes when the SDP remote address changes
	inband   bool
}

type sinkBox struct{ s FrameSink }

// receiver is the state of the receive goroutine (or of a fuzz harness); nothing else
// touches it.
type receiver struct {
	pkt       rtp.Packet
	pcm       []int16
	latchGen  uint64
	latched   netip.AddrPort
	cand      netip.AddrPort
	candSeq   uint16
	candCount int
	ssrc      uint32
	haveSeq   bool
	maxSeq    uint16
	dec       rfc4733Decoder
	decSSRC   uint32
	inband    *dsp.DTMFDetector
	digits    []rune
}

type txState struct {
	ssrc     uint32
	seq      uint16
	ts       uint32    // timestamp of the next contiguous packet
	lastWall time.Time // when the last packet was due (zero: never sent)
	held     bool      // packets were suppressed (hold): the next one sent is a talkspurt
	hdr      rtp.Header
	buf      []byte
	enc      []byte
}

type playJob struct {
	prompts    []*Prompt
	pi, fi     int
	loop       bool
	stopOnDTMF bool
	frames     int
	started    bool
	done       chan struct{}
	finished   bool
	res        PlayResult
	err        error
}

type dtmfPhase uint8

const (
	dtmfStart dtmfPhase = iota
	dtmfTone
	dtmfEnd
	dtmfWait
)

type dtmfJob struct {
	digits   []rune
	i        int
	phase    dtmfPhase
	ts       uint32
	dur      uint32
	ends     int
	wait     int
	code     uint8
	inband   bool    // no telephone-event negotiated: send tones as audio
	tone     []int16 // current digit's tone (in-band)
	done     chan struct{}
	finished bool
	err      error
}

// Session moves the audio of one call leg over one RTP port: it receives, demultiplexes
// by payload type, decodes to a swappable FrameSink and decodes RFC 4733 digits; it sends
// frames, relayed payloads, prompts (on the shared Clock) and DTMF. Options read:
// WithTimeout, WithHoldTimeout, WithLatchPackets, WithInbandDTMF, WithDTMFBuffer,
// WithLogger, WithMetrics. Safe for concurrent use.
type Session struct {
	port    *Port
	conn    *net.UDPConn
	local   netip.AddrPort
	clock   *Clock
	log     *slog.Logger
	metrics *Metrics
	timeout time.Duration
	holdTO  time.Duration
	latchN  int
	inband  bool

	state   atomic.Pointer[sessionState]
	latchMu sync.Mutex // orders sendTo writes between Update and the receiver
	sendTo  atomic.Pointer[netip.AddrPort]
	latched atomic.Bool
	sink    atomic.Pointer[sinkBox]
	dtmf    chan DTMFEvent

	rx receiver

	pktsIn, pktsOut, lost, dropped atomic.Uint64
	lastRx                         atomic.Int64 // unix nanoseconds
	since                          atomic.Int64 // Start/Update time, unix nanoseconds

	mu      sync.Mutex // send side, jobs, started
	tx      txState
	play    *playJob
	dtmfOut *dtmfJob
	started bool
	idle    atomic.Bool // nothing for the clock to do (written under mu)
	inClock bool        // on the clock's list (clock's lock)

	closed     atomic.Bool
	done       chan struct{}
	rxDone     chan struct{}
	dlMu       sync.Mutex // orders read-deadline changes against Close
	timedOut   bool       // dlMu
	timeoutCh  chan struct{}
	timeoutErr atomic.Pointer[TimeoutError]
}

// NewSession creates the session for one leg on port (which it owns from now on and
// releases on Close) playing out on clock.
func NewSession(port *Port, clock *Clock, opts ...Option) (*Session, error) {
	if port == nil || clock == nil {
		return nil, errors.New("media: NewSession needs a port and a clock")
	}
	o := buildOptions(opts)
	s := newSession(o)
	s.port, s.conn, s.local, s.clock = port, port.RTP(), port.Addr(), clock
	s.metrics.sessionDelta(1)
	return s, nil
}

func newSession(o options) *Session {
	s := &Session{
		log:       o.logger,
		metrics:   o.metrics,
		timeout:   o.timeout,
		holdTO:    o.holdTimeout,
		latchN:    o.latchPackets,
		inband:    o.inband,
		dtmf:      make(chan DTMFEvent, o.dtmfBuffer),
		done:      make(chan struct{}),
		rxDone:    make(chan struct{}),
		timeoutCh: make(chan struct{}),
	}
	s.idle.Store(true)
	s.rx.pcm = make([]int16, 0, 2048)
	s.tx = txState{
		ssrc: rand.Uint32(), seq: uint16(rand.Uint32()), ts: rand.Uint32(),
		buf: make([]byte, 1500), enc: make([]byte, 0, 1500),
	}
	return s
}

// LocalAddr is the bound RTP address.
func (s *Session) LocalAddr() netip.AddrPort { return s.local }

// Port is the RTP port number (for SDPConfig.Port).
func (s *Session) Port() int { return int(s.local.Port()) }

// busy reports whether a playback or DTMF send is in progress.
func (s *Session) busy() (play, dtmf bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.play != nil, s.dtmfOut != nil
}

// Clock returns the playout clock the session uses.
func (s *Session) Clock() *Clock { return s.clock }

// SSRC is the synchronisation source of what this session sends.
func (s *Session) SSRC() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tx.ssrc
}

// Done is closed by Close.
func (s *Session) Done() <-chan struct{} { return s.done }

// DTMF delivers received digits (RFC 4733, SIP INFO via InjectDTMF, in-band). It is never
// closed; select on Done too.
func (s *Session) DTMF() <-chan DTMFEvent { return s.dtmf }

// Timeout is closed when no RTP arrived for the timeout (the hold timeout while the peer
// holds or is not expected to send). TimeoutErr then says why.
func (s *Session) Timeout() <-chan struct{} { return s.timeoutCh }

// TimeoutErr returns the *TimeoutError once Timeout is closed, else nil.
func (s *Session) TimeoutErr() error {
	if e := s.timeoutErr.Load(); e != nil {
		return e
	}
	return nil
}

// Negotiated returns what the session runs with (zero before Start).
func (s *Session) Negotiated() Negotiated {
	if st := s.state.Load(); st != nil {
		return st.neg
	}
	return Negotiated{}
}

// SetSink swaps the receiver of decoded audio and returns the previous one. nil
// discards audio. Takes effect from the next packet.
func (s *Session) SetSink(sink FrameSink) FrameSink {
	old := s.sink.Swap(&sinkBox{s: sink})
	if old == nil {
		return nil
	}
	return old.s
}

// Sink returns the current sink (nil: discarding).
func (s *Session) Sink() FrameSink {
	if b := s.sink.Load(); b != nil {
		return b.s
	}
	return nil
}

func (s *Session) buildState(n Negotiated, gen uint64) (*sessionState, error) {
	if !n.Codec.Valid() {
		return nil, fmt.Errorf("media: negotiated codec %v is not supported", n.Codec)
	}
	if n.DTMFPT > 127 || n.DTMFPT == int(n.PayloadType) {
		n.DTMFPT = -1
	}
	return &sessionState{neg: n, codec: n.Codec, pt: n.PayloadType, dtmfPT: n.DTMFPT, latchGen: gen,
		inband: s.inband && n.DTMFPT < 0}, nil
}

// Start begins receiving with the negotiated parameters and allows sending.
func (s *Session) Start(n Negotiated) error {
	st, err := s.buildState(n, 1)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrSessionClosed
	}
	if s.started {
		return errors.New("media: session already started; use Update")
	}
	s.started = true
	s.latchMu.Lock()
	s.state.Store(st)
	remote := n.Remote
	s.sendTo.Store(&remote)
	s.latchMu.Unlock()
	s.since.Store(time.Now().UnixNano())
	go s.readLoop()
	return nil
}

// Update applies a re-negotiation (re-INVITE: hold/resume, new remote address, codec
// change). A new remote address restarts latching; the media timeout restarts.
func (s *Session) Update(n Negotiated) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrSessionClosed
	}
	if !s.started {
		return ErrNotStarted
	}
	s.latchMu.Lock()
	old := s.state.Load()
	gen := old.latchGen
	if n.Remote != old.neg.Remote {
		gen++
	}
	st, err := s.buildState(n, gen)
	if err != nil {
		s.latchMu.Unlock()
		return err
	}
	s.state.Store(st)
	if gen != old.latchGen {
		remote := n.Remote
		s.sendTo.Store(&remote)
		s.latched.Store(false)
	}
	s.latchMu.Unlock()
	now := time.Now()
	s.since.Store(now.UnixNano())
	s.setDeadline(now.Add(s.limit(st)))
	return nil
}

func (s *Session) limit(st *sessionState) time.Duration {
	if st.neg.ExpectsMedia() {
		return s.timeout
	}
	return s.holdTO
}

// setDeadline changes the read deadline unless the session is closing or timed out.
func (s *Session) setDeadline(t time.Time) {
	s.dlMu.Lock()
	defer s.dlMu.Unlock()
	if s.closed.Load() || s.timedOut || s.conn == nil {
		return
	}
	_ = s.conn.SetReadDeadline(t)
}

func (s *Session) readLoop() {
	defer close(s.rxDone)
	buf := make([]byte, 2048)
	s.setDeadline(time.Now().Add(s.limit(s.state.Load())))
	for {
		n, src, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if s.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				s.checkTimeout(time.Now())
				continue
			}
			s.log.Debug("rtp read error", "err", err)
			continue
		}
		s.handle(buf[:n], netip.AddrPortFrom(src.Addr().Unmap(), src.Port()), time.Now())
	}
}

// checkTimeout runs when the read deadline passes: fire, or push the deadline to one
// limit after the last packet.
func (s *Session) checkTimeout(now time.Time) {
	st := s.state.Load()
	limit := s.limit(st)
	last := s.lastRx.Load()
	ref := max(last, s.since.Load())
	idle := now.Sub(time.Unix(0, ref))
	if idle < limit {
		s.setDeadline(time.Unix(0, ref).Add(limit))
		return
	}
	s.dlMu.Lock()
	if s.timedOut || s.closed.Load() {
		s.dlMu.Unlock()
		return
	}
	s.timedOut = true
	_ = s.conn.SetReadDeadline(time.Time{})
	s.dlMu.Unlock()
	e := &TimeoutError{Idle: idle, Limit: limit, OnHold: !st.neg.ExpectsMedia(), NeverReceived: last == 0}
	s.timeoutErr.Store(e)
	close(s.timeoutCh)
	s.metrics.timeout()
	s.log.Info("media timeout", "idle", e.Idle, "limit", e.Limit, "on_hold", e.OnHold, "never_received", e.NeverReceived)
}

type dropReason uint8

const (
	dropMalformed dropReason = iota + 1
	dropUnknownPT
	dropForeign
)

func (s *Session) drop(r dropReason) {
	s.dropped.Add(1)
	s.metrics.dropped(r)
}

// handle processes one received datagram: RTP parse, source check and latching, loss
// accounting, demux by payload type to the decoder and sink or the RFC 4733 decoder.
func (s *Session) handle(b []byte, src netip.AddrPort, now time.Time) {
	st := s.state.Load()
	if st == nil {
		return
	}
	r := &s.rx
	if err := r.pkt.Unmarshal(b); err != nil || r.pkt.Version != 2 {
		s.drop(dropMalformed)
		return
	}
	h := &r.pkt.Header
	pt := h.PayloadType
	isAudio, isDTMF := pt == st.pt, int(pt) == st.dtmfPT
	if !isAudio && !isDTMF && pt != 13 && pt != 19 { // 13/19: comfort noise counts as media
		s.drop(dropUnknownPT)
		return
	}
	if !s.acceptSource(st, src, h.SequenceNumber) {
		s.drop(dropForeign)
		return
	}
	s.lastRx.Store(now.UnixNano())
	s.pktsIn.Add(1)
	s.metrics.packetIn()
	if lost := r.trackSeq(h.SSRC, h.SequenceNumber); lost > 0 {
		s.lost.Add(uint64(lost))
		s.metrics.lostPackets(lost)
	}
	switch {
	case isAudio:
		if len(r.pkt.Payload) == 0 {
			return
		}
		r.pcm = st.codec.Decode(r.pcm[:0], r.pkt.Payload)
		if sb := s.sink.Load(); sb != nil && sb.s != nil {
			_ = sb.s.WriteFrame(Frame{
				Samples: r.pcm, Payload: r.pkt.Payload, Codec: st.codec, PayloadType: pt,
				SequenceNumber: h.SequenceNumber, Timestamp: h.Timestamp, SSRC: h.SSRC, Marker: h.Marker,
			})
		}
		if st.inband {
			if r.inband == nil {
				r.inband = dsp.NewDTMFDetector(SampleRate)
			}
			r.digits = r.inband.Detect(r.digits[:0], r.pcm)
			for _, d := range r.digits {
				s.deliverDTMF(DTMFEvent{Digit: d, Source: DTMFInband, At: now})
			}
		}
	case isDTMF:
		if r.decSSRC != h.SSRC {
			r.dec.reset()
			r.decSSRC = h.SSRC
		}
		if d, ok := r.dec.decode(h.Timestamp, r.pkt.Payload); ok {
			s.deliverDTMF(DTMFEvent{Digit: d, Source: DTMFRFC4733, At: now})
		}
	}
}

// acceptSource implements symmetric RTP. Until latched, packets from anywhere are
// accepted and we send to the SDP address; packets from the SDP address latch at once,
// any other source after latchN consecutive packets. Once latched, other sources are
// dropped unless one sends latchN consecutive packets while the latched source is
// silent (NAT rebinding), which re-latches.
func (s *Session) acceptSource(st *sessionState, src netip.AddrPort, seq uint16) bool {
	r := &s.rx
	if r.latchGen != st.latchGen {
		r.latchGen, r.latched, r.cand, r.candCount = st.latchGen, netip.AddrPort{}, netip.AddrPort{}, 0
	}
	if r.latched.IsValid() {
		if src == r.latched {
			r.candCount = 0
			return true
		}
		if r.countCandidate(src, seq) < s.latchN {
			return false
		}
		s.latch(st, src)
		return true
	}
	if src == st.neg.Remote || r.countCandidate(src, seq) >= s.latchN {
		s.latch(st, src)
	}
	return true
}

func (r *receiver) countCandidate(src netip.AddrPort, seq uint16) int {
	if src == r.cand && seq == r.candSeq+1 {
		r.candCount++
	} else {
		r.cand, r.candCount = src, 1
	}
	r.candSeq = seq
	return r.candCount
}

func (s *Session) latch(st *sessionState, src netip.AddrPort) {
	r := &s.rx
	r.latched, r.candCount = src, 0
	s.latchMu.Lock()
	if cur := s.state.Load(); cur != nil && cur.latchGen == st.latchGen {
		a := src
		s.sendTo.Store(&a)
		s.latched.Store(src != st.neg.Remote)
	}
	s.latchMu.Unlock()
	if src != st.neg.Remote {
		s.log.Debug("rtp latched to packet source", "sdp", st.neg.Remote, "source", src)
	}
}

// trackSeq returns how many packets went missing before seq.
func (r *receiver) trackSeq(ssrc uint32, seq uint16) int {
	if !r.haveSeq || ssrc != r.ssrc {
		r.ssrc, r.maxSeq, r.haveSeq = ssrc, seq, true
		return 0
	}
	d := int16(seq - r.maxSeq)
	if d <= 0 {
		return 0 // duplicate or reordered
	}
	r.maxSeq = seq
	if d > 3000 {
		return 0 // a jump, not loss (stream restart)
	}
	return int(d) - 1
}

// deliverDTMF queues a digit and stops a barge-in playback.
func (s *Session) deliverDTMF(ev DTMFEvent) {
	select {
	case s.dtmf <- ev:
		s.metrics.dtmfEvent(ev.Source)
	default:
		s.log.Warn("dtmf buffer full, digit dropped", "source", string(ev.Source))
	}
	s.mu.Lock()
	if j := s.play; j != nil && j.stopOnDTMF {
		s.finishPlayLocked(j, true, nil)
	}
	s.mu.Unlock()
}

// InjectDTMF delivers a digit that arrived by SIP INFO (source "info").
func (s *Session) InjectDTMF(digit rune) error {
	if !ValidDTMF(digit) {
		return ErrInvalidDigit
	}
	if s.closed.Load() {
		return ErrSessionClosed
	}
	if digit >= 'a' && digit <= 'd' {
		digit -= 'a' - 'A'
	}
	s.deliverDTMF(DTMFEvent{Digit: digit, Source: DTMFInfo, At: time.Now()})
	return nil
}

// FlushDTMF discards queued digits and returns how many there were.
func (s *Session) FlushDTMF() int {
	n := 0
	for {
		select {
		case <-s.dtmf:
			n++
		default:
			return n
		}
	}
}

// Stats returns the counters.
func (s *Session) Stats() Stats {
	st := Stats{
		PacketsIn: s.pktsIn.Load(), PacketsOut: s.pktsOut.Load(), Lost: s.lost.Load(), Dropped: s.dropped.Load(),
		Latched: s.latched.Load(),
	}
	if ns := s.lastRx.Load(); ns != 0 {
		st.LastPacket = time.Unix(0, ns)
	}
	if p := s.sendTo.Load(); p != nil {
		st.Remote = *p
	}
	return st
}

// String describes the receive pipeline, e.g.
// "RTP(127.0.0.1:20000<-127.0.0.1:31000) -> Mux[PCMU/0 -> G711Decode -> Sink(rec); telephone-event/101 -> RFC4733]".
func (s *Session) String() string {
	remote := "none"
	if p := s.sendTo.Load(); p != nil {
		remote = p.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "RTP(%s<-%s) -> Mux[", s.local, remote)
	if st := s.state.Load(); st != nil {
		fmt.Fprintf(&b, "%s/%d -> G711Decode -> ", st.codec.Name(), st.pt)
		if st.inband {
			b.WriteString("InbandDTMF -> ")
		}
		if sink := s.Sink(); sink != nil {
			fmt.Fprintf(&b, "Sink(%s)", sink.String())
		} else {
			b.WriteString("Sink(discard)")
		}
		if st.dtmfPT >= 0 {
			fmt.Fprintf(&b, "; telephone-event/%d -> RFC4733", st.dtmfPT)
		}
	}
	b.WriteString("]")
	return b.String()
}

// ---- sending ----

// beginTalkspurtLocked advances the RTP timestamp by the wall-clock time since the last
// packet, so the timeline stays continuous across pauses; the caller sets the marker.
func (s *Session) beginTalkspurtLocked(now time.Time) {
	if s.tx.lastWall.IsZero() {
		return
	}
	if gap := now.Sub(s.tx.lastWall) - FrameDuration; gap > 0 {
		s.tx.ts += uint32(gap.Nanoseconds() * SampleRate / int64(time.Second))
	}
}

// writeLocked sends one packet with the given timestamp if sending is allowed now.
func (s *Session) writeLocked(st *sessionState, pt uint8, marker bool, ts uint32, payload []byte) {
	dst := s.sendTo.Load()
	if !st.neg.CanSend() || dst == nil || !dst.IsValid() || dst.Addr().IsUnspecified() {
		s.tx.held = true
		return
	}
	if s.tx.held {
		marker, s.tx.held = true, false
	}
	h := &s.tx.hdr
	h.Version, h.PayloadType, h.Marker = 2, pt, marker
	h.SequenceNumber, h.Timestamp, h.SSRC = s.tx.seq, ts, s.tx.ssrc
	n, err := h.MarshalTo(s.tx.buf)
	if err != nil || n+len(payload) > len(s.tx.buf) {
		return
	}
	n += copy(s.tx.buf[n:], payload)
	s.tx.seq++
	if _, err := s.conn.WriteToUDPAddrPort(s.tx.buf[:n], *dst); err != nil {
		s.log.Debug("rtp write error", "err", err)
		return
	}
	s.pktsOut.Add(1)
	s.metrics.packetOut()
}

// sendAudioLocked sends an audio payload at the running timestamp and advances it.
func (s *Session) sendAudioLocked(st *sessionState, payload []byte, marker bool, now time.Time) {
	s.writeLocked(st, st.pt, marker, s.tx.ts, payload)
	s.tx.ts += uint32(len(payload)) // G.711: one byte per sample
	s.tx.lastWall = now
}

func (s *Session) sendable() (*sessionState, error) {
	if s.closed.Load() {
		return nil, ErrSessionClosed
	}
	st := s.state.Load()
	if st == nil {
		return nil, ErrNotStarted
	}
	return st, nil
}

// WriteFrame encodes PCM (normally 160 samples) with the negotiated codec and sends it.
// The caller paces (one frame per 20 ms); after a pause of more than 60 ms the packet
// starts a new talkspurt (marker bit, timestamp advanced by the pause).
func (s *Session) WriteFrame(pcm []int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.sendable()
	if err != nil {
		return err
	}
	now := time.Now()
	marker := s.tx.lastWall.IsZero() || now.Sub(s.tx.lastWall) > 3*FrameDuration
	if marker {
		s.beginTalkspurtLocked(now)
	}
	s.tx.enc = st.codec.Encode(s.tx.enc[:0], pcm)
	s.sendAudioLocked(st, s.tx.enc, marker, now)
	return nil
}

// WritePayload sends an already-encoded payload in the negotiated codec (a bridge
// relaying the other leg). The session keeps its own SSRC, sequence numbers and
// timestamps continuous; marker marks a new talkspurt (the timestamp then also advances
// by the time since the last packet). The caller paces.
func (s *Session) WritePayload(payload []byte, marker bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.sendable()
	if err != nil {
		return err
	}
	now := time.Now()
	if s.tx.lastWall.IsZero() || now.Sub(s.tx.lastWall) > 3*FrameDuration {
		marker = true
	}
	if marker {
		s.beginTalkspurtLocked(now)
	}
	s.sendAudioLocked(st, payload, marker, now)
	return nil
}

// Play sends prompts on the shared clock and blocks until they are done, ctx is done
// (error ctx.Err()), the session closes, a newer Play replaces this one
// (ErrPlaybackPreempted), or, with StopOnDTMF, a digit arrives (Interrupted; the digit
// stays in DTMF() for a collector). With StopOnDTMF, a digit already queued interrupts
// at once (type-ahead). Each playback starts a talkspurt (marker bit); timestamps run on
// continuously across prompts and pauses. A held peer receives nothing but time passes.
func (s *Session) Play(ctx context.Context, opts PlayOptions) (PlayResult, error) {
	for _, p := range opts.Prompts {
		if p == nil {
			return PlayResult{}, errors.New("media: Play with a nil prompt")
		}
	}
	if len(opts.Prompts) == 0 {
		return PlayResult{}, nil
	}
	if err := ctx.Err(); err != nil {
		return PlayResult{}, err
	}
	total := 0
	for _, p := range opts.Prompts {
		total += p.Frames()
	}
	job := &playJob{prompts: opts.Prompts, loop: opts.Loop && total > 0, stopOnDTMF: opts.StopOnDTMF, done: make(chan struct{})}
	s.mu.Lock()
	if _, err := s.sendable(); err != nil {
		s.mu.Unlock()
		return PlayResult{}, err
	}
	if opts.StopOnDTMF && len(s.dtmf) > 0 {
		s.mu.Unlock()
		return PlayResult{Interrupted: true}, nil
	}
	if s.play != nil {
		s.finishPlayLocked(s.play, false, ErrPlaybackPreempted)
	}
	s.play = job
	s.metrics.playbackDelta(1)
	s.idle.Store(false)
	s.mu.Unlock()
	if err := s.clock.activate(s); err != nil {
		s.mu.Lock()
		s.finishPlayLocked(job, false, err)
		s.mu.Unlock()
	}
	select {
	case <-job.done:
	case <-ctx.Done():
		s.mu.Lock()
		s.finishPlayLocked(job, false, ctx.Err())
		s.mu.Unlock()
	}
	return job.res, job.err
}

func (s *Session) finishPlayLocked(j *playJob, interrupted bool, err error) {
	if j.finished {
		return
	}
	j.finished = true
	j.res = PlayResult{Interrupted: interrupted, Played: time.Duration(j.frames) * FrameDuration}
	j.err = err
	close(j.done)
	if s.play == j {
		s.play = nil
	}
	s.metrics.playbackDelta(-1)
}

// next returns the next frame of the playback encoded for c, or nil at the end.
func (j *playJob) next(c Codec) []byte {
	for j.pi < len(j.prompts) {
		p := j.prompts[j.pi]
		if j.fi < p.Frames() {
			j.fi++
			return p.payload(c, j.fi-1)
		}
		j.pi, j.fi = j.pi+1, 0
		if j.pi == len(j.prompts) && j.loop {
			j.pi = 0
		}
	}
	return nil
}

func (j *playJob) atEnd() bool {
	if j.loop {
		return false
	}
	for i := j.pi; i < len(j.prompts); i++ {
		f := j.prompts[i].Frames()
		if i == j.pi {
			f -= j.fi
		}
		if f > 0 {
			return false
		}
	}
	return true
}

// SendDTMF sends digits (0-9 * # A-D; ',' pauses 500 ms) as RFC 4733 events on the
// shared clock and blocks until they are sent or ctx is done. Each digit is one event
// (one timestamp, marker on the first packet) of 160 ms, its end packet sent three times,
// then a gap; the audio timestamp then moves past the event. Playback pauses meanwhile.
// Without negotiated telephone-event the digits are sent as in-band tones.
func (s *Session) SendDTMF(ctx context.Context, digits string) error {
	var ds []rune
	for _, d := range digits {
		if d != ',' && !ValidDTMF(d) {
			return fmt.Errorf("%w: %q", ErrInvalidDigit, d)
		}
		ds = append(ds, d)
	}
	if len(ds) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	st, err := s.sendable()
	if err != nil {
		s.mu.Unlock()
		return err
	}
	if s.dtmfOut != nil {
		s.mu.Unlock()
		return ErrDTMFBusy
	}
	job := &dtmfJob{digits: ds, inband: st.dtmfPT < 0, done: make(chan struct{})}
	s.dtmfOut = job
	s.metrics.playbackDelta(1)
	s.idle.Store(false)
	s.mu.Unlock()
	if err := s.clock.activate(s); err != nil {
		s.mu.Lock()
		s.finishDTMFLocked(job, err)
		s.mu.Unlock()
	}
	select {
	case <-job.done:
		return job.err
	case <-ctx.Done():
		s.mu.Lock()
		if !job.finished {
			// Let the current event end properly (end packets) but send no more digits.
			keep := job.i + 1
			if job.phase == dtmfStart {
				keep = job.i
			}
			job.digits = job.digits[:min(keep, len(job.digits))]
			job.err = ctx.Err()
		}
		s.mu.Unlock()
		return ctx.Err()
	}
}

func (s *Session) finishDTMFLocked(j *dtmfJob, err error) {
	if j.finished {
		return
	}
	j.finished = true
	if j.err == nil {
		j.err = err
	}
	close(j.done)
	if s.dtmfOut == j {
		s.dtmfOut = nil
		if s.play != nil {
			s.play.started = false // audio after the digits is a new talkspurt
		}
	}
	s.metrics.playbackDelta(-1)
}

// stepDTMFLocked sends what one tick of a DTMF job needs.
func (s *Session) stepDTMFLocked(st *sessionState, j *dtmfJob, now time.Time) {
	switch j.phase {
	case dtmfStart:
		if j.i >= len(j.digits) {
			s.finishDTMFLocked(j, nil)
			return
		}
		d := j.digits[j.i]
		if d == ',' {
			j.phase, j.wait = dtmfWait, dtmfPauseTicks
			return
		}
		j.code, _ = dtmfCode(d)
		s.beginTalkspurtLocked(now)
		j.ts, j.dur, j.ends = s.tx.ts, FrameSamples, 0
		if j.inband {
			r, c, _ := dsp.DTMFFrequencies(d)
			j.tone = dsp.DualTone(r, c, dtmfToneSamples*time.Second/SampleRate, SampleRate, 0.5)
			s.sendToneFrameLocked(st, j, true, now)
		} else {
			s.sendEventLocked(st, j, false, true)
		}
		j.phase = dtmfTone
	case dtmfTone:
		j.dur += FrameSamples
		if j.inband {
			if j.dur > dtmfToneSamples {
				j.phase, j.wait = dtmfWait, dtmfGapTicks+3
				return
			}
			s.sendToneFrameLocked(st, j, false, now)
			return
		}
		if j.dur >= dtmfToneSamples {
			j.dur = dtmfToneSamples
			s.sendEventLocked(st, j, true, false)
			j.ends, j.phase = 1, dtmfEnd
			return
		}
		s.sendEventLocked(st, j, false, false)
	case dtmfEnd:
		s.sendEventLocked(st, j, true, false)
		j.ends++
		if j.ends >= 3 {
			// Move the audio timeline past the event.
			if end := j.ts + j.dur; int32(end-s.tx.ts) > 0 {
				s.tx.ts = end
			}
			s.tx.lastWall = now
			j.phase, j.wait = dtmfWait, dtmfGapTicks
		}
	case dtmfWait:
		if j.inband {
			// In-band digits need silence between them or a repeated key would merge.
			s.tx.enc = s.tx.enc[:FrameSamples]
			for i := range s.tx.enc {
				s.tx.enc[i] = st.codec.SilenceByte()
			}
			s.sendAudioLocked(st, s.tx.enc, false, now)
		}
		j.wait--
		if j.wait <= 0 {
			j.i++
			j.phase = dtmfStart
		}
	}
}

func (s *Session) sendEventLocked(st *sessionState, j *dtmfJob, end, marker bool) {
	s.tx.enc = appendDTMFPayload(s.tx.enc[:0], j.code, end, dtmfVolume, uint16(j.dur))
	s.writeLocked(st, uint8(st.dtmfPT), marker, j.ts, s.tx.enc)
}

func (s *Session) sendToneFrameLocked(st *sessionState, j *dtmfJob, marker bool, now time.Time) {
	off := int(j.dur) - FrameSamples
	if off+FrameSamples > len(j.tone) {
		return
	}
	s.tx.enc = st.codec.Encode(s.tx.enc[:0], j.tone[off:off+FrameSamples])
	s.sendAudioLocked(st, s.tx.enc, marker, now)
}

// tick is called by the clock: send up to frames frames of the DTMF job or else the
// playback.
func (s *Session) tick(now time.Time, frames int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state.Load()
	if s.closed.Load() || st == nil {
		s.idle.Store(true)
		return
	}
	for range frames {
		if j := s.dtmfOut; j != nil {
			s.stepDTMFLocked(st, j, now)
			continue
		}
		j := s.play
		if j == nil {
			break
		}
		payload := j.next(st.codec)
		if payload == nil {
			s.finishPlayLocked(j, false, nil)
			break
		}
		marker := !j.started
		if marker {
			j.started = true
			s.beginTalkspurtLocked(now)
		}
		s.sendAudioLocked(st, payload, marker, now)
		j.frames++
		if j.atEnd() {
			s.finishPlayLocked(j, false, nil)
			break
		}
	}
	if s.play == nil && s.dtmfOut == nil {
		s.idle.Store(true)
	}
}

// abortOutput ends playback and DTMF sends with err (clock stopped or session closed).
func (s *Session) abortOutput(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j := s.play; j != nil {
		s.finishPlayLocked(j, false, err)
	}
	if j := s.dtmfOut; j != nil {
		s.finishDTMFLocked(j, err)
	}
	s.idle.Store(true)
}

// Close stops receiving and sending, ends Play and SendDTMF with ErrSessionClosed, and
// puts the port to rest. Safe to call more than once.
func (s *Session) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(s.done)
	s.abortOutput(ErrSessionClosed)
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if started && s.conn != nil {
		s.dlMu.Lock()
		_ = s.conn.SetReadDeadline(time.Now().Add(-time.Second))
		s.dlMu.Unlock()
		<-s.rxDone
		_ = s.conn.SetReadDeadline(time.Time{})
	}
	if s.port != nil {
		s.port.Release()
	}
	s.metrics.sessionDelta(-1)
	return nil
}
