package phone

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/careline/careline/media"
)

// Direction says who placed a call.
type Direction int

// Directions.
const (
	Outbound Direction = iota + 1 // we sent the INVITE
	Inbound                       // the far end sent it
)

func (d Direction) String() string {
	switch d {
	case Outbound:
		return "outbound"
	case Inbound:
		return "inbound"
	}
	return "unknown"
}

// EventType names something that happened on a call.
type EventType int

// Event types.
const (
	EventRinging      EventType = iota + 1 // 180/183 on a call we placed (Code)
	EventAnswered                          // the call is up
	EventRemoteHold                        // the far end put us on hold (re-INVITE)
	EventRemoteResume                      // the far end took us off hold
	EventMediaTimeout                      // no RTP for the media timeout (the call stays up)
	EventEnded                             // the call ended (see EndReason)
)

func (t EventType) String() string {
	switch t {
	case EventRinging:
		return "ringing"
	case EventAnswered:
		return "answered"
	case EventRemoteHold:
		return "held by remote"
	case EventRemoteResume:
		return "resumed by remote"
	case EventMediaTimeout:
		return "media timeout"
	case EventEnded:
		return "ended"
	}
	return "unknown"
}

// Event is one call event. It never carries a digit.
type Event struct {
	Type EventType
	Code int // SIP status where one applies (ringing, end)
}

func (e Event) String() string {
	if e.Code != 0 {
		return fmt.Sprintf("%s (%d)", e.Type, e.Code)
	}
	return e.Type.String()
}

// EndCause says why a call ended.
type EndCause int

// End causes.
const (
	EndUnknown      EndCause = iota
	EndLocalHangup           // we sent BYE (or declined a ringing call)
	EndRemoteHangup          // the far end sent BYE
	EndRejected              // we rejected an inbound call (Reject, ring timeout, busy)
	EndRefused               // our INVITE got a final error response (Code)
	EndCancelled             // the INVITE was cancelled before an answer
	EndFailed                // transport, SDP or protocol failure
)

func (c EndCause) String() string {
	switch c {
	case EndLocalHangup:
		return "local hangup"
	case EndRemoteHangup:
		return "remote hangup"
	case EndRejected:
		return "rejected"
	case EndRefused:
		return "refused"
	case EndCancelled:
		return "cancelled"
	case EndFailed:
		return "failed"
	}
	return "unknown"
}

// EndReason says how a call ended.
type EndReason struct {
	Cause EndCause
	Code  int // SIP status involved, 0 when none
}

func (r EndReason) String() string {
	if r.Code != 0 {
		return fmt.Sprintf("%s (%d)", r.Cause, r.Code)
	}
	return r.Cause.String()
}

// PlayOptions are the parameters of one Play.
type PlayOptions struct {
	Audio []*media.Prompt // played back to back (LoadWAV, Tone)
	Loop  bool            // start over until ctx is done or the call ends
}

// Call is one call of the phone. Its methods are safe for concurrent use; signalling
// operations (Answer, Hold, Resume, Hangup) run one at a time.
type Call struct {
	p      *Phone
	dir    Direction
	id     string
	remote string
	sess   *media.Session
	neg    *media.Negotiator

	cs *sipgo.DialogClientSession // outbound
	ss *sipgo.DialogServerSession // inbound

	// inbound: the answer computed when the INVITE arrived
	answerSDP []byte
	answerNeg media.Negotiated

	cancelDial context.CancelFunc // outbound, until answered

	events   chan Event
	done     chan struct{}
	answered chan struct{}
	decided  chan struct{} // inbound: a final response was sent (or the call ended)

	sig       sync.Mutex  // serialises signalling operations
	rejecting atomic.Bool // a final error response of ours is on its way

	mu         sync.Mutex
	end        EndReason
	remoteHold bool
	rec        *recorder

	answerOnce, decideOnce, endOnce sync.Once
}

