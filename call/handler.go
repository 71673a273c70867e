package call

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/careline/careline/internal/logx"
	"github.com/careline/careline/media"
	"github.com/careline/careline/sip"
	"github.com/careline/careline/store"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

// App runs an answered call; the call ends (BYE) when Run returns.
type App interface {
	Name() string
	Run(ctx context.Context, c *Call) error
}

// Route is what to do with an inbound call.
type Route struct {
	App      App    // nil: reject with RejectCode
	Language string // starting language; "" = default
	// RejectCode and RejectReason answer the call when App is nil (default 404).
	RejectCode   int
	RejectReason string
}

// Router decides what an inbound leg is for (a DID's flow, a feature code, ...).
type Router func(ctx context.Context, leg *sip.Leg) Route

// Options configures a Handler.
type Options struct {
	Ports       *media.PortAllocator
	Clock       *media.Clock
	Prompts     *media.PromptCache
	MediaIP     netip.Addr
	Codecs      []media.Codec
	DefaultLang string
	Router      Router
	Events      EventLog
	Logger      *slog.Logger
	Metrics     *Metrics
	MediaOpts   []media.Option
	Now         func() time.Time
	// SetupTimeout bounds answering (port, SDP, 200 OK).
	SetupTimeout time.Duration
	// OnPrompt, when set, is told each prompt a call plays (tests only).
	OnPrompt func(interaction uuid.UUID, lang, id string, d time.Duration)
}

// Handler is the sip.Handler for inbound calls: it answers with media, runs the
// routed app, and logs start, answer and a classified end.
type Handler struct {
	o      Options
	dialer SIPDialer
}

// NewHandler builds a Handler.
func NewHandler(o Options) *Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DefaultLang == "" {
		o.DefaultLang = "en"
	}
	if len(o.Codecs) == 0 {
		o.Codecs = []media.Codec{media.PCMU, media.PCMA}
	}
	if o.SetupTimeout == 0 {
		o.SetupTimeout = 5 * time.Second
	}
	return &Handler{o: o}
}

// End reasons (bounded: they are metric labels and interaction fields).
const (
	EndCallerHangup  = "caller_hangup"
	EndLocalHangup   = "local_hangup"
	EndCallerCancel  = "caller_cancelled"
	EndUnknownNumber = "unknown_number"
	EndNoCodec       = "no_common_codec"
	EndBadSDP        = "bad_sdp"
	EndNoPorts       = "no_media_ports"
	EndMediaTimeout  = "media_timeout"
	EndAckTimeout    = "ack_timeout"
	EndSessionTimer  = "session_timer"
	EndShutdown      = "shutdown"
	EndError         = "error"
)

func classify(r sip.EndReason) string {
	switch r.Cause {
	case sip.EndNormalRemote:
		return EndCallerHangup
	case sip.EndNormalLocal:
		return EndLocalHangup
	case sip.EndCancelled:
		return EndCallerCancel
	case sip.EndAckTimeout:
		return EndAckTimeout
	case sip.EndSessionTimer:
		return EndSessionTimer
	case sip.EndShutdown:
		return EndShutdown
	case sip.EndRejected:
		return "rejected"
	case sip.EndNoAnswer:
		return "no_answer"
	}
	return EndError
}

