package call

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/careline/careline/media"
	"github.com/careline/careline/sip"
	"github.com/careline/careline/store"
	"github.com/google/uuid"
)

// SIPDialer places outbound SIP calls (*sip.Server implements it).
type SIPDialer interface {
	Dial(ctx context.Context, o sip.DialOptions) (*sip.Leg, error)
}

// ErrNoCommonCodec is returned by Dial when the far end answered with no codec we
// accept (or refused our offer with 488).
var ErrNoCommonCodec = errors.New("call: no common codec")

// DialOptions are the parameters of one outbound call leg.
type DialOptions struct {
	// Interaction the leg belongs to (a patient's call for an agent leg, or a new
	// interaction for a dialer attempt); events of the leg are logged on it.
	Interaction uuid.UUID
	// Role names the leg in events ("agent", "patient", "transfer").
	Role string
	// Exactly one of User (a registered softphone) or Target (URI or number, with Trunk).
	User, Target, Trunk string
	FromUser            string
	FromDisplay         string
	RingTimeout         time.Duration
	Language            string
	// OnEvent, when set, receives the leg's signaling events that the call does not
	// handle itself (hold/resume, REFER): the owner of a bridge reacts to them.
	OnEvent func(sip.Event)
}

// SetDialer gives the handler the SIP server for outbound legs (the server and the
// handler are created in that order, each needing the other).
func (h *Handler) SetDialer(d SIPDialer) { h.dialer = d }

// Dial places an outbound call and returns it answered, with media running. Errors are
// sip.Classified (busy, no answer, ...) or ErrNoCommonCodec.
func (h *Handler) Dial(ctx context.Context, o DialOptions) (*Call, error) {
	if h.dialer == nil {
		return nil, errors.New("call: no SIP dialer configured")
	}
	port, err := h.o.Ports.Allocate(ctx)
	if err != nil {
		return nil, fmt.Errorf("call: rtp port: %w", err)
	}
	sess, err := media.NewSession(port, h.o.Clock, h.o.MediaOpts...)
	if err != nil {
		port.Release()
		return nil, fmt.Errorf("call: media session: %w", err)
	}
	neg := media.NewNegotiator(media.SDPConfig{Addr: h.o.MediaIP, Port: port.Number(), Codecs: h.o.Codecs,
		DTMF: true, PTime: media.FrameDuration, Direction: media.SendRecv})
	offer, err := neg.Offer()
	if err != nil {
		sess.Close()
		return nil, fmt.Errorf("call: sdp offer: %w", err)
	}
	leg, err := h.dialer.Dial(ctx, sip.DialOptions{User: o.User, Target: o.Target, Trunk: o.Trunk,
		FromUser: o.FromUser, FromDisplay: o.FromDisplay, SDP: offer, RingTimeout: o.RingTimeout})
	if err != nil {
		sess.Close()
		var ce sip.Classified
		if errors.As(err, &ce) && ce.SIPStatus() == 488 {
			return nil, fmt.Errorf("%w: %w", ErrNoCommonCodec, err)
		}
		return nil, err
	}
	n, err := neg.ParseAnswer(leg.Offer())
	if err == nil {
		err = sess.Start(n)
	}
	if err != nil {
		sess.Close()
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = leg.Hangup(hctx)
		cancel()
		if errors.Is(err, media.ErrNoCommonCodec) {
			return nil, fmt.Errorf("%w: %w", ErrNoCommonCodec, err)
		}
		return nil, fmt.Errorf("call: answer sdp: %w", err)
	}
	lang := o.Language
	if lang == "" {
		lang = h.o.DefaultLang
	}
	log := h.o.Logger.With("interaction", o.Interaction.String(), "leg", leg.ID(), "role", o.Role)
	now := h.o.Now()
	c := &Call{ID: o.Interaction, leg: leg, sess: sess, neg: neg, prompts: h.o.Prompts, events: h.o.Events,
		log: log, lang: lang, defLang: h.o.DefaultLang, onPrompt: h.o.OnPrompt, answered: now, onEvent: o.OnEvent,
		role: o.Role, gone: make(chan struct{})}
	c.watchGone()
	c.answerOffers()
	c.append(store.Event{Type: "leg.answered", At: now, Detail: map[string]any{"role": o.Role, "codec": n.Codec.Name()}})
	h.o.Metrics.active.WithLabelValues("outbound").Inc()
	c.pumpDone = make(chan struct{})
	go func() {
		defer close(c.pumpDone)
		h.pump(leg.Context(), c, log)
	}()
	go func() {
		// Gone, not Done: after a media timeout the BYE to a vanished phone can take a
		// transaction timeout, but the leg is over for everyone now.
		<-c.Gone()
		sess.Close()
		h.o.Metrics.active.WithLabelValues("outbound").Dec()
		reason := c.ownEndReason()
		if reason == "" {
			reason = classify(leg.EndReason())
		}
		c.append(store.Event{Type: "leg.ended", Detail: map[string]any{"role": o.Role, "reason": reason}})
		h.o.Metrics.ended.WithLabelValues("outbound", reason).Inc()
	}()
	return c, nil
}

// EndReason is why the call ended (careline's own reason, else the SIP end), valid
// once Done is closed.
func (c *Call) EndReason() string {
	if r := c.ownEndReason(); r != "" {
		return r
	}
	return classify(c.leg.EndReason())
}

// Done is closed when the call's leg has ended.
func (c *Call) Done() <-chan struct{} { return c.leg.Done() }
