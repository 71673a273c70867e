package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
)

// Errors returned by Leg methods.
var (
	ErrLegEnded     = errors.New("sip: leg ended")
	ErrInvalidState = errors.New("sip: operation not valid in the leg's state")
	ErrCancelled    = errors.New("sip: call cancelled by the caller")
)

// hangupTimeout bounds the automatic hang-up after HandleCall returns.
const hangupTimeout = 40 * time.Second

// Direction of a leg relative to careline.
type Direction int

// Directions.
const (
	Inbound  Direction = iota + 1 // the peer sent the INVITE
	Outbound                      // careline sent the INVITE (Dial)
)

func (d Direction) String() string {
	if d == Outbound {
		return "outbound"
	}
	return "inbound"
}

// LegState is the signalling state of a leg.
type LegState int32

// Leg states.
const (
	StateEarly       LegState = iota + 1 // inbound INVITE not answered yet
	StateAnswered                        // 200 sent, waiting for the ACK
	StateConfirmed                       // dialog confirmed
	StateTerminating                     // our BYE is in flight
	StateEnded
)

func (s LegState) String() string {
	switch s {
	case StateEarly:
		return "early"
	case StateAnswered:
		return "answered"
	case StateConfirmed:
		return "confirmed"
	case StateTerminating:
		return "terminating"
	case StateEnded:
		return "ended"
	}
	return "unknown"
}

// EndCause classifies why a leg ended (a bounded metric label).
type EndCause int

// End causes.
const (
	EndUnknown      EndCause = iota
	EndNormalRemote          // the peer sent BYE
	EndNormalLocal           // we hung up (Hangup / HandleCall returned)
	EndCancelled             // the caller cancelled (CANCEL, or BYE before answer)
	EndRejected              // we rejected the inbound call (Reject)
	EndNoAnswer              // inbound call left unanswered past MaxRingTime
	EndAckTimeout            // no ACK for our 2xx within 64*T1
	EndSessionTimer          // RFC 4028 refresh missing or failed
	EndShutdown              // server shutdown
	EndError                 // internal error, handler panic, transport failure
)

func (c EndCause) String() string {
	switch c {
	case EndNormalRemote:
		return "normal-remote"
	case EndNormalLocal:
		return "normal-local"
	case EndCancelled:
		return "cancelled"
	case EndRejected:
		return "rejected"
	case EndNoAnswer:
		return "no-answer"
	case EndAckTimeout:
		return "ack-timeout"
	case EndSessionTimer:
		return "session-timer"
	case EndShutdown:
		return "shutdown"
	case EndError:
		return "error"
	}
	return "unknown"
}

// EndReason says how a leg ended: Cause, the SIP status involved (our final
// response to an unanswered INVITE, or 0), and a short detail (no PHI).
type EndReason struct {
	Cause  EndCause
	Code   int
	Detail string
}

func (r EndReason) String() string {
	s := r.Cause.String()
	if r.Code != 0 {
		s += fmt.Sprintf(" (%d)", r.Code)
	}
	if r.Detail != "" {
		s += ": " + r.Detail
	}
	return s
}

// Party is one end of a dialog as its From/To header showed it, sanitized.
// User is often a phone number: mask it (logx.MaskPhone) before logging.
type Party struct {
	DisplayName string
	User        string
	Host        string
	URI         string
}

func partyOf(name string, u sipmsg.Uri) Party {
	c := u.Clone()
	c.Headers = nil
	return Party{
		DisplayName: SanitizeDisplayName(name),
		User:        SanitizeHeaderValue(u.User),
		Host:        SanitizeHeaderValue(u.Host),
		URI:         SanitizeHeaderValue(c.String()),
	}
}

// Event is something a leg reports to its owner (see Events).
type Event interface{ legEvent() }

// DTMFEvent is a digit received by SIP INFO (application/dtmf-relay or
// application/dtmf). Digits are PHI-adjacent: never log them.
type DTMFEvent struct {
	Digit    rune
	Duration time.Duration
}

// MediaUpdateEvent reports a renegotiation the leg accepted: a re-INVITE or
// UPDATE offer (RemoteSDP) and the answer the OfferHandler produced
// (LocalSDP), or the SDP of the ACK completing an offerless exchange. Hold
// is true when the remote SDP puts the peer's stream on hold.
type MediaUpdateEvent struct {
	RemoteSDP []byte
	LocalSDP  []byte
	Hold      bool
}

// ReferEvent is an in-dialog REFER (blind transfer request) already
// answered 202. Target is the sanitized Refer-To URI without URI headers;
// Replaces carries an attended-transfer Replaces value if any. Unless
// NoSubscription, the owner must report the outcome with ReferResult.
type ReferEvent struct {
	Target         string
	Replaces       string
	ReferredBy     string
	NoSubscription bool
}

func (DTMFEvent) legEvent()        {}
func (MediaUpdateEvent) legEvent() {}
func (ReferEvent) legEvent()       {}

// OfferHandler answers an SDP offer received in a re-INVITE or UPDATE (hold,
// resume, codec change, session refresh). An error makes the leg answer 488.
// It runs on its own goroutine and may call the leg's methods.
type OfferHandler func(offer []byte) (answer []byte, err error)

type inRequest struct {
	rw   *responder
	done chan struct{}
}

// pendingAck is a 2xx to an INVITE we keep retransmitting until its ACK.
type pendingAck struct {
	rw        *responder
	res       *sipmsg.Response
	cseq      uint32
	interval  time.Duration
	retrans   *time.Timer
	deadline  *time.Timer
	initial   bool
	offerless bool // our 2xx carried the offer; the ACK carries the answer
}

// dialogState is everything needed to build in-dialog requests. Owned by
// the leg's goroutine.
type dialogState struct {
	callID, localTag, remoteTag string
	localURI, remoteURI         sipmsg.Uri
	localName, remoteName       string
	target                      sipmsg.Uri
	routes                      []sipmsg.Uri
	localCSeq, remoteCSeq       uint32
	inviteCSeq                  uint32
	transport                   string
	dest                        string // fixed next hop ip:port ("" = RFC routing)
	laddr                       *sipmsg.Addr
	contact                     sipmsg.Uri
	peerAllowsUpdate            bool
}

