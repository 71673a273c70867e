package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
	"github.com/icholy/digest"
)

// ErrorKind classifies a failed Dial.
type ErrorKind int

// Dial failure kinds.
const (
	KindBusy        ErrorKind = iota + 1 // 486, 600
	KindNoAnswer                         // ring timeout, 480, 408, 487 not caused by us
	KindRejected                         // 403, 404, 488, 603, 3xx, other 4xx/6xx, failed auth
	KindUnreachable                      // transport failure, 5xx, user not registered
	KindTimeout                          // no response at all to the INVITE
	KindCancelled                        // the caller's ctx was cancelled
)

func (k ErrorKind) String() string {
	switch k {
	case KindBusy:
		return "busy"
	case KindNoAnswer:
		return "no_answer"
	case KindRejected:
		return "rejected"
	case KindUnreachable:
		return "unreachable"
	case KindTimeout:
		return "timeout"
	case KindCancelled:
		return "cancelled"
	}
	return "unknown"
}

// Classified is implemented by Dial's errors.
type Classified interface {
	error
	Kind() ErrorKind
	// SIPStatus is the final response status, 0 when none was received.
	SIPStatus() int
	// Retryable reports whether an immediate retry (e.g. on another trunk)
	// cannot create a duplicate call: nothing left this host, or the far end
	// refused definitively with 500/502/503. Once an INVITE left, ambiguous
	// failures (timeouts, ring timeouts, cancels) are never retryable now;
	// they go through the campaign's retry policy.
	Retryable() bool
	// MetricLabel is a bounded label value.
	MetricLabel() string
}

// Sentinel errors wrapped by DialError.
var (
	ErrNotRegistered = errors.New("sip: user has no registered contact")
	ErrUnknownTrunk  = errors.New("sip: unknown trunk")
	ErrAuthFailed    = errors.New("sip: trunk rejected our credentials")
	ErrBadHeader     = errors.New("sip: header not allowed in DialOptions")
)

// DialError is Dial's Classified error.
type DialError struct {
	kind        ErrorKind
	status      int
	reason      string
	afterInvite bool
	label       string
	err         error
}

