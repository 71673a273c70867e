package call

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/careline/careline/ivr"
	"github.com/careline/careline/media"
	"github.com/careline/careline/media/dsp"
	"github.com/careline/careline/sip"
	"github.com/careline/careline/store"
	"github.com/google/uuid"
)

// ErrHangup is returned by channel operations once the caller has hung up; it matches
// ivr.ErrHangup.
var ErrHangup = fmt.Errorf("call: %w", ivr.ErrHangup)

// EventLog is where a call records its life (store.Log implements it).
type EventLog interface {
	Append(store.Event) error
}

// Call is one answered (or answering) leg with its media session. It is driven by the
// goroutine that handles the call; its methods are not meant for concurrent use except
// where noted.
type Call struct {
	ID      uuid.UUID // interaction id
	leg     *sip.Leg
	sess    *media.Session
	neg     *media.Negotiator
	prompts *media.PromptCache
	events  EventLog
	log     *slog.Logger
	did     string
	lang    string
	defLang string

	transfer func(ctx context.Context, c *Call, target string) error
	onPrompt func(interaction uuid.UUID, lang, id string, d time.Duration)
	onEvent  func(sip.Event) // hold/refer on legs owned by a bridge
	role     string
	pumpDone chan struct{}
	gone     chan struct{} // closed when the call is over for careline (see Gone)
	goneOnce sync.Once

	mu        sync.Mutex
	onHold    bool
	endReason string // set when careline itself ends the call (media_timeout ...)
	answered  time.Time
}

// Gone is closed as soon as careline considers the call over: the leg ended, or its
// media timed out (a phone that vanished: the BYE that follows may take a transaction
// timeout to complete, but nobody should wait for it).
func (c *Call) Gone() <-chan struct{} { return c.gone }

func (c *Call) markGone() { c.goneOnce.Do(func() { close(c.gone) }) }

// watchGone closes Gone when the leg ends.
func (c *Call) watchGone() {
	go func() {
		<-c.leg.Done()
		c.markGone()
	}()
}

// answerOffers lets the leg answer re-INVITE/UPDATE offers (hold, resume, a new address)
// through the call's negotiator and applies the result to its media session.
func (c *Call) answerOffers() {
	c.leg.OnOffer(func(offer []byte) ([]byte, error) {
		ans, n, err := c.neg.Answer(offer)
		if err != nil {
			return nil, err
		}
		if err := c.sess.Update(n); err != nil {
			return nil, err
		}
		return ans, nil
	})
}

// Leg exposes the signaling leg.
func (c *Call) Leg() *sip.Leg { return c.leg }

// Session exposes the media session.
func (c *Call) Session() *media.Session { return c.sess }

// DID is the number the caller dialed.
func (c *Call) DID() string { return c.did }

// Language is the call's current language.
func (c *Call) Language() string { return c.lang }

// SetLanguage switches the language of later prompts (the IVR records the change on the
// interaction with its node exit).
func (c *Call) SetLanguage(lang string) {
	if lang != "" {
		c.lang = lang
	}
}

func (c *Call) append(ev store.Event) {
	ev.InteractionID = c.ID
	if err := c.events.Append(ev); err != nil {
		c.log.Error("interaction event not recorded", "type", ev.Type, "err", err)
	}
}

// LogEvent appends a business event for this call (e.g. from an app).
func (c *Call) LogEvent(ev store.Event) { c.append(ev) }

// Context is cancelled when the leg ends.
func (c *Call) Context() context.Context { return c.leg.Context() }

// resolve finds a prompt in the call's language (or lang when set), falling back to the
// default language with a warning, or to a short tone with an error, so a call never
// goes silent because of one bad file.
func (c *Call) resolve(lang, id string) *media.Prompt {
	if lang == "" {
		lang = c.lang
	}
	p, fellBack, err := c.prompts.Get(lang, id)
	if err != nil {
		c.log.Error("prompt unavailable; playing a tone instead", "prompt", id, "lang", lang, "err", err)
		return media.Tone(440, 300*time.Millisecond)
	}
	if fellBack {
		c.log.Warn("prompt missing in the call's language; playing the fallback", "prompt", id, "lang", lang, "played", p.Lang)
	}
	if c.onPrompt != nil {
		c.onPrompt(c.ID, p.Lang, p.ID, p.Duration)
	}
	return p
}