func (p *Phone) newCall(dir Direction, id string, sess *media.Session, neg *media.Negotiator) *Call {
	c := &Call{p: p, dir: dir, id: id, sess: sess, neg: neg, events: make(chan Event, 32),
		done: make(chan struct{}), answered: make(chan struct{}), decided: make(chan struct{})}
	go func() {
		select {
		case <-c.done:
		case <-sess.Timeout():
			c.emit(Event{Type: EventMediaTimeout})
		}
	}()
	return c
}

// ID is the SIP Call-ID.
func (c *Call) ID() string { return c.id }

// Direction says who placed the call.
func (c *Call) Direction() Direction { return c.dir }

// Remote is the far end's URI (the To of a call we placed, the From of one we got).
func (c *Call) Remote() string { return c.remote }

// Session is the call's media session (for sinks and statistics beyond this API).
func (c *Call) Session() *media.Session { return c.sess }

// Codec is the negotiated audio codec (CodecNone before the answer).
func (c *Call) Codec() media.Codec { return c.sess.Negotiated().Codec }

// Events delivers call events (buffered; dropped when nobody reads). It is never
// closed: select on Done too.
func (c *Call) Events() <-chan Event { return c.events }

// DTMF delivers digits received as RFC 4733 events (or SIP INFO, or in-band tones when
// no telephone-event was negotiated). It is never closed: select on Done too.
func (c *Call) DTMF() <-chan media.DTMFEvent { return c.sess.DTMF() }

// Answered is closed once the call is up.
func (c *Call) Answered() <-chan struct{} { return c.answered }

// Done is closed when the call has ended.
func (c *Call) Done() <-chan struct{} { return c.done }

// EndReason says how the call ended (valid after Done).
func (c *Call) EndReason() EndReason {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.end
}

func (c *Call) String() string {
	return fmt.Sprintf("Call(%s %s)", c.dir, c.id)
}

func (c *Call) ended() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *Call) isAnswered() bool {
	select {
	case <-c.answered:
		return true
	default:
		return false
	}
}

// confirmed reports whether the dialog is confirmed: answered (outbound), or our 200
// acknowledged (inbound, possibly just before Answer returns).
func (c *Call) confirmed() bool {
	if c.isAnswered() {
		return true
	}
	return c.dir == Inbound && c.ss.LoadState() == sipmsg.DialogStateConfirmed
}

func (c *Call) markAnswered() {
	c.answerOnce.Do(func() {
		close(c.answered)
		c.emit(Event{Type: EventAnswered})
	})
}

func (c *Call) decide() { c.decideOnce.Do(func() { close(c.decided) }) }

func (c *Call) emit(ev Event) {
	select {
	case c.events <- ev:
	default:
	}
}

// finish ends the call once: media closed, recording finalised, removed from the phone.
func (c *Call) finish(cause EndCause, code int) {
	c.endOnce.Do(func() {
		c.mu.Lock()
		c.end = EndReason{Cause: cause, Code: code}
		c.mu.Unlock()
		_ = c.sess.Close()
		if err := c.StopRecording(); err != nil {
			c.p.log.Warn("phone: recording not finalised", "err", err)
		}
		c.p.removeCall(c)
		c.decide()
		c.emit(Event{Type: EventEnded, Code: code})
		close(c.done)
	})
}

func (c *Call) mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, media.ErrSessionClosed) || (c.ended() && !errors.Is(err, context.Canceled)) {
		return fmt.Errorf("%w: %w", ErrCallEnded, err)
	}
	return err
}