func (e *DialError) Error() string {
	s := "sip: dial " + e.kind.String()
	if e.status != 0 {
		s += fmt.Sprintf(" (%d %s)", e.status, e.reason)
	}
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

// Unwrap returns the underlying cause.
func (e *DialError) Unwrap() error { return e.err }

// Kind implements Classified.
func (e *DialError) Kind() ErrorKind { return e.kind }

// SIPStatus implements Classified.
func (e *DialError) SIPStatus() int { return e.status }

// Retryable implements Classified.
func (e *DialError) Retryable() bool {
	if !e.afterInvite {
		return e.kind == KindUnreachable
	}
	switch e.status {
	case 500, 502, 503:
		return true
	}
	return false
}

// MetricLabel implements Classified.
func (e *DialError) MetricLabel() string {
	if e.label != "" {
		return e.label
	}
	return e.kind.String()
}

// AfterInvite reports whether an INVITE had left when the dial failed.
func (e *DialError) AfterInvite() bool { return e.afterInvite }

func statusError(res *sipmsg.Response) *DialError {
	e := &DialError{status: res.StatusCode, reason: SanitizeHeaderValue(res.Reason), afterInvite: true}
	switch c := res.StatusCode; {
	case c == 486 || c == 600:
		e.kind = KindBusy
	case c == 480 || c == 408 || c == 487:
		e.kind = KindNoAnswer
	case c == 401 || c == 407:
		e.kind, e.label, e.err = KindRejected, "auth_failed", ErrAuthFailed
	case c >= 500 && c < 600:
		e.kind = KindUnreachable
	default:
		e.kind = KindRejected
	}
	return e
}

// HeaderField is an extra header for DialOptions.
type HeaderField struct{ Name, Value string }

// DialOptions are the parameters of one outbound call.
type DialOptions struct {
	// Target is the SIP URI to call. With Trunk it may be just the user
	// part (a number); the trunk's address is then the host.
	Target string
	// User is a registered user to call instead of Target: every current
	// binding is rung in parallel (see Dial).
	User string
	// Trunk names a configured trunk: next hop, transport, credentials for
	// 401/407 and the local address the trunk expects.
	Trunk string
	// FromUser/FromDisplay form our From header (sanitized).
	FromUser    string
	FromDisplay string
	// SDP is our offer.
	SDP []byte
	// Headers are extra headers (sanitized). Dialog and framing headers
	// (Via, From, To, Call-ID, CSeq, Contact, Route, Content-*, ...) are
	// refused with ErrBadHeader.
	Headers []HeaderField
	// RingTimeout bounds the whole attempt from INVITE to answer (default
	// 60 s); then careline cancels and the error is KindNoAnswer.
	RingTimeout time.Duration
	// NoResponseTimeout bounds the wait for any response (default 64*T1);
	// then the error is KindTimeout.
	NoResponseTimeout time.Duration
	// SessionExpires requests an RFC 4028 session timer (0: none; a 422 is
	// retried once with the peer's Min-SE).
	SessionExpires time.Duration
	// OnProgress, when set, sees 180/183 responses (SDP for early media).
	// Provisional responses can be lost or arrive after the 200: never rely
	// on seeing one.
	OnProgress func(code int, sdp []byte)
}

var forbiddenDialHeaders = map[string]bool{
	"via": true, "from": true, "to": true, "call-id": true, "cseq": true, "contact": true,
	"route": true, "record-route": true, "content-length": true, "content-type": true,
	"max-forwards": true, "authorization": true, "proxy-authorization": true,
	"f": true, "t": true, "i": true, "v": true, "m": true, "l": true, "c": true,
}

type dialTarget struct {
	ruri      sipmsg.Uri
	to        sipmsg.Uri
	dest      string
	transport string
	laddr     *sipmsg.Addr
	trunk     *Trunk
	src       Source
}

var errAnsweredElsewhere = errors.New("sip: answered elsewhere")

// Dial places an outbound call and returns the answered leg (its Offer is
// the remote answer SDP). Errors implement Classified. Dialling a
// registered user rings all of its bindings in parallel (each with its own
// Call-ID); the first to answer wins and the others are cancelled with
// "Reason: SIP;cause=200;text=\"Call completed elsewhere\"", so desk phone
// and softphone both ring and neither logs a missed call. A 200 that
// arrives after careline cancelled is ACKed and BYEd at once.
func (s *Server) Dial(ctx context.Context, o DialOptions) (leg *Leg, err error) {
	defer func() {
		if leg != nil {
			s.metrics.dials.WithLabelValues("answered").Inc()
			return
		}
		var de *DialError
		if errors.As(err, &de) {
			s.metrics.dials.WithLabelValues(de.MetricLabel()).Inc()
		}
	}()
	select {
	case <-s.ready:
	default:
		return nil, &DialError{kind: KindUnreachable, label: "not_running", err: ErrServerClosed}
	}
	if s.Draining() {
		return nil, &DialError{kind: KindUnreachable, label: "draining", err: ErrServerClosed}
	}
	if o.RingTimeout <= 0 {
		o.RingTimeout = 60 * time.Second
	}
	if o.NoResponseTimeout <= 0 {
		o.NoResponseTimeout = 64 * sipmsg.T1
	}
	for _, h := range o.Headers {
		if !isToken(h.Name) || forbiddenDialHeaders[strings.ToLower(h.Name)] {
			return nil, &DialError{kind: KindRejected, label: "bad_request", err: fmt.Errorf("%w: %q", ErrBadHeader, SanitizeHeaderValue(h.Name))}
		}
	}
	targets, err := s.dialTargets(ctx, o)
	if err != nil {
		return nil, err
	}
	if len(targets) == 1 {
		return s.dialOne(ctx, o, targets[0])
	}
	return s.dialFork(ctx, o, targets)
}

func (s *Server) dialTargets(ctx context.Context, o DialOptions) ([]dialTarget, error) {
	udpLaddr, hasUDP := s.udpLaddr()
	if o.User != "" {
		bs, err := s.bindings.List(ctx, o.User)
		if err != nil {
			return nil, &DialError{kind: KindUnreachable, err: fmt.Errorf("sip: binding lookup: %w", err)}
		}
		if len(bs) == 0 {
			return nil, &DialError{kind: KindUnreachable, label: "not_registered", err: ErrNotRegistered}
		}
		var out []dialTarget
		for _, b := range bs {
			var u sipmsg.Uri
			if err := sipmsg.ParseUri(b.Contact, &u); err != nil {
				continue
			}
			u.Headers = nil // a phone must not inject headers into our requests
			t := dialTarget{
				ruri:      u,
				to:        sipmsg.Uri{Scheme: "sip", User: SanitizeURIUser(o.User), Host: s.cfg.Realm},
				dest:      b.Source,
				transport: strings.ToUpper(b.Transport),
				src:       Source{Kind: SourceLocal, User: o.User, Transport: b.Transport},
			}
			if t.transport == "" {
				t.transport = "UDP"
			}
			if t.transport == "UDP" && hasUDP {
				a := udpLaddr
				t.laddr = &a
			}
			out = append(out, t)
		}
		if len(out) == 0 {
			return nil, &DialError{kind: KindUnreachable, label: "not_registered", err: ErrNotRegistered}
		}
		return out, nil
	}

	t := dialTarget{transport: "UDP", src: Source{Kind: SourceLocal}}
	if o.Trunk != "" {
		tr, ok := s.trunkByName(o.Trunk)
		if !ok {
			return nil, &DialError{kind: KindRejected, label: "bad_request", err: ErrUnknownTrunk}
		}
		t.trunk = &tr
		t.src.Trunk = tr.Name
		if tr.Transport != "" {
			t.transport = strings.ToUpper(tr.Transport)
		}
		t.dest = tr.Addr
	}
	target := strings.TrimSpace(o.Target)
	if target == "" {
		return nil, &DialError{kind: KindRejected, label: "bad_request", err: errors.New("sip: no dial target")}
	}
	if !strings.Contains(target, ":") || strings.HasPrefix(target, "+") {
		if t.trunk == nil {
			return nil, &DialError{kind: KindRejected, label: "bad_request", err: errors.New("sip: a bare number needs a trunk")}
		}
		host, port := t.trunk.Addr, 0
		if h, p, err := net.SplitHostPort(t.trunk.Addr); err == nil {
			host = h
			port, _ = strconv.Atoi(p)
		}
		t.ruri = sipmsg.Uri{Scheme: "sip", User: SanitizeURIUser(target), Host: host, Port: port}
	} else if err := sipmsg.ParseUri(target, &t.ruri); err != nil || (t.ruri.Scheme != "sip" && t.ruri.Scheme != "sips") {
		return nil, &DialError{kind: KindRejected, label: "bad_request", err: errors.New("sip: dial target is not a SIP URI")}
	}
	t.ruri.Headers = nil
	t.to = sipmsg.Uri{Scheme: "sip", User: t.ruri.User, Host: t.ruri.Host}
	if v, ok := t.ruri.UriParams.Get("transport"); ok && t.trunk == nil {
		t.transport = strings.ToUpper(v)
	}
	if t.transport == "UDP" {
		switch {
		case t.trunk != nil && t.trunk.LocalAddr != "":
			h, p, err := sipmsg.ParseAddr(t.trunk.LocalAddr)
			if err != nil {
				return nil, &DialError{kind: KindRejected, label: "bad_request", err: fmt.Errorf("sip: trunk local address: %w", err)}
			}
			t.laddr = &sipmsg.Addr{IP: net.ParseIP(h), Port: p}
		case hasUDP:
			a := udpLaddr
			t.laddr = &a
		}
	}
	return []dialTarget{t}, nil
}

func (s *Server) dialFork(ctx context.Context, o DialOptions, targets []dialTarget) (*Leg, error) {
	fctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	type result struct {
		leg *Leg
		err error
	}
	results := make(chan result, len(targets))
	for _, t := range targets {
		go func() {
			l, err := s.dialOne(fctx, o, t)
			results <- result{l, err}
		}()
	}
	var winner *Leg
	var errs []error
	for range targets {
		r := <-results
		switch {
		case r.leg != nil && winner == nil:
			winner = r.leg
			cancel(errAnsweredElsewhere)
		case r.leg != nil:
			// Two branches answered at once: keep the first.
			go func() {
				hctx, hcancel := context.WithTimeout(context.Background(), hangupTimeout)
				defer hcancel()
				_ = r.leg.Hangup(hctx)
			}()
		default:
			errs = append(errs, r.err)
		}
	}
	if winner != nil {
		return winner, nil
	}
	return nil, bestForkError(ctx, errs)
}

// bestForkError picks the response a forking proxy would (RFC 3261 §16.7):
// a 6xx, else busy, else the first definite failure.
func bestForkError(ctx context.Context, errs []error) error {
	if ctx.Err() != nil {
		return &DialError{kind: KindCancelled, afterInvite: true, err: ctx.Err()}
	}
	var best *DialError
	rank := func(e *DialError) int {
		switch {
		case e.status >= 600:
			return 0
		case e.kind == KindBusy:
			return 1
		case e.kind == KindRejected:
			return 2
		case e.kind == KindNoAnswer:
			return 3
		}
		return 4
	}
	for _, err := range errs {
		var de *DialError
		if errors.As(err, &de) && (best == nil || rank(de) < rank(best)) {
			best = de
		}
	}
	if best == nil && len(errs) > 0 {
		return errs[0]
	}
	return best
}

// dialOne runs INVITE transactions toward one target: digest retries on
// 401/407 (at most two), one 422 retry, then a leg or a classified error.
func (s *Server) dialOne(ctx context.Context, o DialOptions, t dialTarget) (*Leg, error) {
	inv, err := s.buildInvite(o, t)
	if err != nil {
		return nil, &DialError{kind: KindRejected, label: "bad_request", err: err}
	}
	deadline := time.Now().Add(o.RingTimeout)
	authTries, seTries := 0, 0
	for {
		leg, res, err := s.inviteTx(ctx, o, t, inv, deadline)
		if leg != nil || err != nil {
			return leg, err
		}
		switch {
		case (res.StatusCode == 401 || res.StatusCode == 407) && t.trunk != nil && t.trunk.Username != "" && authTries < 2:
			authTries++
			next, aerr := withDigest(inv, res, t.trunk.Username, t.trunk.Password)
			if aerr != nil {
				e := statusError(res)
				e.err = fmt.Errorf("%w: %w", ErrAuthFailed, aerr)
				return nil, e
			}
			inv = next
			continue
		case res.StatusCode == 422 && o.SessionExpires > 0 && seTries == 0:
			seTries++
			minSE, ok := parseMinSE(res)
			if !ok {
				return nil, statusError(res)
			}
			inv = nextInvite(inv)
			inv.RemoveHeader("Session-Expires")
			inv.AppendHeader(sipmsg.NewHeader("Session-Expires", seconds(max(minSE, o.SessionExpires))))
			continue
		}
		return nil, statusError(res)
	}
}

// nextInvite clones inv for a new transaction: CSeq+1 and a new branch.
func nextInvite(inv *sipmsg.Request) *sipmsg.Request {
	next := inv.Clone()
	next.CSeq().SeqNo++
	next.Via().Params.Add("branch", sipmsg.GenerateBranch())
	return next
}

// withDigest answers a 401/407 with the first challenge we support (RFC
// 8760: the UAS lists its preferred algorithm first).
func withDigest(inv *sipmsg.Request, res *sipmsg.Response, user, pass string) (*sipmsg.Request, error) {
	chName, authName := "WWW-Authenticate", "Authorization"
	if res.StatusCode == 407 {
		chName, authName = "Proxy-Authenticate", "Proxy-Authorization"
	}
	var chal *digest.Challenge
	for _, h := range res.GetHeaders(chName) {
		c, err := digest.ParseChallenge(h.Value())
		if err != nil {
			continue
		}
		c.Algorithm = strings.ToUpper(c.Algorithm)
		if digest.CanDigest(c) && (c.Algorithm == "" || c.Algorithm == "MD5" || c.Algorithm == "SHA-256") {
			chal = c
			break
		}
	}
	if chal == nil {
		return nil, errors.New("no supported digest challenge")
	}
	cred, err := digest.Digest(chal, digest.Options{
		Method: string(inv.Method), URI: inv.Recipient.String(), Username: user, Password: pass, Count: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("digest: %w", err)
	}
	next := nextInvite(inv)
	next.RemoveHeader("Authorization")
	next.RemoveHeader("Proxy-Authorization")
	next.AppendHeader(sipmsg.NewHeader(authName, cred.String()))
	return next, nil
}

func (s *Server) buildInvite(o DialOptions, t dialTarget) (*sipmsg.Request, error) {
	req := sipmsg.NewRequest(sipmsg.INVITE, t.ruri)
	via := &sipmsg.ViaHeader{
		ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: t.transport,
		Host: s.cfg.PublicHost, Port: s.listenPort(t.transport), Params: sipmsg.NewParams(),
	}
	via.Params.Add("branch", sipmsg.GenerateBranch())
	via.Params.Add("rport", "")
	req.AppendHeader(via)
	mf := sipmsg.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	fromHost := s.cfg.PublicHost
	if t.trunk != nil && t.trunk.FromHost != "" {
		fromHost = t.trunk.FromHost
	}
	fromUser := SanitizeURIUser(o.FromUser)
	from := &sipmsg.FromHeader{
		DisplayName: SanitizeDisplayName(o.FromDisplay),
		Address:     sipmsg.Uri{Scheme: "sip", User: fromUser, Host: fromHost},
		Params:      sipmsg.NewParams(),
	}
	from.Params.Add("tag", randomToken(8))
	req.AppendHeader(from)
	req.AppendHeader(&sipmsg.ToHeader{Address: t.to, Params: sipmsg.NewParams()})
	cid := sipmsg.CallIDHeader(uuid.NewString())
	req.AppendHeader(&cid)
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: 1, MethodName: sipmsg.INVITE})
	req.AppendHeader(&sipmsg.ContactHeader{Address: s.contactURI(fromUser, t.transport)})
	req.AppendHeader(sipmsg.NewHeader("Allow", allowValue))
	req.AppendHeader(sipmsg.NewHeader("Supported", supportedValue))
	req.AppendHeader(sipmsg.NewHeader("User-Agent", s.cfg.UserAgent))
	if o.SessionExpires > 0 {
		req.AppendHeader(sipmsg.NewHeader("Session-Expires", seconds(o.SessionExpires)))
	}
	for _, h := range o.Headers {
		req.AppendHeader(sipmsg.NewHeader(h.Name, SanitizeHeaderValue(h.Value)))
	}
	if len(o.SDP) > 0 {
		req.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(append([]byte(nil), o.SDP...))
	} else {
		req.SetBody(nil)
	}
	req.SetTransport(t.transport)
	if t.dest != "" {
		req.SetDestination(t.dest)
	}
	if t.laddr != nil {
		t.laddr.Copy(&req.Laddr)
	}
	return req, nil
}