// Leg is one SIP call leg (one dialog). One goroutine owns its state: the
// owner's commands, the peer's in-dialog requests (a mailbox, so they are
// handled one at a time, in arrival order), ACKs and timers all pass through
// it. The ACK is matched to the CSeq of the INVITE being acknowledged, so an
// INFO or re-INVITE overtaking it cannot break the call.
type Leg struct {
	s      *Server
	id     string
	key    string
	dir    Direction
	src    Source
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	callID     string
	local      Party
	remote     Party
	initial    *sipmsg.Request  // UAS: the INVITE received; UAC: the INVITE sent
	initialRes *sipmsg.Response // UAC: the 2xx
	inviteRW   *responder       // UAS
	offer      []byte

	// owned by the leg goroutine
	dlg             dialogState
	st              sessionTimer
	weRefresh       bool
	stTimer         *time.Timer
	ringTimer       *time.Timer
	pending         *pendingAck
	reinvitePending bool
	hangupOnAck     *EndReason
	byeReason       EndReason
	localSDP        []byte
	remoteSDP       []byte
	referActive     bool
	endReason       EndReason
	ended           bool
	cancelSeen      bool

	calls       chan func()
	reqs        chan inRequest
	acks        chan *sipmsg.Request
	cancelled   chan struct{}
	cancelOnce  sync.Once
	events      chan Event
	done        chan struct{}
	inviteFinal chan struct{}
	finalOnce   sync.Once
	confirmed   chan struct{}
	confOnce    sync.Once

	offerHandler atomic.Pointer[OfferHandler]
	state        atomic.Int32
	remoteSDPv   atomic.Pointer[[]byte]
	localSDPv    atomic.Pointer[[]byte]

	endMu sync.Mutex
	endR  EndReason

	ackMu   sync.Mutex
	ackTmpl *sipmsg.Request // UAC: ACK for the 2xx, cloned per send
}

func newLeg(s *Server, dir Direction, src Source) *Leg {
	l := &Leg{
		s:           s,
		id:          uuid.NewString(),
		dir:         dir,
		src:         src,
		calls:       make(chan func()),
		reqs:        make(chan inRequest, 32),
		acks:        make(chan *sipmsg.Request, 8),
		cancelled:   make(chan struct{}),
		events:      make(chan Event, 64),
		done:        make(chan struct{}),
		inviteFinal: make(chan struct{}),
		confirmed:   make(chan struct{}),
	}
	l.ctx, l.cancel = context.WithCancel(s.baseCtx)
	l.log = s.log.With("leg", l.id, "direction", dir.String())
	return l
}

func newInboundLeg(s *Server, rw *responder, src Source, st sessionTimer) (*Leg, error) {
	req := rw.req
	from, to, cid, cseq, contact := req.From(), req.To(), req.CallID(), req.CSeq(), req.Contact()
	if from == nil || to == nil || cid == nil || cseq == nil || contact == nil {
		return nil, errors.New("sip: INVITE lacks dialog headers")
	}
	remoteTag, _ := from.Params.Get("tag")
	l := newLeg(s, Inbound, src)
	l.callID = cid.Value()
	l.initial = req
	l.inviteRW = rw
	l.offer = append([]byte(nil), req.Body()...)
	l.remoteSDP = l.offer
	l.local = partyOf(to.DisplayName, to.Address)
	l.remote = partyOf(from.DisplayName, from.Address)
	l.st = st
	l.weRefresh = st.active() && st.refresher == "uas"
	l.dlg = dialogState{
		callID:     l.callID,
		localTag:   randomToken(8),
		remoteTag:  remoteTag,
		localURI:   *to.Address.Clone(),
		localName:  to.DisplayName,
		remoteURI:  *from.Address.Clone(),
		remoteName: from.DisplayName,
		target:     *contact.Address.Clone(),
		routes:     recordRoutes(req, false),
		localCSeq:  1,
		remoteCSeq: cseq.SeqNo,
		inviteCSeq: cseq.SeqNo,
		transport:  req.Transport(),
		dest:       req.Source(),
		contact:    s.contactURI(SanitizeURIUser(req.Recipient.User), req.Transport()),
	}
	l.dlg.peerAllowsUpdate = allowsMethod(req, "UPDATE")
	if strings.EqualFold(l.dlg.transport, "UDP") {
		if a, ok := s.udpLaddr(); ok {
			l.dlg.laddr = &a
		}
	}
	l.key = legKey(l.callID, l.dlg.localTag, l.dlg.remoteTag)
	l.setState(StateEarly)
	l.storeRemoteSDP(l.offer)
	if !rw.tx.OnCancel(func(*sipmsg.Request) { l.markCancelled() }) {
		if errors.Is(rw.tx.Err(), sipmsg.ErrTransactionCanceled) {
			l.markCancelled()
		}
	}
	return l, nil
}