// Call places a call to target and returns once it is answered: "9999" (a number at
// Config.Registrar), "user@host:port" or a sip: URI. A digest challenge is answered
// with Config.Password. A final error response is a *StatusError; cancelling ctx before
// the answer sends CANCEL.
func (p *Phone) Call(ctx context.Context, target string) (*Call, error) {
	ruri, dest, err := p.resolveTarget(target)
	if err != nil {
		return nil, err
	}
	port, err := p.ports.Allocate(ctx)
	if err != nil {
		return nil, fmt.Errorf("phone: %w", err)
	}
	sess, err := media.NewSession(port, p.clock, p.mediaOptions()...)
	if err != nil {
		port.Release()
		return nil, fmt.Errorf("phone: %w", err)
	}
	neg := media.NewNegotiator(p.sdpConfig(port.Number()))
	offer, err := neg.Offer()
	if err != nil {
		_ = sess.Close()
		return nil, fmt.Errorf("phone: offer: %w", err)
	}
	c := p.newCall(Outbound, uuid.NewString(), sess, neg)
	c.remote = ruri.Addr()
	if err := p.addCall(c); err != nil {
		_ = sess.Close()
		return nil, err
	}
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.mu.Lock()
	c.cancelDial = cancel
	c.mu.Unlock()

	req := sipmsg.NewRequest(sipmsg.INVITE, ruri)
	req.SetBody(offer)
	req.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
	from := &sipmsg.FromHeader{DisplayName: p.cfg.DisplayName, Address: sipmsg.Uri{Scheme: "sip", User: p.cfg.User, Host: p.domain},
		Params: sipmsg.NewParams()}
	from.Params.Add("tag", sipmsg.GenerateTagN(16))
	to := &sipmsg.ToHeader{Address: sipmsg.Uri{Scheme: ruri.Scheme, User: ruri.User, Host: ruri.Host, Port: ruri.Port},
		Params: sipmsg.NewParams()}
	cid := sipmsg.CallIDHeader(c.id)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&cid)
	req.AppendHeader(sipmsg.NewHeader("User-Agent", p.o.userAgent))
	req.AppendHeader(sipmsg.NewHeader("Allow", allowValue))
	if dest != "" {
		req.SetDestination(dest)
	}
	cs, err := p.dua.WriteInvite(dctx, req)
	if err != nil {
		c.finish(EndFailed, 0)
		return nil, fmt.Errorf("phone: INVITE: %w", err)
	}
	c.cs = cs
	err = cs.WaitAnswer(dctx, sipgo.AnswerOptions{Username: p.cfg.AuthUser, Password: p.cfg.Password,
		OnResponse: func(res *sipmsg.Response) error {
			if res.StatusCode == 180 || res.StatusCode == 183 {
				c.emit(Event{Type: EventRinging, Code: res.StatusCode})
			}
			return nil
		}})
	if err != nil {
		if res := dialogResponse(err); res != nil {
			c.finish(EndRefused, res.StatusCode)
			return nil, &StatusError{Method: "INVITE", Code: res.StatusCode, Reason: res.Reason}
		}
		if dctx.Err() != nil {
			c.finish(EndCancelled, 0)
			if ctx.Err() != nil {
				return nil, fmt.Errorf("phone: call cancelled: %w", ctx.Err())
			}
			return nil, fmt.Errorf("phone: call cancelled: %w", ErrCallEnded)
		}
		c.finish(EndFailed, 0)
		return nil, fmt.Errorf("phone: INVITE: %w", err)
	}
	c.mu.Lock()
	c.cancelDial = nil
	c.mu.Unlock()
	actx, acancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer acancel()
	n, nerr := neg.ParseAnswer(cs.InviteResponse.Body())
	if nerr == nil {
		nerr = sess.Start(n)
	}
	ack := sipmsg.NewRequest(sipmsg.ACK, c.remoteTarget())
	ack.Laddr = p.laddr()
	if err := cs.WriteAck(actx, ack); err != nil {
		c.finish(EndFailed, 0)
		return nil, fmt.Errorf("phone: ACK: %w", err)
	}
	if nerr != nil {
		_ = c.bye(actx)
		c.finish(EndFailed, 0)
		return nil, fmt.Errorf("phone: answer SDP: %w", nerr)
	}
	c.markAnswered()
	return c, nil
}

func dialogResponse(err error) *sipmsg.Response {
	var pe *sipgo.ErrDialogResponse
	if errors.As(err, &pe) && pe.Res != nil {
		return pe.Res
	}
	var ve sipgo.ErrDialogResponse
	if errors.As(err, &ve) && ve.Res != nil {
		return ve.Res
	}
	return nil
}

func (p *Phone) laddr() sipmsg.Addr {
	return sipmsg.Addr{IP: net.IP(p.ip.AsSlice()), Port: int(p.addr.Port())}
}