// Play implements ivr.Channel: prompts back to back; with BargeIn a key stops playback
// and stays queued for Collect; without it, keys pressed meanwhile are discarded.
func (c *Call) Play(ctx context.Context, p ivr.Playback) (ivr.PlayResult, error) {
	if len(p.Prompts) == 0 {
		return ivr.PlayResult{}, nil
	}
	ps := make([]*media.Prompt, 0, len(p.Prompts))
	for _, r := range p.Prompts {
		ps = append(ps, c.resolve(r.Lang, r.ID))
	}
	res, err := c.sess.Play(ctx, media.PlayOptions{Prompts: ps, StopOnDTMF: p.BargeIn})
	if err != nil {
		return ivr.PlayResult{Interrupted: res.Interrupted}, c.mapErr(ctx, err)
	}
	if !p.BargeIn {
		c.sess.FlushDTMF()
	}
	return ivr.PlayResult{Interrupted: res.Interrupted}, nil
}

// PlayIDs plays prompt ids in the call's language.
func (c *Call) PlayIDs(ctx context.Context, bargeIn bool, ids ...string) (bool, error) {
	refs := make([]ivr.PromptRef, len(ids))
	for i, id := range ids {
		refs[i] = ivr.PromptRef{ID: id}
	}
	res, err := c.Play(ctx, ivr.Playback{Prompts: refs, BargeIn: bargeIn})
	return res.Interrupted, err
}

func (c *Call) mapErr(ctx context.Context, err error) error {
	if c.leg.Context().Err() != nil || errors.Is(err, media.ErrSessionClosed) {
		return ErrHangup
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Collect implements ivr.Channel: queued keys (type-ahead, barge-in) come first.
func (c *Call) Collect(ctx context.Context, spec ivr.CollectSpec) (ivr.Digits, error) {
	var b strings.Builder
	wait := spec.FirstDigitTimeout
	if wait <= 0 {
		wait = 5 * time.Second
	}
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ivr.Digits{Value: b.String()}, c.mapErr(ctx, ctx.Err())
		case <-c.leg.Done():
			t.Stop()
			return ivr.Digits{Value: b.String()}, ErrHangup
		case <-t.C:
			if b.Len() == 0 {
				return ivr.Digits{End: ivr.DigitsTimeout}, nil
			}
			return ivr.Digits{Value: b.String(), End: ivr.DigitsInterDigitTimeout}, nil
		case ev, ok := <-c.sess.DTMF():
			t.Stop()
			if !ok {
				return ivr.Digits{Value: b.String()}, ErrHangup
			}
			if strings.ContainsRune(spec.Terminators, ev.Digit) {
				return ivr.Digits{Value: b.String(), End: ivr.DigitsTerminator}, nil
			}
			b.WriteRune(ev.Digit)
			if spec.Max > 0 && b.Len() >= spec.Max {
				return ivr.Digits{Value: b.String(), End: ivr.DigitsMax}, nil
			}
			wait = spec.InterDigitTimeout
			if wait <= 0 {
				wait = 3 * time.Second
			}
		}
	}
}

// FlushDigits drops queued DTMF.
func (c *Call) FlushDigits() { c.sess.FlushDTMF() }

// silenceDBFS is the level under which a frame counts as silence when recording.
const silenceDBFS = -42