// HandleCall implements sip.Handler.
func (h *Handler) HandleCall(ctx context.Context, leg *sip.Leg) {
	start := h.o.Now()
	iid := store.NewID()
	log := h.o.Logger.With("interaction", iid.String(), "leg", leg.ID())
	did := leg.Local().User
	src := leg.Source()
	h.o.Metrics.active.WithLabelValues("inbound").Inc()
	defer h.o.Metrics.active.WithLabelValues("inbound").Dec()
	h.append(iid, store.Event{Type: "call.started", At: start,
		Detail: map[string]any{"source": src.Kind.String(), "trunk": src.Trunk},
		Interaction: &store.InteractionPatch{Kind: "call", Direction: "inbound", StartedAt: &start,
			DID: did, Trunk: src.Trunk, RemoteParty: leg.Remote().User}})
	log.Info("call started", "source", src.Kind.String(), "trunk", src.Trunk, "did", logx.MaskPhone(did),
		"caller", logx.MaskPhone(leg.Remote().User))

	route := h.o.Router(ctx, leg)
	if route.App == nil {
		code, reason := route.RejectCode, route.RejectReason
		if code == 0 {
			code, reason = 404, "Not Found"
		}
		_ = leg.Reject(code, reason)
		h.ended(iid, log, start, EndUnknownNumber, "")
		return
	}
	c, end, err := h.answer(ctx, leg, iid, did, route, log)
	if err != nil {
		log.Warn("call not answered", "reason", end, "err", err)
		h.ended(iid, log, start, end, "")
		return
	}
	defer c.sess.Close()
	pumpDone := make(chan struct{})
	go func() { defer close(pumpDone); h.pump(ctx, c, log) }()

	appErr := h.runApp(ctx, route.App, c, log)
	if appErr != nil && !errors.Is(appErr, ErrHangup) && !errors.Is(appErr, context.Canceled) {
		log.Error("call app failed", "app", route.App.Name(), "err", appErr)
		c.setEndReason(EndError)
	}
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	_ = c.Hangup(hctx)
	select {
	case <-leg.Done():
	case <-hctx.Done():
	}
	cancel()
	<-pumpDone
	end = c.ownEndReason()
	if end == "" {
		end = classify(leg.EndReason())
	}
	h.ended(iid, log, start, end, route.App.Name())
}

// runApp runs the app, turning a panic into an error so one bad call never takes down
// the process.
func (h *Handler) runApp(ctx context.Context, app App, c *Call, log *slog.Logger) (err error) {
	defer func() {
		if r := recover(); r != nil {
			h.o.Metrics.panics.Inc()
			err = fmt.Errorf("call: app %s panicked: %v", app.Name(), r)
		}
	}()
	return app.Run(ctx, c)
}

func (h *Handler) answer(ctx context.Context, leg *sip.Leg, iid uuid.UUID, did string, route Route, log *slog.Logger) (*Call, string, error) {
	sctx, cancel := context.WithTimeout(ctx, h.o.SetupTimeout)
	defer cancel()
	port, err := h.o.Ports.Allocate(sctx)
	if err != nil {
		_ = leg.Reject(503, "Service Unavailable")
		return nil, EndNoPorts, err
	}
	sess, err := media.NewSession(port, h.o.Clock, h.o.MediaOpts...)
	if err != nil {
		port.Release()
		_ = leg.Reject(500, "Server Error")
		return nil, EndError, err
	}
	neg := media.NewNegotiator(media.SDPConfig{Addr: h.o.MediaIP, Port: port.Number(), Codecs: h.o.Codecs,
		DTMF: true, PTime: media.FrameDuration, Direction: media.SendRecv})
	answer, n, err := neg.Answer(leg.Offer())
	if err != nil {
		sess.Close()
		switch {
		case errors.Is(err, media.ErrNoCommonCodec):
			_ = leg.Reject(488, "Not Acceptable Here")
			return nil, EndNoCodec, err
		default:
			_ = leg.Reject(400, "Bad SDP")
			return nil, EndBadSDP, err
		}
	}
	lang := route.Language
	if lang == "" {
		lang = h.o.DefaultLang
	}
	c := &Call{ID: iid, leg: leg, sess: sess, neg: neg, prompts: h.o.Prompts, events: h.o.Events,
		log: log, did: did, lang: lang, defLang: h.o.DefaultLang, onPrompt: h.o.OnPrompt, gone: make(chan struct{})}
	c.watchGone()
	c.answerOffers()
	if err := sess.Start(n); err != nil {
		sess.Close()
		_ = leg.Reject(500, "Server Error")
		return nil, EndError, err
	}
	if err := leg.Answer(sctx, answer); err != nil {
		sess.Close()
		return nil, classify(leg.EndReason()), err
	}
	now := h.o.Now()
	c.answered = now
	c.append(store.Event{Type: "call.answered", At: now, Detail: map[string]any{"codec": n.Codec.Name()},
		Interaction: &store.InteractionPatch{AnsweredAt: &now, Language: lang}})
	h.o.Metrics.answered.WithLabelValues("inbound").Inc()
	log.Info("call answered", "codec", n.Codec.Name(), "app", route.App.Name())
	return c, "", nil
}