// remoteTarget is where in-dialog requests go: the far end's Contact.
func (c *Call) remoteTarget() sipmsg.Uri {
	var h *sipmsg.ContactHeader
	if c.cs != nil && c.cs.InviteResponse != nil {
		h = c.cs.InviteResponse.Contact()
		if h == nil {
			return c.cs.InviteRequest.Recipient
		}
	} else if c.ss != nil {
		h = c.ss.InviteRequest.Contact()
	}
	if h == nil {
		return sipmsg.Uri{}
	}
	u := h.Address
	u.Headers = nil
	return u
}

// onInvite handles a new inbound call (or a re-INVITE). It stays in sipgo's handler
// until the INVITE has its final response.
func (p *Phone) onInvite(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	if to := req.To(); to != nil {
		if _, ok := to.Params.Get("tag"); ok {
			p.onReinvite(req, tx)
			return
		}
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		respond(tx, req, 480, "Temporarily Unavailable")
		return
	}
	offer := req.Body()
	if len(offer) == 0 {
		respond(tx, req, 488, "Not Acceptable Here (offerless INVITE not supported)")
		return
	}
	ss, err := p.dua.ReadInvite(req, tx)
	if err != nil {
		respond(tx, req, 400, "Bad Request")
		return
	}
	port, err := p.ports.Allocate(p.ctx)
	if err != nil {
		_ = ss.Respond(503, "Service Unavailable", nil)
		return
	}
	sess, err := media.NewSession(port, p.clock, p.mediaOptions()...)
	if err != nil {
		port.Release()
		_ = ss.Respond(500, "Server Internal Error", nil)
		return
	}
	neg := media.NewNegotiator(p.sdpConfig(port.Number()))
	ans, n, err := neg.Answer(offer)
	if err != nil {
		_ = sess.Close()
		_ = ss.Respond(488, "Not Acceptable Here", nil)
		return
	}
	c := p.newCall(Inbound, req.CallID().Value(), sess, neg)
	c.ss, c.answerSDP, c.answerNeg = ss, ans, n
	if f := req.From(); f != nil {
		c.remote = f.Address.Addr()
	}
	if err := p.addCall(c); err != nil {
		_ = sess.Close()
		_ = ss.Respond(480, "Temporarily Unavailable", nil)
		return
	}
	_ = ss.Respond(180, "Ringing", nil)
	if p.o.autoAnswer {
		if err := c.Answer(p.ctx); err != nil {
			p.log.Warn("phone: auto-answer failed", "err", err)
			return
		}
		select {
		case p.incoming <- c:
		default:
			p.log.Warn("phone: answered call not delivered: nobody reads Incoming")
		}
		return
	}
	select {
	case p.incoming <- c:
	default:
		_ = c.Reject(486, "Busy Here")
		return
	}
	t := time.NewTimer(p.o.ringTimeout)
	defer t.Stop()
	select {
	case <-c.decided:
		return
	case <-ss.Context().Done():
		// The dialog also ends when our own Reject's response went out.
		if !c.rejecting.Load() {
			c.finish(EndCancelled, 487)
		}
	case <-t.C:
		_ = c.Reject(480, "Temporarily Unavailable")
	case <-p.ctx.Done():
		_ = c.Reject(480, "Temporarily Unavailable")
	}
	<-c.decided
}

// Answer answers an inbound call (200 OK with our SDP) and returns once the far end
// acknowledged it (or after 64*T1 without an ACK).
func (c *Call) Answer(ctx context.Context) error {
	if c.dir != Inbound {
		return ErrWrongDirection
	}
	c.sig.Lock()
	defer c.sig.Unlock()
	if c.isAnswered() {
		return nil
	}
	if c.ended() {
		return ErrCallEnded
	}
	select {
	case <-c.decided:
		return ErrCallEnded
	default:
	}
	if err := c.sess.Start(c.answerNeg); err != nil {
		c.decide()
		_ = c.ss.Respond(500, "Server Internal Error", nil)
		c.finish(EndFailed, 500)
		return fmt.Errorf("phone: media: %w", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- c.ss.RespondSDP(c.answerSDP) }()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		err = ctx.Err()
	case <-c.done:
		err = ErrCallEnded
	}
	c.decide()
	if err != nil {
		c.finish(EndFailed, 0)
		return fmt.Errorf("phone: answer: %w", err)
	}
	c.markAnswered()
	return nil
}

