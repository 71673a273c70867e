package sip

import (
	"context"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/careline/careline/internal/logx"
)

// sipgo logs whole raw SIP messages on parse failures ("failed to parse",
// "data", string(data)) and request lines/URIs elsewhere. Those carry patient
// phone numbers and names, and a flood of junk packets would turn into a
// flood of 64 KB log lines. redactHandler sits in front of the real handler
// for every logger handed to sipgo: it replaces raw message attributes with
// their size, masks SIP/tel URI user parts, cuts every string at its first
// line break and bounds its length, and rate-limits records per level.

// uriUserRE matches the user part of sip:, sips: and tel: URIs.
var uriUserRE = regexp.MustCompile(`(?i)\b(sips?|tel):([^@;>\s"',]+)(@?)`)

// rawMessageKeys are attribute keys sipgo uses for whole messages.
var rawMessageKeys = map[string]bool{"data": true, "msg": true, "req": true, "res": true,
	"request": true, "response": true, "invite_request": true, "invite_response": true,
	"cancel_request": true, "sipmsg": true, "body": true}

const maxLoggedValue = 160

// redactString masks URI user parts and keeps only the first line of s,
// bounded in length.
func redactString(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i] + " …"
	}
	s = uriUserRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := uriUserRE.FindStringSubmatch(m)
		return sub[1] + ":" + logx.MaskPhone(sub[2]) + sub[3]
	})
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
	return truncateRunes(s, maxLoggedValue)
}

func redactAttr(a slog.Attr) slog.Attr {
	if rawMessageKeys[strings.ToLower(a.Key)] {
		v := a.Value.Resolve()
		n := len(v.String())
		return slog.String(a.Key, "<redacted "+strconv.Itoa(n)+" bytes>")
	}
	switch a.Value.Kind() {
	case slog.KindString:
		return slog.String(a.Key, redactString(a.Value.String()))
	case slog.KindGroup:
		attrs := a.Value.Group()
		out := make([]any, 0, len(attrs))
		for _, g := range attrs {
			out = append(out, redactAttr(g))
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny, slog.KindLogValuer:
		v := a.Value.Resolve()
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, redactString(err.Error()))
		}
		return slog.String(a.Key, redactString(v.String()))
	default:
		return a
	}
}

// rateLimiter is a small token bucket shared by a handler and its
// derivatives (WithAttrs/WithGroup).
type rateLimiter struct {
	mu      sync.Mutex
	tokens  float64
	last    time.Time
	rate    float64 // tokens per second
	burst   float64
	dropped atomic.Uint64
}

func (r *rateLimiter) allow(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last.IsZero() {
		r.last = now
		r.tokens = r.burst
	}
	r.tokens += now.Sub(r.last).Seconds() * r.rate
	if r.tokens > r.burst {
		r.tokens = r.burst
	}
	r.last = now
	if r.tokens < 1 {
		r.dropped.Add(1)
		return false
	}
	r.tokens--
	return true
}

type redactHandler struct {
	next    slog.Handler
	limiter *rateLimiter
	onDrop  func()
}

// NewRedactingHandler wraps next so that SIP message contents never reach it:
// raw-message attributes become "<redacted N bytes>", URI user parts are
// masked (logx.MaskPhone), strings are cut at the first line break and at 160
// characters, and at most perSecond records per second (burst 2×) pass; the
// rest are counted and dropped. onDrop, if not nil, is called per dropped
// record (e.g. a metric).
func NewRedactingHandler(next slog.Handler, perSecond float64, onDrop func()) slog.Handler {
	if perSecond <= 0 {
		perSecond = 20
	}
	return &redactHandler{next: next, limiter: &rateLimiter{rate: perSecond, burst: 2 * perSecond}, onDrop: onDrop}
}

func (h *redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *redactHandler) Handle(ctx context.Context, r slog.Record) error {
	if !h.limiter.allow(time.Now()) {
		if h.onDrop != nil {
			h.onDrop()
		}
		return nil
	}
	nr := slog.NewRecord(r.Time, r.Level, redactString(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		nr.AddAttrs(redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, nr)
}

func (h *redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = redactAttr(a)
	}
	return &redactHandler{next: h.next.WithAttrs(red), limiter: h.limiter, onDrop: h.onDrop}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{next: h.next.WithGroup(name), limiter: h.limiter, onDrop: h.onDrop}
}

// InstallLogging routes sipgo's package-level logger through a redacting,
// rate-limited wrapper of l. The binary calls it once at start-up, before
// New.
//
// Why a global at all: careline hands its own redacting logger to every sipgo
// object that accepts one (UA transport and transaction layers, Server,
// Client), so the raw-message log lines on parse failures go through it
// without any global. A few sipgo code paths still log through
// sip.DefaultLogger() (connection reference counting, a transport created
// from a custom TransportsConfig, the default no-route handler); sipgo only
// offers the global sip.SetDefaultLogger for those. Setting it here, once and
// by name, keeps that global mutation in one visible place instead of hiding
// it inside New. Tests do not need to call it.
func InstallLogging(l *slog.Logger) {
	if l == nil {
		l = logx.Discard()
	}
	sipmsg.SetDefaultLogger(slog.New(NewRedactingHandler(l.Handler(), 20, nil)))
}