// recordRoutes returns the Record-Route URIs in message order, reversed
// for the UAC side (RFC 3261 §12.1.2).
func recordRoutes(m sipmsg.Message, reverse bool) []sipmsg.Uri {
	var out []sipmsg.Uri
	for _, h := range m.GetHeaders("Record-Route") {
		if rr, ok := h.(*sipmsg.RecordRouteHeader); ok {
			out = append(out, *rr.Address.Clone())
		}
	}
	if reverse {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

func allowsMethod(m sipmsg.Message, method string) bool {
	for _, t := range headerTokens(m, "Allow") {
		if strings.EqualFold(t, method) {
			return true
		}
	}
	return false
}

// ID is careline's leg id (a UUID), not the SIP Call-ID.
func (l *Leg) ID() string { return l.id }

// Direction reports who sent the INVITE.
func (l *Leg) Direction() Direction { return l.dir }

// Source describes where the call came from (trunk or user) or, for
// outbound legs, the trunk or user dialled.
func (l *Leg) Source() Source { return l.src }

// CallID is the SIP Call-ID.
func (l *Leg) CallID() string { return l.callID }

// Local is our end (the To of an inbound INVITE, the From of an outbound).
func (l *Leg) Local() Party { return l.local }

// Remote is the peer's end (the caller of an inbound leg).
func (l *Leg) Remote() Party { return l.remote }

// Offer is the remote SDP that set up the leg: the inbound INVITE's offer
// (empty for an offerless INVITE) or the outbound call's answer.
func (l *Leg) Offer() []byte { return l.offer }

// RemoteSDP is the latest remote SDP (after re-INVITEs).
func (l *Leg) RemoteSDP() []byte {
	if p := l.remoteSDPv.Load(); p != nil {
		return *p
	}
	return nil
}

// LocalSDP is the latest SDP we sent.
func (l *Leg) LocalSDP() []byte {
	if p := l.localSDPv.Load(); p != nil {
		return *p
	}
	return nil
}

// Header returns the sanitized first value of a header of the message that
// set up the leg (inbound: the INVITE; outbound: the 2xx), or "".
func (l *Leg) Header(name string) string {
	var m sipmsg.Message = l.initial
	if l.dir == Outbound && l.initialRes != nil {
		m = l.initialRes
	}
	if h := firstHeader(m, name); h != nil {
		return SanitizeHeaderValue(h.Value())
	}
	return ""
}

// State is the current signalling state.
func (l *Leg) State() LegState { return LegState(l.state.Load()) }

// Events delivers DTMF, media updates and REFERs. It is buffered (64); when
// the owner falls behind, events are dropped (logged), never blocking the
// leg. It is closed after Done.
func (l *Leg) Events() <-chan Event { return l.events }

// Done is closed when the leg has ended and is cleaned up.
func (l *Leg) Done() <-chan struct{} { return l.done }

// Context is cancelled when the leg ends.
func (l *Leg) Context() context.Context { return l.ctx }

// EndReason says why the leg ended (valid after Done).
func (l *Leg) EndReason() EndReason {
	l.endMu.Lock()
	defer l.endMu.Unlock()
	return l.endR
}

// OnOffer sets the callback that answers re-INVITE/UPDATE offers. Without
// one, a refresh with an unchanged SDP version is answered with the last
// local SDP and anything else gets 488.
func (l *Leg) OnOffer(h OfferHandler) {
	if h == nil {
		l.offerHandler.Store(nil)
		return
	}
	l.offerHandler.Store(&h)
}

func (l *Leg) String() string {
	return "leg(" + l.id + " " + l.dir.String() + " " + l.State().String() + ")"
}

// Ringing sends 180 Ringing on an unanswered inbound leg.
func (l *Leg) Ringing(ctx context.Context) error {
	return l.do(ctx, func() error { return l.provisional(180, "Ringing", nil) })
}

// Progress sends 183 Session Progress with an SDP answer (early media).
func (l *Leg) Progress(ctx context.Context, sdp []byte) error {
	return l.do(ctx, func() error { return l.provisional(183, "Session Progress", sdp) })
}

// Answer sends 200 OK with sdp on an inbound leg. It returns as soon as the
// 200 is sent; the leg retransmits it (T1 doubling to T2) until the ACK
// arrives and ends the call (ack-timeout) after 64*T1 without one.
func (l *Leg) Answer(ctx context.Context, sdp []byte) error {
	return l.do(ctx, func() error { return l.answer(sdp) })
}

// Reject sends a final response (>= 300) to an unanswered inbound leg and
// ends it (EndRejected).
func (l *Leg) Reject(code int, reason string) error {
	if code < 300 || code > 699 {
		return fmt.Errorf("sip: reject code %d: %w", code, ErrInvalidState)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return l.do(ctx, func() error {
		if l.dir != Inbound || l.State() != StateEarly {
			return ErrInvalidState
		}
		if l.cancelSeen {
			return ErrCancelled
		}
		l.finalResponse(code, SanitizeHeaderValue(reason))
		l.end(EndReason{Cause: EndRejected, Code: code})
		return nil
	})
}

// Hangup ends the leg: BYE on a confirmed dialog (after the ACK if it is
// still outstanding), 480 on an unanswered inbound INVITE. It waits until
// the leg is done or ctx expires. Hanging up an ended leg is a no-op.
func (l *Leg) Hangup(ctx context.Context) error {
	return l.terminateWith(ctx, EndReason{Cause: EndNormalLocal, Code: 480})
}

// ReferResult reports a transfer's outcome to the peer that sent REFER
// (NOTIFY with a message/sipfrag status line, subscription terminated).
func (l *Leg) ReferResult(ctx context.Context, code int, reason string) error {
	return l.do(ctx, func() error {
		if !l.referActive {
			return ErrInvalidState
		}
		l.referActive = false
		if reason == "" {
			reason = defaultReason(code)
		}
		l.sendNotify(fmt.Sprintf("SIP/2.0 %d %s", code, SanitizeHeaderValue(reason)), "terminated;reason=noresource")
		return nil
	})
}

func (l *Leg) terminateWith(ctx context.Context, r EndReason) error {
	err := l.do(ctx, func() error { l.terminate(r); return nil })
	if errors.Is(err, ErrLegEnded) {
		return nil
	}
	if err != nil {
		return err
	}
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fail ends the leg with an error cause (500 before answer, BYE after).
func (l *Leg) fail(detail string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = l.do(ctx, func() error {
		l.terminate(EndReason{Cause: EndError, Code: 500, Detail: detail})
		return nil
	})
}

// do runs fn on the leg's goroutine and returns its error.
func (l *Leg) do(ctx context.Context, fn func() error) error {
	errc := make(chan error, 1)
	select {
	case l.calls <- func() { errc <- fn() }:
	case <-l.done:
		return ErrLegEnded
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-l.done:
		select {
		case err := <-errc:
			return err
		default:
			return ErrLegEnded
		}
	}
}

// exec queues fn on the leg's goroutine; false if the leg has ended.
func (l *Leg) exec(fn func()) bool {
	select {
	case l.calls <- fn:
		return true
	case <-l.done:
		return false
	}
}

func (l *Leg) postRequest(r inRequest) bool {
	select {
	case <-l.done:
		return false
	default:
	}
	select {
	case l.reqs <- r:
		return true
	default:
		return false // mailbox full: the caller answers 503
	}
}

func (l *Leg) postAck(ack *sipmsg.Request) {
	select {
	case l.acks <- ack:
	case <-l.done:
	default:
	}
}

func (l *Leg) markCancelled() {
	l.cancelOnce.Do(func() {
		if l.inviteRW != nil {
			l.inviteRW.mu.Lock()
			if l.inviteRW.final == 0 {
				l.inviteRW.final = 487 // sipgo's transaction layer sent it
			}
			l.inviteRW.mu.Unlock()
		}
		close(l.cancelled)
	})
}

func (l *Leg) setState(s LegState) {
	l.state.Store(int32(s))
	if s == StateConfirmed {
		l.confOnce.Do(func() { close(l.confirmed) })
	}
}

// Confirmed is closed when the dialog is confirmed: the ACK for our 200
// arrived (inbound), or the call was answered (outbound). Media may start
// flowing before; a leg that ends unconfirmed never closes it.
func (l *Leg) Confirmed() <-chan struct{} { return l.confirmed }

func (l *Leg) storeRemoteSDP(b []byte) {
	l.remoteSDP = b
	c := append([]byte(nil), b...)
	l.remoteSDPv.Store(&c)
}

func (l *Leg) storeLocalSDP(b []byte) {
	l.localSDP = b
	c := append([]byte(nil), b...)
	l.localSDPv.Store(&c)
}

func (l *Leg) emit(ev Event) {
	select {
	case l.events <- ev:
	default:
		l.log.Warn("leg event dropped: owner not reading", "event", fmt.Sprintf("%T", ev))
	}
}

func (l *Leg) signalFinal() { l.finalOnce.Do(func() { close(l.inviteFinal) }) }

func timerC(t *time.Timer) <-chan time.Time {
	if t == nil {
		return nil
	}
	return t.C
}

func stopTimer(t **time.Timer) {
	if *t != nil {
		(*t).Stop()
		*t = nil
	}
}

// run is the leg's goroutine.
func (l *Leg) run() {
	defer l.s.wg.Done()
	defer l.cleanup()
	defer func() {
		if p := recover(); p != nil {
			l.s.metrics.panics.Inc()
			l.log.Error("leg panic", "panic", redactString(toString(p)))
			l.panicCleanup()
		}
	}()
	if l.dir == Inbound {
		l.ringTimer = time.NewTimer(l.s.cfg.MaxRingTime)
	} else {
		l.armSessionTimer()
	}
	var inviteTxDone <-chan struct{}
	if l.inviteRW != nil {
		inviteTxDone = l.inviteRW.tx.Done()
	}
	for !l.ended {
		var cancelled, txDone <-chan struct{}
		if l.State() == StateEarly {
			if !l.cancelSeen {
				cancelled = l.cancelled
			}
			txDone = inviteTxDone
		}
		var retrans, ackDeadline <-chan time.Time
		if l.pending != nil {
			retrans, ackDeadline = timerC(l.pending.retrans), timerC(l.pending.deadline)
		}
		select {
		case fn := <-l.calls:
			fn()
		case r := <-l.reqs:
			l.handleRequest(r)
		case ack := <-l.acks:
			l.handleAck(ack)
		case <-cancelled:
			l.cancelSeen = true
			l.end(EndReason{Cause: EndCancelled, Code: 487})
		case <-txDone:
			l.end(EndReason{Cause: EndError, Detail: "INVITE transaction ended without a final response"})
		case <-timerC(l.ringTimer):
			l.ringTimer = nil
			if l.State() == StateEarly {
				l.finalResponse(480, "Temporarily Unavailable")
				l.end(EndReason{Cause: EndNoAnswer, Code: 480})
			}
		case <-retrans:
			l.retransmit2xx()
		case <-ackDeadline:
			p := l.pending
			l.clearPending()
			l.log.Warn("no ACK for 2xx", "initial", p.initial)
			l.sendBye(EndReason{Cause: EndAckTimeout})
		case <-timerC(l.stTimer):
			l.stTimer = nil
			l.onSessionTimer()
		case <-l.s.baseCtx.Done():
			l.end(EndReason{Cause: EndShutdown})
		}
	}
}

func (l *Leg) panicCleanup() {
	defer func() { _ = recover() }()
	switch l.State() {
	case StateEarly:
		if l.inviteRW != nil && !l.inviteRW.responded() {
			_ = l.inviteRW.reply(500, "Server Internal Error")
		}
	case StateAnswered, StateConfirmed:
		req := l.newRequest(sipmsg.BYE)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, _ = l.s.doRequest(ctx, req)
		}()
	}
	l.ended = true
	l.endReason = EndReason{Cause: EndError, Detail: "leg panic"}
}

func (l *Leg) end(r EndReason) {
	if l.ended {
		return
	}
	l.ended = true
	l.endReason = r
}

func (l *Leg) cleanup() {
	stopTimer(&l.ringTimer)
	stopTimer(&l.stTimer)
	l.clearPending()
	l.setState(StateEnded)
	l.s.removeLeg(l)
	l.endMu.Lock()
	l.endR = l.endReason
	l.endMu.Unlock()
	l.cancel()
	l.signalFinal()
	l.s.metrics.legsEnded.WithLabelValues(l.dir.String(), l.endReason.Cause.String()).Inc()
	l.log.Info("leg ended", "cause", l.endReason.Cause.String(), "code", l.endReason.Code)
	close(l.done)
	close(l.events)
}

func (l *Leg) clearPending() {
	if l.pending == nil {
		return
	}
	stopTimer(&l.pending.retrans)
	stopTimer(&l.pending.deadline)
	l.pending = nil
}

// terminate ends the leg the way its state requires.
func (l *Leg) terminate(r EndReason) {
	switch l.State() {
	case StateEarly:
		if l.dir == Inbound && !l.cancelSeen {
			code := r.Code
			if code < 300 {
				code = 480
			}
			l.finalResponse(code, defaultReason(code))
			r.Code = code
		}
		l.end(r)
	case StateAnswered:
		if l.hangupOnAck == nil {
			l.hangupOnAck = &r
		}
	case StateConfirmed:
		l.sendBye(r)
	}
}

// --- UAS responses -------------------------------------------------------

// decorate adds our To tag, Contact and capability headers to a response
// to the dialog-creating INVITE (or an in-dialog request).
func (l *Leg) decorate(res *sipmsg.Response, withContact bool) {
	if to := res.To(); to != nil {
		to.Params.Add("tag", l.dlg.localTag)
	}
	if withContact {
		res.AppendHeader(&sipmsg.ContactHeader{Address: l.dlg.contact})
		res.AppendHeader(sipmsg.NewHeader("Allow", allowValue))
		res.AppendHeader(sipmsg.NewHeader("Supported", supportedValue))
	}
}

func (l *Leg) provisional(code int, reason string, sdp []byte) error {
	if l.dir != Inbound || l.State() != StateEarly {
		return ErrInvalidState
	}
	if l.cancelSeen {
		return ErrCancelled
	}
	res := l.inviteRW.newResponse(code, reason, nil)
	l.decorate(res, true)
	if len(sdp) > 0 {
		res.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
		res.SetBody(sdp)
	}
	if err := l.inviteRW.send(res); err != nil {
		return err
	}
	return nil
}

func (l *Leg) answer(sdp []byte) error {
	if l.dir != Inbound || l.State() != StateEarly {
		return ErrInvalidState
	}
	if l.cancelSeen {
		return ErrCancelled
	}
	res := l.inviteRW.newResponse(200, "OK", nil)
	l.decorate(res, true)
	for _, h := range l.st.responseHeaders() {
		res.AppendHeader(h)
	}
	if len(sdp) > 0 {
		res.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
		res.SetBody(sdp)
	}
	if err := l.inviteRW.send(res); err != nil {
		select {
		case <-l.cancelled:
			l.cancelSeen = true
			l.end(EndReason{Cause: EndCancelled, Code: 487})
			return ErrCancelled
		default:
		}
		l.end(EndReason{Cause: EndError, Detail: "sending 200 failed"})
		return err
	}
	stopTimer(&l.ringTimer)
	l.storeLocalSDP(sdp)
	l.setState(StateAnswered)
	l.signalFinal()
	l.startPending(l.inviteRW, res, l.dlg.inviteCSeq, true, len(l.offer) == 0)
	return nil
}

// finalResponse answers the initial INVITE with a non-2xx final.
func (l *Leg) finalResponse(code int, reason string) {
	if l.inviteRW == nil || l.inviteRW.responded() {
		l.signalFinal()
		return
	}
	res := l.inviteRW.newResponse(code, reason, nil)
	l.decorate(res, false)
	if code == 503 {
		res.AppendHeader(retryAfter(l.s.cfg.DrainRetryAfter))
	}
	if err := l.inviteRW.send(res); err != nil {
		l.log.Debug("final response not sent", "code", code, "error", err)
	}
	l.signalFinal()
}

func (l *Leg) startPending(rw *responder, res *sipmsg.Response, cseq uint32, initial, offerless bool) {
	l.clearPending()
	l.pending = &pendingAck{
		rw: rw, res: res, cseq: cseq, interval: l.s.t1,
		retrans:  time.NewTimer(l.s.t1),
		deadline: time.NewTimer(64 * l.s.t1),
		initial:  initial, offerless: offerless,
	}
}

func (l *Leg) retransmit2xx() {
	p := l.pending
	if p == nil {
		return
	}
	var err error
	select {
	case <-p.rw.tx.Done():
		err = l.s.tpl.WriteMsg(p.res)
	default:
		err = p.rw.tx.Respond(p.res)
	}
	if errors.Is(err, sipmsg.ErrUDPMTUCongestion) {
		err = l.s.writeLargeUDP(p.res)
	}
	if err != nil {
		l.log.Debug("2xx retransmission failed", "error", err)
	}
	p.interval = min(2*p.interval, l.s.t2)
	p.retrans.Reset(p.interval)
}

func (l *Leg) handleAck(ack *sipmsg.Request) {
	p := l.pending
	cs := ack.CSeq()
	if p == nil || cs == nil || cs.SeqNo != p.cseq {
		return // a retransmitted or stray ACK
	}
	l.acknowledged(ack.Body())
}

// acknowledged completes the pending 2xx: by its ACK, or implicitly when a
// new INVITE with a higher CSeq proves the peer sent the ACK (RFC 3261
// §14.1: the UAC starts no INVITE before the previous one completed).
func (l *Leg) acknowledged(ackBody []byte) {
	p := l.pending
	if p == nil {
		return
	}
	l.clearPending()
	if p.initial {
		l.setState(StateConfirmed)
		l.armSessionTimer()
	}
	if p.offerless && len(ackBody) > 0 {
		body := append([]byte(nil), ackBody...)
		l.storeRemoteSDP(body)
		l.emit(MediaUpdateEvent{RemoteSDP: body, LocalSDP: l.localSDP, Hold: IsHold(body)})
	}
	if r := l.hangupOnAck; r != nil {
		l.hangupOnAck = nil
		l.sendBye(*r)
	}
}

// drainAcks handles ACKs already queued, so a request arriving right
// behind an ACK sees the dialog confirmed.
func (l *Leg) drainAcks() {
	for {
		select {
		case ack := <-l.acks:
			l.handleAck(ack)
		default:
			return
		}
	}
}

// --- in-dialog requests from the peer ------------------------------------

func (l *Leg) handleRequest(r inRequest) {
	async := false
	defer func() {
		if !async {
			close(r.done)
		}
	}()
	req := r.rw.req
	l.drainAcks()
	if cs := req.CSeq(); req.Method == sipmsg.INVITE && l.pending != nil && cs != nil && cs.SeqNo > l.pending.cseq {
		l.acknowledged(nil)
	}
	if cs := req.CSeq(); cs != nil && cs.SeqNo > l.dlg.remoteCSeq {
		// Requests are accepted even when sipgo's per-message goroutines
		// delivered them out of CSeq order; only the highest is kept.
		l.dlg.remoteCSeq = cs.SeqNo
	}
	switch req.Method {
	case sipmsg.BYE:
		l.onBye(r)
	case sipmsg.INFO:
		l.onInfo(r)
	case sipmsg.INVITE:
		async = l.onReinvite(r)
	case sipmsg.UPDATE:
		async = l.onUpdate(r)
	case sipmsg.REFER:
		l.onRefer(r)
	case sipmsg.OPTIONS:
		_ = r.rw.reply(200, "OK", capabilityHeaders()...)
	case sipmsg.NOTIFY:
		_ = r.rw.reply(200, "OK")
	default:
		_ = r.rw.reply(405, "Method Not Allowed", allowHeader())
	}
}

func (l *Leg) onBye(r inRequest) {
	_ = r.rw.reply(200, "OK")
	switch l.State() {
	case StateEarly:
		// A BYE on the early dialog: the caller gave up.
		l.finalResponse(487, "Request Terminated")
		l.end(EndReason{Cause: EndCancelled, Code: 487})
	case StateTerminating:
		l.end(l.byeReason)
	default:
		l.clearPending()
		l.end(EndReason{Cause: EndNormalRemote})
	}
}

func (l *Leg) onInfo(r inRequest) {
	req := r.rw.req
	body := req.Body()
	if len(body) == 0 {
		_ = r.rw.reply(200, "OK")
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = mediaType(h.Value())
	}
	switch ct {
	case "application/dtmf-relay", "application/dtmf":
		d, dur, ok := parseDTMFInfo(ct, body)
		if !ok {
			_ = r.rw.reply(400, "Bad Request (DTMF body)")
			return
		}
		_ = r.rw.reply(200, "OK")
		l.emit(DTMFEvent{Digit: d, Duration: dur})
	default:
		_ = r.rw.reply(415, "Unsupported Media Type", sipmsg.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
	}
}

// onReinvite handles a re-INVITE; it reports whether the answer is sent
// asynchronously (OfferHandler running).
func (l *Leg) onReinvite(r inRequest) bool {
	req := r.rw.req
	if l.State() != StateConfirmed || l.pending != nil || l.reinvitePending {
		_ = r.rw.reply(491, "Request Pending")
		return false
	}
	if c := req.Contact(); c != nil {
		l.dlg.target = *c.Address.Clone()
	}
	l.peerRefresh(req)
	offer := append([]byte(nil), req.Body()...)
	cseq := req.CSeq().SeqNo
	if len(offer) == 0 {
		// Offerless re-INVITE: our offer in the 200, the answer in the ACK.
		l.reply2xx(r.rw, l.localSDP, cseq, true)
		return false
	}
	h := l.offerHandler.Load()
	if h == nil {
		if sameSessionVersion(offer, l.remoteSDP) {
			l.reply2xx(r.rw, l.localSDP, cseq, false)
		} else {
			_ = r.rw.reply(488, "Not Acceptable Here")
		}
		return false
	}
	l.reinvitePending = true
	fn := *h
	go func() {
		answer, err := callOfferHandler(fn, offer)
		ok := l.exec(func() {
			defer close(r.done)
			l.reinvitePending = false
			if l.ended {
				return
			}
			if err != nil || len(answer) == 0 {
				_ = r.rw.reply(488, "Not Acceptable Here")
				return
			}
			if l.reply2xx(r.rw, answer, cseq, false) {
				l.storeRemoteSDP(offer)
				l.emit(MediaUpdateEvent{RemoteSDP: offer, LocalSDP: answer, Hold: IsHold(offer)})
			}
		})
		_ = ok
	}()
	return true
}

// reply2xx answers a re-INVITE with sdp and retransmits until its ACK.
func (l *Leg) reply2xx(rw *responder, sdp []byte, cseq uint32, offerless bool) bool {
	res := rw.newResponse(200, "OK", nil)
	l.decorate(res, true)
	for _, h := range l.midDialogTimerHeaders() {
		res.AppendHeader(h)
	}
	if len(sdp) > 0 {
		res.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
		res.SetBody(sdp)
	}
	if err := rw.send(res); err != nil {
		l.log.Debug("re-INVITE 200 not sent", "error", err)
		return false
	}
	l.storeLocalSDP(sdp)
	l.startPending(rw, res, cseq, false, offerless)
	return true
}

func (l *Leg) onUpdate(r inRequest) bool {
	req := r.rw.req
	if l.State() == StateEnded || l.State() == StateTerminating {
		_ = r.rw.reply(481, "Call/Transaction Does Not Exist")
		return false
	}
	if l.reinvitePending {
		_ = r.rw.reply(491, "Request Pending")
		return false
	}
	if c := req.Contact(); c != nil {
		l.dlg.target = *c.Address.Clone()
	}
	l.peerRefresh(req)
	offer := append([]byte(nil), req.Body()...)
	respond := func(sdp []byte) {
		res := r.rw.newResponse(200, "OK", nil)
		l.decorate(res, true)
		for _, h := range l.midDialogTimerHeaders() {
			res.AppendHeader(h)
		}
		if len(sdp) > 0 {
			res.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
			res.SetBody(sdp)
		}
		_ = r.rw.send(res)
	}
	if len(offer) == 0 {
		respond(nil)
		return false
	}
	h := l.offerHandler.Load()
	if h == nil {
		if sameSessionVersion(offer, l.remoteSDP) {
			respond(l.localSDP)
		} else {
			_ = r.rw.reply(488, "Not Acceptable Here")
		}
		return false
	}
	l.reinvitePending = true
	fn := *h
	go func() {
		answer, err := callOfferHandler(fn, offer)
		l.exec(func() {
			defer close(r.done)
			l.reinvitePending = false
			if l.ended {
				return
			}
			if err != nil || len(answer) == 0 {
				_ = r.rw.reply(488, "Not Acceptable Here")
				return
			}
			respond(answer)
			l.storeLocalSDP(answer)
			l.storeRemoteSDP(offer)
			l.emit(MediaUpdateEvent{RemoteSDP: offer, LocalSDP: answer, Hold: IsHold(offer)})
		})
	}()
	return true
}

func callOfferHandler(h OfferHandler, offer []byte) (answer []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sip: offer handler panic: %s", redactString(toString(p)))
		}
	}()
	return h(offer)
}

func (l *Leg) onRefer(r inRequest) {
	req := r.rw.req
	if l.State() != StateConfirmed {
		_ = r.rw.reply(481, "Call/Transaction Does Not Exist")
		return
	}
	rt := req.ReferTo()
	if rt == nil {
		_ = r.rw.reply(400, "Bad Request (missing Refer-To)")
		return
	}
	target := rt.Address.Clone()
	replaces, _ := target.Headers.Get("Replaces")
	target.Headers = nil
	noSub := false
	if h := req.GetHeader("Refer-Sub"); h != nil && strings.EqualFold(strings.TrimSpace(h.Value()), "false") {
		noSub = true
	}
	var hdrs []sipmsg.Header
	if noSub {
		hdrs = append(hdrs, sipmsg.NewHeader("Refer-Sub", "false"))
	}
	_ = r.rw.reply(202, "Accepted", hdrs...)
	ev := ReferEvent{
		Target:         SanitizeHeaderValue(target.String()),
		Replaces:       SanitizeHeaderValue(replaces),
		NoSubscription: noSub,
	}
	if rb := req.ReferredBy(); rb != nil {
		ev.ReferredBy = SanitizeHeaderValue(rb.Address.String())
	}
	if !noSub {
		l.referActive = true
		l.sendNotify("SIP/2.0 100 Trying", "active;expires=60")
	}
	l.emit(ev)
}

// --- requests we send ----------------------------------------------------

// newRequest builds an in-dialog request (RFC 3261 §12.2.1.1).
func (l *Leg) newRequest(method sipmsg.RequestMethod) *sipmsg.Request {
	d := &l.dlg
	target := d.target.Clone()
	target.Headers = nil // never turn a peer's URI headers into real ones
	req := sipmsg.NewRequest(method, *target)
	via := &sipmsg.ViaHeader{
		ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: strings.ToUpper(d.transport),
		Host: l.s.cfg.PublicHost, Port: l.s.listenPort(d.transport), Params: sipmsg.NewParams(),
	}
	via.Params.Add("branch", sipmsg.GenerateBranch())
	via.Params.Add("rport", "")
	req.AppendHeader(via)
	mf := sipmsg.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	from := &sipmsg.FromHeader{DisplayName: d.localName, Address: *d.localURI.Clone(), Params: sipmsg.NewParams()}
	from.Params.Add("tag", d.localTag)
	req.AppendHeader(from)
	to := &sipmsg.ToHeader{DisplayName: d.remoteName, Address: *d.remoteURI.Clone(), Params: sipmsg.NewParams()}
	to.Params.Add("tag", d.remoteTag)
	req.AppendHeader(to)
	cid := sipmsg.CallIDHeader(d.callID)
	req.AppendHeader(&cid)
	seq := d.inviteCSeq
	if method != sipmsg.ACK && method != sipmsg.CANCEL {
		d.localCSeq++
		seq = d.localCSeq
	}
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: seq, MethodName: method})
	for _, r := range d.routes {
		req.AppendHeader(&sipmsg.RouteHeader{Address: *r.Clone()})
	}
	if method == sipmsg.INVITE || method == sipmsg.UPDATE {
		req.AppendHeader(&sipmsg.ContactHeader{Address: d.contact})
	}
	req.AppendHeader(sipmsg.NewHeader("User-Agent", l.s.cfg.UserAgent))
	req.SetBody(nil) // Content-Length: 0, required on stream transports
	req.SetTransport(strings.ToUpper(d.transport))
	if d.dest != "" {
		// Inbound legs answer the flow the INVITE came on (NAT); legs to a
		// registered phone use its binding's source address.
		req.SetDestination(d.dest)
	}
	if d.laddr != nil {
		d.laddr.Copy(&req.Laddr)
	}
	return req
}