// inviteTx runs one INVITE client transaction. It returns the answered leg,
// or the final non-2xx response, or a classified error.
func (s *Server) inviteTx(ctx context.Context, o DialOptions, t dialTarget, inv *sipmsg.Request, deadline time.Time) (*Leg, *sipmsg.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, &DialError{kind: KindCancelled, err: err}
	}
	req := inv.Clone() // the transaction layer mutates what it sends
	s.traceReq(req)
	tx, err := s.txl.Request(ctx, req)
	if err != nil {
		return nil, nil, &DialError{kind: KindUnreachable, err: err}
	}
	ring := time.NewTimer(time.Until(deadline))
	defer ring.Stop()
	noResp := time.NewTimer(o.NoResponseTimeout)
	defer noResp.Stop()
	got1xx := false
	abandon := func(kind ErrorKind, cause error) error {
		reason := ""
		if errors.Is(context.Cause(ctx), errAnsweredElsewhere) {
			reason = `SIP;cause=200;text="Call completed elsewhere"`
		}
		go s.abandonInvite(tx, req, t, got1xx, reason)
		return &DialError{kind: kind, afterInvite: true, err: cause}
	}
	for {
		select {
		case res := <-tx.Responses():
			if res.StatusCode < 200 {
				if !got1xx {
					got1xx = true
					noResp.Stop()
				}
				if res.StatusCode > 100 && o.OnProgress != nil {
					safeProgress(o.OnProgress, res.StatusCode, res.Body())
				}
				continue
			}
			if res.IsSuccess() {
				leg, err := s.establish(tx, req, res, t)
				return leg, nil, err
			}
			return nil, res, nil // the transaction ACKs non-2xx finals itself
		case <-tx.Done():
			err := tx.Err()
			if errors.Is(err, sipmsg.ErrTransactionTimeout) {
				return nil, nil, &DialError{kind: KindTimeout, afterInvite: true, err: err}
			}
			return nil, nil, &DialError{kind: KindUnreachable, afterInvite: true, err: err}
		case <-ctx.Done():
			return nil, nil, abandon(KindCancelled, ctx.Err())
		case <-ring.C:
			return nil, nil, abandon(KindNoAnswer, errors.New("sip: ring timeout"))
		case <-noResp.C:
			return nil, nil, abandon(KindTimeout, errors.New("sip: no response to INVITE"))
		}
	}
}