// pump applies leg events to the media session and watches for media timeout.
func (h *Handler) pump(ctx context.Context, c *Call, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-c.leg.Events():
			if !ok {
				return
			}
			switch e := ev.(type) {
			case sip.DTMFEvent:
				c.sess.InjectDTMF(e.Digit)
			case sip.MediaUpdateEvent:
				c.mu.Lock()
				changed := c.onHold != e.Hold
				c.onHold = e.Hold
				c.mu.Unlock()
				if changed {
					typ := "call.resumed"
					if e.Hold {
						typ = "call.held"
					}
					by := c.role
					if by == "" {
						by = "caller"
					}
					c.append(store.Event{Type: typ, Detail: map[string]any{"by": by}})
					if c.onEvent != nil {
						c.onEvent(e)
					}
				}
			case sip.ReferEvent:
				if c.onEvent != nil {
					c.onEvent(e)
					continue
				}
				// Transfers requested by the far end are not honoured on inbound calls.
				_ = c.leg.ReferResult(ctx, 603, "Decline")
			}
		case <-c.sess.Timeout():
			c.setEndReason(EndMediaTimeout)
			c.markGone()
			log.Warn("media timeout: ending call", "err", c.sess.TimeoutErr())
			_ = c.leg.Hangup(ctx)
			return
		}
	}
}

func (h *Handler) append(iid uuid.UUID, ev store.Event) {
	ev.InteractionID = iid
	if err := h.o.Events.Append(ev); err != nil {
		h.o.Logger.Error("interaction event not recorded", "type", ev.Type, "err", err)
	}
}

func (h *Handler) ended(iid uuid.UUID, log *slog.Logger, start time.Time, reason, app string) {
	now := h.o.Now()
	h.append(iid, store.Event{Type: "call.ended", At: now, Detail: map[string]any{"reason": reason, "app": app},
		Interaction: &store.InteractionPatch{EndedAt: &now, EndReason: reason}})
	h.o.Metrics.ended.WithLabelValues("inbound", reason).Inc()
	log.Info("call ended", "reason", reason, "duration", now.Sub(start).Round(time.Millisecond).String())
}

// Metrics of calls.
type Metrics struct {
	active   *prometheus.GaugeVec
	answered *prometheus.CounterVec
	ended    *prometheus.CounterVec
	panics   prometheus.Counter
}

// NewMetrics registers call metrics with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "careline_calls_active",
			Help: "Calls in progress."}, []string{"direction"}),
		answered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "careline_calls_answered_total",
			Help: "Calls answered."}, []string{"direction"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "careline_calls_total",
			Help: "Calls ended, by classified outcome."}, []string{"direction", "outcome"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{Name: "careline_call_app_panics_total",
			Help: "Call apps that panicked (the call failed, the process did not)."}),
	}
	if reg != nil {
		reg.MustRegister(m.active, m.answered, m.ended, m.panics)
	}
	// The series of bounded label values exist from the start (zero).
	for _, dir := range []string{"inbound", "outbound"} {
		m.active.WithLabelValues(dir)
		m.answered.WithLabelValues(dir)
		for _, r := range endReasons {
			m.ended.WithLabelValues(dir, r)
		}
	}
	return m
}

// endReasons are the values of careline_calls_total's outcome label.
var endReasons = []string{EndCallerHangup, EndLocalHangup, EndCallerCancel, EndUnknownNumber, EndNoCodec, EndBadSDP,
	EndNoPorts, EndMediaTimeout, EndAckTimeout, EndSessionTimer, EndShutdown, EndError, "rejected", "no_answer"}
