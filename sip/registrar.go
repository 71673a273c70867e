package sip

import (
	"context"
	"strconv"
	"strings"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

// bindingCounter is implemented by stores that can count their bindings
// cheaply (the memory store); the registrations gauge uses it.
type bindingCounter interface {
	Count(ctx context.Context) (int, error)
}

// onRegister is the registrar (RFC 3261 §10.3) for agents' softphones.
func (s *Server) onRegister(rw *responder) {
	req := rw.req
	ctx, cancel := context.WithTimeout(s.baseCtx, 5*time.Second)
	defer cancel()
	to := req.To()
	if sc := to.Address.Scheme; sc != "sip" && sc != "sips" {
		_ = rw.reply(400, "Bad Request (address-of-record must be a SIP URI)")
		return
	}
	aor := to.Address.User
	if aor == "" {
		_ = rw.reply(400, "Bad Request (no user in To)")
		return
	}
	if s.creds == nil {
		_ = rw.reply(403, "Forbidden")
		return
	}
	user, res := s.verify(ctx, req)
	switch res {
	case AuthOK:
	case AuthStale:
		s.metrics.authFailure("stale")
		_ = rw.rejectWith(s.challenge(req, true))
		return
	case AuthMissing:
		s.metrics.authFailure("missing")
		_ = rw.rejectWith(s.challenge(req, false))
		return
	default:
		// Wrong password and unknown user look the same: a fresh challenge.
		s.metrics.authFailure("invalid")
		_ = rw.rejectWith(s.challenge(req, false))
		return
	}
	if user != aor {
		s.metrics.authFailure("forbidden")
		_ = rw.reply(403, "Forbidden")
		return
	}

	hdrExpires, hdrOK := parseExpiresHeader(req)
	var contacts []*sipmsg.ContactHeader
	for _, h := range req.GetHeaders("Contact") {
		if c, ok := h.(*sipmsg.ContactHeader); ok {
			contacts = append(contacts, c)
		}
	}
	for _, c := range contacts {
		if c.Address.Wildcard {
			if len(contacts) != 1 || !hdrOK || hdrExpires != 0 {
				_ = rw.reply(400, "Bad Request (Contact: * needs Expires: 0 alone)")
				return
			}
			if err := s.bindings.RemoveAll(ctx, aor); err != nil {
				_ = rw.reply(500, "Server Internal Error")
				return
			}
			s.updateRegistrationsGauge(ctx)
			_ = rw.reply(200, "OK")
			return
		}
	}

	type change struct {
		b   Binding
		ttl time.Duration
	}
	changes := make([]change, 0, len(contacts))
	now := s.now()
	for _, c := range contacts {
		if sc := c.Address.Scheme; sc != "sip" && sc != "sips" {
			_ = rw.reply(400, "Bad Request (Contact must be a SIP URI)")
			return
		}
		exp := s.cfg.DefaultExpires
		if v, ok := c.Params.Get("expires"); ok {
			if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32); err == nil {
				exp = time.Duration(n) * time.Second
			}
		} else if hdrOK {
			exp = hdrExpires
		}
		if exp != 0 && exp < s.cfg.MinExpires {
			_ = rw.reply(423, "Interval Too Brief", sipmsg.NewHeader("Min-Expires", seconds(s.cfg.MinExpires)))
			return
		}
		exp = min(exp, s.cfg.MaxExpires)
		inst, _ := c.Params.Get("+sip.instance")
		b := Binding{
			AOR:        aor,
			Contact:    c.Address.String(),
			InstanceID: SanitizeHeaderValue(strings.Trim(inst, `"<>`)),
			Source:     req.Source(),
			Transport:  req.Transport(),
			CallID:     req.CallID().Value(),
			CSeq:       req.CSeq().SeqNo,
			Updated:    now,
		}
		if l, ok := s.listenerFor(req.Transport()); ok {
			b.Local = l
		}
		changes = append(changes, change{b: b, ttl: exp})
	}
	existing, err := s.bindings.List(ctx, aor)
	if err != nil {
		_ = rw.reply(500, "Server Internal Error")
		return
	}
	for _, ch := range changes {
		if stale(existing, ch.b) {
			continue // an older REGISTER of the same Call-ID arrived late
		}
		if ch.ttl == 0 {
			err = s.bindings.Remove(ctx, aor, ch.b.Key())
		} else {
			err = s.bindings.Put(ctx, ch.b, ch.ttl)
		}
		if err != nil {
			_ = rw.reply(500, "Server Internal Error")
			return
		}
	}
	current, err := s.bindings.List(ctx, aor)
	if err != nil {
		_ = rw.reply(500, "Server Internal Error")
		return
	}
	s.updateRegistrationsGauge(ctx)
	out := rw.newResponse(200, "OK", nil)
	for _, b := range current {
		var u sipmsg.Uri
		if err := sipmsg.ParseUri(b.Contact, &u); err != nil {
			continue
		}
		rem := max(b.Expires.Sub(now).Round(time.Second), 0)
		ch := &sipmsg.ContactHeader{Address: u, Params: sipmsg.NewParams()}
		ch.Params.Add("expires", seconds(rem))
		out.AppendHeader(ch)
	}
	out.AppendHeader(sipmsg.NewHeader("Date", now.UTC().Format(time.RFC1123)))
	_ = rw.send(out)
}

// stale reports whether b comes from a REGISTER older than the stored
// binding with the same key and Call-ID.
func stale(existing []Binding, b Binding) bool {
	for _, e := range existing {
		if e.Key() == b.Key() && e.CallID == b.CallID && b.CSeq < e.CSeq {
			return true
		}
	}
	return false
}

// parseExpiresHeader reads the Expires header; an absent or unparseable
// (e.g. overlarge, RFC 4475 scalar02) value counts as absent.
func parseExpiresHeader(req *sipmsg.Request) (time.Duration, bool) {
	h := req.GetHeader("Expires")
	if h == nil {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
	if err != nil {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

func (s *Server) listenerFor(transport string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	nw := strings.ToLower(transport)
	for _, l := range s.listeners {
		if l.network == nw {
			return l.addr.String(), true
		}
	}
	return "", false
}

func (s *Server) updateRegistrationsGauge(ctx context.Context) {
	if c, ok := s.bindings.(bindingCounter); ok {
		if n, err := c.Count(ctx); err == nil {
			s.metrics.registrations.Set(float64(n))
		}
	}
}