// sendBye sends BYE and ends the leg with r when it is answered or times out.
func (l *Leg) sendBye(r EndReason) {
	if l.State() == StateTerminating || l.ended {
		return
	}
	l.clearPending()
	l.byeReason = r
	l.setState(StateTerminating)
	req := l.newRequest(sipmsg.BYE)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 64*sipmsg.T1)
		defer cancel()
		res, err := l.s.doRequest(ctx, req)
		if err != nil {
			l.log.Debug("BYE failed", "error", err)
		} else if res.StatusCode >= 300 {
			l.log.Debug("BYE rejected", "status", res.StatusCode)
		}
		l.exec(func() { l.end(l.byeReason) })
	}()
}

func (l *Leg) sendNotify(frag, subState string) {
	req := l.newRequest(sipmsg.NOTIFY)
	req.AppendHeader(sipmsg.NewHeader("Event", "refer"))
	req.AppendHeader(sipmsg.NewHeader("Subscription-State", subState))
	req.AppendHeader(sipmsg.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
	req.SetBody([]byte(frag + "\r\n"))
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 64*sipmsg.T1)
		defer cancel()
		if _, err := l.s.doRequest(ctx, req); err != nil {
			l.log.Debug("NOTIFY failed", "error", err)
		}
	}()
}

// resendAck (re)sends the ACK for an outbound leg's 2xx; safe from any
// goroutine.
func (l *Leg) resendAck() {
	l.ackMu.Lock()
	tmpl := l.ackTmpl
	l.ackMu.Unlock()
	if tmpl == nil {
		return
	}
	if err := l.s.tpl.WriteMsg(tmpl.Clone()); err != nil {
		l.log.Debug("ACK send failed", "error", err)
	}
}