func safeProgress(f func(int, []byte), code int, body []byte) {
	defer func() { _ = recover() }()
	f(code, append([]byte(nil), body...))
}

// establish turns a 2xx into a running outbound leg: register, ACK, and
// re-ACK retransmitted 2xx (ACK+BYE a 2xx from another fork).
func (s *Server) establish(tx sipmsg.ClientTransaction, inv *sipmsg.Request, res *sipmsg.Response, t dialTarget) (*Leg, error) {
	leg, err := newOutboundLeg(s, inv, res, t)
	if err != nil {
		go s.ackAndBye(inv, res, t)
		return nil, &DialError{kind: KindRejected, status: res.StatusCode, afterInvite: true, label: "bad_answer", err: err}
	}
	if !s.addLeg(leg) {
		go s.ackAndBye(inv, res, t)
		return nil, &DialError{kind: KindUnreachable, afterInvite: true, label: "not_running", err: ErrServerClosed}
	}
	leg.resendAck()
	myTag, _ := res.To().Params.Get("tag")
	tx.OnRetransmission(func(r *sipmsg.Response) {
		if tag, _ := r.To().Params.Get("tag"); tag == myTag {
			leg.resendAck()
			return
		}
		go s.ackAndBye(inv, r, t)
	})
	s.wg.Add(1)
	go leg.run()
	return leg, nil
}