// Record implements ivr.Channel: it records the caller until a terminator key, the
// maximum duration, Silence of silence after speech, or hang-up (which returns what was
// said, End=hangup, nil error).
func (c *Call) Record(ctx context.Context, spec ivr.RecordSpec) (ivr.Recording, error) {
	if spec.MaxDuration <= 0 {
		spec.MaxDuration = 2 * time.Minute
	}
	sink := &pcmSink{max: int(spec.MaxDuration.Seconds() * media.SampleRate), voiced: make(chan struct{}, 1)}
	prev := c.sess.SetSink(sink)
	defer c.sess.SetSink(prev)
	c.sess.FlushDTMF()
	deadline := time.NewTimer(spec.MaxDuration)
	defer deadline.Stop()
	var silence <-chan time.Time
	var silenceT *time.Timer
	if spec.Silence > 0 {
		silenceT = time.NewTimer(spec.Silence)
		defer silenceT.Stop()
		silence = silenceT.C
	}
	done := func(end ivr.RecordEnd) (ivr.Recording, error) {
		pcm := sink.pcm()
		return ivr.Recording{PCM: pcm, End: end,
			Duration: time.Duration(len(pcm)) * time.Second / media.SampleRate}, nil
	}
	for {
		select {
		case <-ctx.Done():
			if c.leg.Context().Err() != nil {
				return done(ivr.RecordHangup)
			}
			return ivr.Recording{}, ctx.Err()
		case <-c.leg.Done():
			return done(ivr.RecordHangup)
		case <-deadline.C:
			return done(ivr.RecordMax)
		case <-silence:
			return done(ivr.RecordSilence)
		case <-sink.voiced:
			if silenceT != nil {
				silenceT.Reset(spec.Silence)
			}
		case ev, ok := <-c.sess.DTMF():
			if !ok {
				return done(ivr.RecordHangup)
			}
			if strings.ContainsRune(spec.Terminators, ev.Digit) {
				return done(ivr.RecordTerminator)
			}
		}
	}
}

type pcmSink struct {
	mu     sync.Mutex
	buf    []int16
	max    int
	voiced chan struct{} // signalled (non-blocking) on each frame above the silence level
}

func (s *pcmSink) WriteFrame(f media.Frame) error {
	s.mu.Lock()
	if len(s.buf) < s.max {
		s.buf = append(s.buf, f.Samples...)
	}
	s.mu.Unlock()
	if dsp.DBFS(f.Samples) > silenceDBFS {
		select {
		case s.voiced <- struct{}{}:
		default:
		}
	}
	return nil
}

func (s *pcmSink) pcm() []int16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int16(nil), s.buf...)
}

func (s *pcmSink) String() string { return "PCMCollector" }

// Facts implements ivr.Channel.
func (c *Call) Facts() ivr.Facts {
	return ivr.Facts{DID: c.did, Trunk: c.leg.Source().Trunk, Direction: c.leg.Direction().String(),
		CallerIDPresent: callerIDPresent(c.leg.Remote().User), Start: c.answered}
}

func callerIDPresent(user string) bool {
	u := strings.ToLower(user)
	return u != "" && u != "anonymous" && u != "restricted" && u != "unknown"
}

// Transfer implements ivr.Channel: a blind transfer, carried out by the transfer
// function the handler was given (careline anchors the media and bridges).
func (c *Call) Transfer(ctx context.Context, target string) error {
	if c.transfer == nil {
		return fmt.Errorf("call: transfer to a number is not configured")
	}
	return c.transfer(ctx, c, target)
}

// SendDTMF sends digits to the caller (RFC 4733, or in-band without telephone-event).
func (c *Call) SendDTMF(ctx context.Context, digits string) error {
	if err := c.sess.SendDTMF(ctx, digits); err != nil {
		return c.mapErr(ctx, err)
	}
	return nil
}

// Hangup ends the call from our side.
func (c *Call) Hangup(ctx context.Context) error {
	if err := c.leg.Hangup(ctx); err != nil && !errors.Is(err, sip.ErrLegEnded) {
		return fmt.Errorf("call: hangup: %w", err)
	}
	return nil
}

// OnHold reports whether the caller has put us on hold.
func (c *Call) OnHold() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.onHold
}

func (c *Call) setEndReason(r string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.endReason == "" {
		c.endReason = r
	}
}

func (c *Call) ownEndReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endReason
}

var _ ivr.Channel = (*Call)(nil)