// --- session timers (RFC 4028) -------------------------------------------

func (l *Leg) armSessionTimer() {
	stopTimer(&l.stTimer)
	if !l.st.active() {
		return
	}
	d := l.st.expiryAfter()
	if l.weRefresh {
		d = l.st.interval / 2
	}
	l.stTimer = time.NewTimer(d)
}

// midDialogTimerHeaders are the Session-Expires headers for our response to
// a refresh: refresher=uac when the requester keeps refreshing.
func (l *Leg) midDialogTimerHeaders() []sipmsg.Header {
	if !l.st.active() {
		return nil
	}
	ref := "uac"
	if l.weRefresh {
		ref = "uas"
	}
	hs := []sipmsg.Header{sipmsg.NewHeader("Session-Expires", seconds(l.st.interval)+";refresher="+ref)}
	if l.st.peerSupports {
		hs = append(hs, sipmsg.NewHeader("Require", "timer"))
	}
	return hs
}

// peerRefresh applies a re-INVITE/UPDATE from the peer as a session refresh.
func (l *Leg) peerRefresh(req *sipmsg.Request) {
	if se, ref, ok := parseSessionExpires(req); ok && se >= l.s.cfg.MinSE {
		l.st.interval = se
		l.st.peerSupports = l.st.peerSupports || supportsTimer(req)
		switch ref {
		case "uas":
			l.weRefresh = true
		case "uac":
			l.weRefresh = false
		default:
			l.weRefresh = !l.st.peerSupports
		}
	}
	if l.st.active() && l.State() == StateConfirmed {
		l.armSessionTimer()
	}
}