// Reject answers an inbound call that is still ringing with a final error response
// (e.g. 486 Busy Here, 603 Decline).
func (c *Call) Reject(code int, reason string) error {
	if c.dir != Inbound {
		return ErrWrongDirection
	}
	if code < 300 || code > 699 {
		return fmt.Errorf("phone: reject code %d is not a final error response", code)
	}
	c.sig.Lock()
	defer c.sig.Unlock()
	return c.rejectLocked(code, reason, EndRejected)
}

func (c *Call) rejectLocked(code int, reason string, cause EndCause) error {
	if c.isAnswered() {
		return errors.New("phone: call already answered")
	}
	if c.ended() {
		return ErrCallEnded
	}
	c.rejecting.Store(true)
	errc := make(chan error, 1)
	go func() { errc <- c.ss.Respond(code, reason, nil) }()
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	var err error
	select {
	case err = <-errc:
	case <-t.C:
	}
	c.decide()
	c.finish(cause, code)
	return err
}

// onReinvite answers a re-INVITE from the far end (hold, resume, refresh).
func (p *Phone) onReinvite(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	c := p.callByID(req)
	if c == nil || c.ended() || !c.confirmed() {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	body := req.Body()
	if len(body) == 0 {
		respond(tx, req, 488, "Not Acceptable Here (offerless re-INVITE not supported)")
		return
	}
	ans, n, err := c.neg.Answer(body)
	if err != nil {
		respond(tx, req, 488, "Not Acceptable Here")
		return
	}
	if err := c.sess.Update(n); err != nil {
		respond(tx, req, 500, "Server Internal Error")
		return
	}
	res := sipmsg.NewSDPResponseFromRequest(req, ans)
	contact := p.dua.ContactHDR
	res.AppendHeader(&contact)
	if err := tx.Respond(res); err != nil {
		p.log.Warn("phone: re-INVITE answer not sent", "err", err)
		return
	}
	c.mu.Lock()
	changed := c.remoteHold != n.OnHold
	c.remoteHold = n.OnHold
	c.mu.Unlock()
	if changed {
		if n.OnHold {
			c.emit(Event{Type: EventRemoteHold})
		} else {
			c.emit(Event{Type: EventRemoteResume})
		}
	}
}

func (p *Phone) onAck(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	c := p.callByID(req)
	if c == nil || c.ss == nil {
		return
	}
	// An ACK for a re-INVITE's 200 has a later CSeq: ReadAck refuses it, harmlessly.
	_ = c.ss.ReadAck(req, tx)
}

func (p *Phone) onBye(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	c := p.callByID(req)
	if c == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	if c.dir == Outbound && !c.isAnswered() {
		// No dialog of ours yet (a BYE cannot precede the 200 we are waiting for).
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	var err error
	switch {
	case c.cs != nil:
		err = c.cs.ReadBye(req, tx)
	case c.ss != nil:
		err = c.ss.ReadBye(req, tx)
	default:
		respond(tx, req, 200, "OK")
	}
	if err != nil {
		respond(tx, req, 500, "Server Internal Error")
	}
	c.finish(EndRemoteHangup, 0)
}

func (p *Phone) onInfo(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	c := p.callByID(req)
	if c == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = strings.ToLower(h.Value())
	}
	body := strings.TrimSpace(string(req.Body()))
	var digit string
	switch {
	case strings.HasPrefix(ct, "application/dtmf-relay"):
		for _, line := range strings.Split(body, "\n") {
			k, v, ok := strings.Cut(line, "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "signal") {
				digit = strings.TrimSpace(v)
			}
		}
	case strings.HasPrefix(ct, "application/dtmf"):
		digit = body
	}
	if len(digit) == 1 && media.ValidDTMF(rune(digit[0])) {
		_ = c.sess.InjectDTMF(rune(digit[0]))
	}
	respond(tx, req, 200, "OK")
}

// Hold puts the far end on hold: a re-INVITE with a=sendonly. We keep receiving
// nothing until Resume (the far end answers recvonly).
func (c *Call) Hold(ctx context.Context) error { return c.reoffer(ctx, media.SendOnly) }

// Resume takes the far end off hold: a re-INVITE with a=sendrecv.
func (c *Call) Resume(ctx context.Context) error { return c.reoffer(ctx, media.SendRecv) }

func (c *Call) reoffer(ctx context.Context, d media.Direction) error {
	c.sig.Lock()
	defer c.sig.Unlock()
	if c.ended() {
		return ErrCallEnded
	}
	if !c.isAnswered() {
		return errors.New("phone: call not answered yet")
	}
	c.neg.SetDirection(d)
	offer, err := c.neg.Offer()
	if err != nil {
		return fmt.Errorf("phone: re-offer: %w", err)
	}
	target := c.remoteTarget()
	req := sipmsg.NewRequest(sipmsg.INVITE, target)
	req.SetBody(offer)
	req.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
	req.Laddr = c.p.laddr()
	var res *sipmsg.Response
	if c.cs != nil {
		res, err = c.cs.Do(ctx, req)
	} else {
		res, err = c.ss.Do(ctx, req)
	}
	if err != nil {
		return c.mapErr(fmt.Errorf("phone: re-INVITE: %w", err))
	}
	if !res.IsSuccess() {
		return &StatusError{Method: "INVITE", Code: res.StatusCode, Reason: res.Reason}
	}
	ack := sipmsg.NewRequest(sipmsg.ACK, target)
	ack.Laddr = c.p.laddr()
	if c.cs != nil {
		err = c.cs.WriteRequest(ack)
	} else {
		err = c.ss.WriteRequest(ack)
	}
	if err != nil {
		return fmt.Errorf("phone: ACK: %w", err)
	}
	n, err := c.neg.ParseAnswer(res.Body())
	if err != nil {
		return fmt.Errorf("phone: re-INVITE answer: %w", err)
	}
	if err := c.sess.Update(n); err != nil {
		return c.mapErr(err)
	}
	return nil
}

// Hangup ends the call: BYE on an answered call, 603 Decline on one still ringing
// here, CANCEL on one we are still placing. Hanging up an ended call is a no-op.
func (c *Call) Hangup(ctx context.Context) error {
	c.mu.Lock()
	cancel := c.cancelDial
	c.mu.Unlock()
	if cancel != nil && !c.isAnswered() {
		cancel() // Call's WaitAnswer sends CANCEL and ends the call
		return nil
	}
	c.sig.Lock()
	defer c.sig.Unlock()
	if c.ended() {
		return nil
	}
	if !c.isAnswered() {
		if c.dir == Inbound {
			return c.rejectLocked(603, "Decline", EndLocalHangup)
		}
		return nil
	}
	err := c.bye(ctx)
	c.finish(EndLocalHangup, 0)
	if err != nil && !c.endedByRemote() {
		return fmt.Errorf("phone: BYE: %w", err)
	}
	return nil
}

func (c *Call) endedByRemote() bool { return c.EndReason().Cause == EndRemoteHangup }

func (c *Call) bye(ctx context.Context) error {
	bye := sipmsg.NewRequest(sipmsg.BYE, c.remoteTarget())
	bye.Laddr = c.p.laddr()
	if c.cs != nil {
		return c.cs.WriteBye(ctx, bye)
	}
	return c.ss.WriteBye(ctx, bye)
}

// Play sends audio into the call on the phone's playout clock and blocks until it has
// played, ctx is done, a newer Play replaces it, or the call ends.
func (c *Call) Play(ctx context.Context, o PlayOptions) error {
	_, err := c.sess.Play(ctx, media.PlayOptions{Prompts: o.Audio, Loop: o.Loop})
	return c.mapErr(err)
}

// SendDTMF sends digits (0-9 * # A-D; ',' pauses 500 ms) as RFC 4733 events and
// blocks until they are sent.
func (c *Call) SendDTMF(ctx context.Context, digits string) error {
	return c.mapErr(c.sess.SendDTMF(ctx, digits))
}