// abandonInvite follows an INVITE we gave up on: CANCEL once a provisional
// has been seen (RFC 3261 §9.1), and ACK+BYE a 2xx that races the CANCEL.
// It keeps reading responses so the transaction never blocks.
func (s *Server) abandonInvite(tx sipmsg.ClientTransaction, inv *sipmsg.Request, t dialTarget, got1xx bool, reason string) {
	defer tx.Terminate()
	cancelSent := false
	sendCancel := func() {
		if cancelSent {
			return
		}
		cancelSent = true
		go s.sendCancel(inv, reason)
	}
	if got1xx {
		sendCancel()
	}
	limit := time.NewTimer(64*sipmsg.T1 + 5*time.Second)
	defer limit.Stop()
	for {
		select {
		case res := <-tx.Responses():
			if res.StatusCode < 200 {
				sendCancel()
				continue
			}
			if res.IsSuccess() {
				s.ackAndBye(inv, res, t)
			}
			return
		case <-tx.Done():
			return
		case <-limit.C:
			return
		}
	}
}

func (s *Server) sendCancel(inv *sipmsg.Request, reason string) {
	c := sipmsg.NewRequest(sipmsg.CANCEL, *inv.Recipient.Clone())
	if v := inv.Via(); v != nil {
		c.AppendHeader(v.Clone())
	}
	mf := sipmsg.MaxForwardsHeader(70)
	c.AppendHeader(&mf)
	for _, h := range inv.Headers() {
		switch h.(type) {
		case *sipmsg.FromHeader, *sipmsg.ToHeader, *sipmsg.CallIDHeader, *sipmsg.RouteHeader:
			c.AppendHeader(sipmsg.HeaderClone(h))
		}
	}
	c.AppendHeader(&sipmsg.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sipmsg.CANCEL})
	if reason != "" {
		c.AppendHeader(sipmsg.NewHeader("Reason", reason))
	}
	c.SetBody(nil)
	c.SetTransport(inv.Transport())
	c.SetDestination(inv.Destination())
	c.Laddr = inv.Laddr
	ctx, cancel := context.WithTimeout(context.Background(), 64*sipmsg.T1)
	defer cancel()
	if _, err := s.doRequest(ctx, c); err != nil {
		s.log.Debug("CANCEL failed", "error", err)
	}
}