func (l *Leg) onSessionTimer() {
	if l.State() != StateConfirmed {
		return
	}
	if !l.weRefresh {
		l.log.Info("session timer expired without refresh")
		l.sendBye(EndReason{Cause: EndSessionTimer})
		return
	}
	if l.reinvitePending || l.pending != nil {
		l.stTimer = time.NewTimer(2 * time.Second)
		return
	}
	method := sipmsg.UPDATE
	if !l.dlg.peerAllowsUpdate {
		method = sipmsg.INVITE
	}
	req := l.newRequest(method)
	req.AppendHeader(sipmsg.NewHeader("Session-Expires", seconds(l.st.interval)+";refresher=uac"))
	req.AppendHeader(sipmsg.NewHeader("Supported", supportedValue))
	if method == sipmsg.INVITE {
		l.reinvitePending = true
		if len(l.localSDP) > 0 {
			req.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
			req.SetBody(l.localSDP)
		}
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 64*sipmsg.T1)
		defer cancel()
		res, err := l.s.doRequest(ctx, req)
		if err == nil && res.IsSuccess() && method == sipmsg.INVITE {
			l.ackRefresh(req, res)
		}
		l.exec(func() {
			if method == sipmsg.INVITE {
				l.reinvitePending = false
			}
			switch {
			case err == nil && res.IsSuccess():
				if se, _, ok := parseSessionExpires(res); ok && se > 0 {
					l.st.interval = se
				}
				l.armSessionTimer()
			case err == nil && res.StatusCode == 491:
				l.stTimer = time.NewTimer(2 * time.Second)
			default:
				l.sendBye(EndReason{Cause: EndSessionTimer, Detail: "refresh failed"})
			}
		})
	}()
}

