package sip

import (
	"context"
	"net/netip"
	"strings"

	sipmsg "github.com/emiago/sipgo/sip"
)

// Handler is the policy that receives inbound calls; the binary supplies it
// (the call package's glue). HandleCall runs for the call's lifetime: ctx is
// cancelled when the leg ends, and when HandleCall returns the leg is hung
// up (BYE, or a final response if it was never answered) and cleaned up. A
// panic in HandleCall fails the call (500 or BYE), never the process.
type Handler interface {
	HandleCall(ctx context.Context, leg *Leg)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, leg *Leg)

// HandleCall implements Handler.
func (f HandlerFunc) HandleCall(ctx context.Context, leg *Leg) { f(ctx, leg) }

// SourceKind says who sent an inbound call.
type SourceKind int

// Source kinds.
const (
	SourceTrunk SourceKind = iota + 1 // allowed by a trunk's source prefixes
	SourceUser                        // a registered user that passed digest auth
	SourceLocal                       // an outbound leg (Dial)
)

func (k SourceKind) String() string {
	switch k {
	case SourceTrunk:
		return "trunk"
	case SourceUser:
		return "user"
	case SourceLocal:
		return "local"
	}
	return "unknown"
}

// Source describes where a leg's INVITE came from. Handlers branch on it:
// trunk calls go to the IVR, user calls (agents dialling feature codes or
// each other) elsewhere.
type Source struct {
	Kind      SourceKind
	Trunk     string // trunk name (SourceTrunk, or the Dial trunk)
	User      string // authenticated user (SourceUser) or dialled user
	Addr      netip.AddrPort
	Transport string
}

// authorizeInvite applies the inbound policy: a trunk by source prefix
// (plus digest when the trunk has InboundUser), else a registered user by
// digest (401 challenge first). Everything else is 403, the same response
// whatever the reason.
func (s *Server) authorizeInvite(ctx context.Context, rw *responder) (Source, *Rejection) {
	req := rw.req
	src := Source{Transport: req.Transport()}
	if ap, err := netip.ParseAddrPort(req.Source()); err == nil {
		src.Addr = unmapAddrPort(ap)
	}
	// A request whose From names one of our users (an agent's softphone) must prove it
	// with digest even when it comes from a trunk's network: a PBX or trunk on the same
	// LAN could otherwise impersonate an agent dialing feature codes.
	if s.creds != nil && s.isUser(ctx, req) {
		user, rej := s.digestCheck(ctx, rw)
		if rej != nil {
			return src, rej
		}
		src.Kind, src.User = SourceUser, user
		return src, nil
	}
	for _, t := range s.cfg.Trunks {
		if !trunkAllows(t, src.Addr.Addr()) {
			continue
		}
		src.Kind, src.Trunk = SourceTrunk, t.Name
		if t.InboundUser == "" {
			return src, nil
		}
		user, rej := s.digestCheck(ctx, rw)
		if rej != nil {
			return src, rej
		}
		if user != t.InboundUser {
			s.metrics.authFailure("forbidden")
			return src, forbidden()
		}
		return src, nil
	}
	if s.creds == nil {
		s.metrics.authFailure("forbidden")
		return src, forbidden()
	}
	user, rej := s.digestCheck(ctx, rw)
	if rej != nil {
		return src, rej
	}
	src.Kind, src.User = SourceUser, user
	return src, nil
}

// isUser reports whether the From user is one of our credentialed users.
func (s *Server) isUser(ctx context.Context, req *sipmsg.Request) bool {
	from := req.From()
	if from == nil || from.Address.User == "" {
		return false
	}
	_, ok := s.creds.LookupHA1(ctx, from.Address.User, s.auth.Realm(), MD5)
	return ok
}

func forbidden() *Rejection { return reject(403, "Forbidden") }

func (s *Server) md5Only(userAgent string) bool {
	ua := strings.ToLower(userAgent)
	for _, p := range s.cfg.MD5OnlyUserAgents {
		if p != "" && strings.HasPrefix(ua, strings.ToLower(p)) {
			return true
		}
	}
	return false
}