// ackAndBye confirms and immediately ends a dialog we no longer want (a
// 200 that arrived after our CANCEL, or a second fork's 200).
func (s *Server) ackAndBye(inv *sipmsg.Request, res *sipmsg.Response, t dialTarget) {
	l, err := newOutboundLeg(s, inv, res, t)
	if err != nil {
		return
	}
	defer l.cancel()
	l.resendAck()
	bye := l.newRequest(sipmsg.BYE)
	ctx, cancel := context.WithTimeout(context.Background(), 64*sipmsg.T1)
	defer cancel()
	if _, err := s.doRequest(ctx, bye); err != nil {
		s.log.Debug("BYE after cancelled INVITE failed", "error", err)
	}
}

func newOutboundLeg(s *Server, inv *sipmsg.Request, res *sipmsg.Response, t dialTarget) (*Leg, error) {
	from, to, cid, cseq := inv.From(), res.To(), inv.CallID(), inv.CSeq()
	if from == nil || to == nil || cid == nil || cseq == nil {
		return nil, errors.New("sip: 2xx lacks dialog headers")
	}
	localTag, _ := from.Params.Get("tag")
	remoteTag, ok := to.Params.Get("tag")
	if !ok || remoteTag == "" {
		return nil, errors.New("sip: 2xx without To tag")
	}
	l := newLeg(s, Outbound, t.src)
	l.callID = cid.Value()
	l.initial = inv
	l.initialRes = res
	l.offer = append([]byte(nil), res.Body()...)
	l.storeRemoteSDP(l.offer)
	l.storeLocalSDP(inv.Body())
	l.local = partyOf(from.DisplayName, from.Address)
	l.remote = partyOf(to.DisplayName, to.Address)
	target := inv.Recipient
	if c := res.Contact(); c != nil {
		target = c.Address
	}
	contact := s.contactURI(from.Address.User, inv.Transport())
	if c := inv.Contact(); c != nil {
		contact = c.Address
	}
	l.dlg = dialogState{
		callID:           l.callID,
		localTag:         localTag,
		remoteTag:        remoteTag,
		localURI:         *from.Address.Clone(),
		localName:        from.DisplayName,
		remoteURI:        *to.Address.Clone(),
		remoteName:       to.DisplayName,
		target:           *target.Clone(),
		routes:           recordRoutes(res, true),
		localCSeq:        cseq.SeqNo,
		inviteCSeq:       cseq.SeqNo,
		transport:        inv.Transport(),
		dest:             "",
		laddr:            t.laddr,
		contact:          contact,
		peerAllowsUpdate: allowsMethod(res, "UPDATE"),
	}
	if t.src.User != "" {
		l.dlg.dest = t.dest // a phone behind NAT: back through its binding
	}
	if se, ref, ok := parseSessionExpires(res); ok {
		l.st = sessionTimer{interval: se, refresher: ref, peerSupports: true}
		l.weRefresh = ref != "uas"
	}
	l.key = legKey(l.callID, localTag, remoteTag)
	l.setState(StateConfirmed)
	l.ackMu.Lock()
	l.ackTmpl = l.newRequest(sipmsg.ACK)
	l.ackTmpl.SetBody(nil)
	l.ackMu.Unlock()
	return l, nil
}

// doRequest sends req in a client transaction and returns its final
// response (provisionals skipped).
func (s *Server) doRequest(ctx context.Context, req *sipmsg.Request) (*sipmsg.Response, error) {
	s.traceReq(req)
	tx, err := s.txl.Request(ctx, req)
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.StatusCode < 200 {
				continue
			}
			return res, nil
		case <-tx.Done():
			if err := tx.Err(); err != nil {
				return nil, err
			}
			return nil, sipmsg.ErrTransactionTerminated
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