// ackRefresh ACKs the 2xx of our refresh re-INVITE.
func (l *Leg) ackRefresh(inv *sipmsg.Request, res *sipmsg.Response) {
	ack := sipmsg.NewRequest(sipmsg.ACK, inv.Recipient)
	for _, h := range inv.Headers() {
		switch v := h.(type) {
		case *sipmsg.ViaHeader:
			via := v.Clone()
			via.Params.Add("branch", sipmsg.GenerateBranch())
			ack.AppendHeader(via)
		case *sipmsg.FromHeader, *sipmsg.CallIDHeader, *sipmsg.RouteHeader, *sipmsg.MaxForwardsHeader:
			ack.AppendHeader(sipmsg.HeaderClone(v))
		}
	}
	if to := res.To(); to != nil {
		ack.AppendHeader(sipmsg.HeaderClone(to))
	}
	ack.AppendHeader(&sipmsg.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sipmsg.ACK})
	ack.SetBody(nil)
	ack.SetTransport(inv.Transport())
	if d := inv.Destination(); d != "" {
		ack.SetDestination(d)
	}
	ack.Laddr = inv.Laddr
	if err := l.s.tpl.WriteMsg(ack); err != nil {
		l.log.Debug("refresh ACK failed", "error", err)
	}
}

// --- helpers ---------------------------------------------------------------