func trunkAllows(t Trunk, ip netip.Addr) bool {
	for _, p := range t.Sources {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// digestCheck verifies the request's Authorization header. Missing
// credentials or a stale nonce get a 401 challenge; anything invalid gets
// the uniform 403 (INVITE) — REGISTER uses challengeOrFail instead.
func (s *Server) digestCheck(ctx context.Context, rw *responder) (string, *Rejection) {
	user, res := s.verify(ctx, rw.req)
	switch res {
	case AuthOK:
		return user, nil
	case AuthMissing:
		s.metrics.authFailure("missing")
		return "", s.challenge(rw.req, false)
	case AuthStale:
		s.metrics.authFailure("stale")
		return "", s.challenge(rw.req, true)
	default:
		s.metrics.authFailure("invalid")
		return "", forbidden()
	}
}

func (s *Server) verify(ctx context.Context, req *sipmsg.Request) (string, AuthResult) {
	h := req.GetHeader("Authorization")
	if h == nil {
		return "", AuthMissing
	}
	return s.auth.Verify(ctx, string(req.Method), req.Recipient, h.Value())
}

// challenge builds the 401 with one WWW-Authenticate per algorithm
// (RFC 8760: SHA-256 first; MD5 only for the MD5OnlyUserAgents). It
// depends on nothing but the clock and the User-Agent, so known and unknown
// users get identical responses.
func (s *Server) challenge(req *sipmsg.Request, stale bool) *Rejection {
	vals := s.auth.Challenges(stale)
	if ua := req.GetHeader("User-Agent"); ua != nil && s.md5Only(ua.Value()) {
		vals = s.auth.ChallengesFor(stale, []Algorithm{MD5})
	}
	hdrs := make([]sipmsg.Header, 0, len(vals))
	for _, v := range vals {
		hdrs = append(hdrs, sipmsg.NewHeader("WWW-Authenticate", v))
	}
	return &Rejection{Code: 401, Reason: "Unauthorized", Headers: hdrs}
}

// onInvite handles a dialog-creating INVITE.
func (s *Server) onInvite(rw *responder) {
	req := rw.req
	if s.Draining() {
		_ = rw.reply(503, "Service Unavailable", retryAfter(s.cfg.DrainRetryAfter))
		return
	}
	if s.handler == nil {
		_ = rw.reply(480, "Temporarily Unavailable")
		return
	}
	ctx := s.baseCtx
	src, rej := s.authorizeInvite(ctx, rw)
	if rej != nil {
		_ = rw.rejectWith(rej)
		return
	}
	st, rej := s.sessionTimerForInvite(req)
	if rej != nil {
		_ = rw.rejectWith(rej)
		return
	}
	leg, err := newInboundLeg(s, rw, src, st)
	if err != nil {
		_ = rw.reply(500, "Server Internal Error")
		return
	}
	if !s.addLeg(leg) {
		_ = rw.reply(503, "Service Unavailable")
		return
	}
	s.wg.Add(2)
	go leg.run()
	go s.runHandler(leg)
	// Stay in sipgo's handler until the INVITE has its final response:
	// returning earlier would terminate the server transaction.
	select {
	case <-leg.inviteFinal:
	case <-leg.done:
	}
}

func (s *Server) runHandler(l *Leg) {
	defer s.wg.Done()
	defer func() {
		if p := recover(); p != nil {
			s.metrics.panics.Inc()
			l.log.Error("call handler panic", "panic", redactString(toString(p)))
			l.fail("handler panic")
		}
		ctx, cancel := context.WithTimeout(context.Background(), hangupTimeout)
		defer cancel()
		_ = l.Hangup(ctx)
	}()
	s.handler.HandleCall(l.ctx, l)
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case error:
		return x.Error()
	}
	return "panic"
}

// trunkByName finds a configured trunk.
func (s *Server) trunkByName(name string) (Trunk, bool) {
	for _, t := range s.cfg.Trunks {
		if strings.EqualFold(t.Name, name) {
			return t, true
		}
	}
	return Trunk{}, false
}