// sameSessionVersion reports whether two SDPs carry the same o= line (an
// unchanged session, e.g. a session-timer refresh).
func sameSessionVersion(a, b []byte) bool {
	oa, ob := originLine(a), originLine(b)
	return oa != "" && oa == ob
}

func originLine(sdp []byte) string {
	for _, ln := range strings.Split(string(sdp), "\n") {
		ln = strings.TrimSpace(ln)
		if strings.HasPrefix(ln, "o=") {
			return ln
		}
	}
	return ""
}

// parseDTMFInfo reads an INFO DTMF body: "Signal=5\r\nDuration=160" for
// application/dtmf-relay, or the bare digit for application/dtmf.
func parseDTMFInfo(ct string, body []byte) (rune, time.Duration, bool) {
	var sig string
	var dur time.Duration
	if ct == "application/dtmf" {
		sig = strings.TrimSpace(string(body))
	} else {
		for _, ln := range strings.Split(string(body), "\n") {
			kv := strings.SplitN(ln, "=", 2)
			if len(kv) != 2 {
				continue
			}
			k, v := strings.ToLower(strings.TrimSpace(kv[0])), strings.TrimSpace(kv[1])
			switch k {
			case "signal":
				sig = v
			case "duration":
				var ms int
				if _, err := fmt.Sscanf(v, "%d", &ms); err == nil && ms > 0 && ms < 60000 {
					dur = time.Duration(ms) * time.Millisecond
				}
			}
		}
	}
	switch sig {
	case "10":
		return '*', dur, true
	case "11":
		return '#', dur, true
	}
	if len(sig) != 1 {
		return 0, 0, false
	}
	c := rune(sig[0])
	switch {
	case c >= '0' && c <= '9', c == '*', c == '#':
		return c, dur, true
	case c >= 'A' && c <= 'D':
		return c, dur, true
	case c >= 'a' && c <= 'd':
		return c - 'a' + 'A', dur, true
	}
	return 0, 0, false
}

func defaultReason(code int) string {
	switch code {
	case 200:
		return "OK"
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 408:
		return "Request Timeout"
	case 480:
		return "Temporarily Unavailable"
	case 486:
		return "Busy Here"
	case 487:
		return "Request Terminated"
	case 488:
		return "Not Acceptable Here"
	case 500:
		return "Server Internal Error"
	case 503:
		return "Service Unavailable"
	case 603:
		return "Decline"
	}
	switch {
	case code < 300:
		return "OK"
	case code < 400:
		return "Redirection"
	case code < 500:
		return "Client Error"
	case code < 600:
		return "Server Error"
	}
	return "Global Failure"
}
