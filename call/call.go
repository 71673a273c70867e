package call

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/careline/careline/media"
	"github.com/careline/careline/sip"
	"github.com/careline/careline/store"
	"github.com/google/uuid"
)

// ErrHangup is returned by channel operations once the caller has hung up.
var ErrHangup = errors.New("call: caller hung up")

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

	mu        sync.Mutex
	onHold    bool
	endReason string // set when careline itself ends the call (media_timeout ...)
	answered  time.Time
}

// Leg exposes the signaling leg.
func (c *Call) Leg() *sip.Leg { return c.leg }

// Session exposes the media session.
func (c *Call) Session() *media.Session { return c.sess }

// DID is the number the caller dialed.
func (c *Call) DID() string { return c.did }

// Language is the call's current language.
func (c *Call) Language() string { return c.lang }

// SetLanguage switches the call's language and records it on the interaction.
func (c *Call) SetLanguage(lang string) {
	if lang == "" || lang == c.lang {
		return
	}
	c.lang = lang
	c.append(store.Event{Type: "call.language", Detail: map[string]any{"language": lang},
		Interaction: &store.InteractionPatch{Language: lang}})
}

func (c *Call) append(ev store.Event) {
	ev.InteractionID = c.ID
	if err := c.events.Append(ev); err != nil {
		c.log.Error("interaction event not recorded", "type", ev.Type, "err", err)
	}
}

// Record appends a business event for this call (e.g. from an app).
func (c *Call) Record(ev store.Event) { c.append(ev) }

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
	return p
}

// PromptRef names a prompt, optionally in a fixed language (language menus play each
// line in its own language).
type PromptRef struct {
	ID   string
	Lang string
}

// Play plays prompts back to back. With bargeIn a DTMF digit stops playback; the digit
// stays queued for Collect. It returns interrupted=true when a digit stopped it.
func (c *Call) Play(ctx context.Context, refs []PromptRef, bargeIn bool) (bool, error) {
	if len(refs) == 0 {
		return false, nil
	}
	ps := make([]*media.Prompt, 0, len(refs))
	for _, r := range refs {
		ps = append(ps, c.resolve(r.Lang, r.ID))
	}
	res, err := c.sess.Play(ctx, media.PlayOptions{Prompts: ps, StopOnDTMF: bargeIn})
	if err != nil {
		return res.Interrupted, c.mapErr(ctx, err)
	}
	return res.Interrupted, nil
}

// PlayIDs plays prompt ids in the call's language.
func (c *Call) PlayIDs(ctx context.Context, bargeIn bool, ids ...string) (bool, error) {
	refs := make([]PromptRef, len(ids))
	for i, id := range ids {
		refs[i] = PromptRef{ID: id}
	}
	return c.Play(ctx, refs, bargeIn)
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

// CollectEnd says why digit collection stopped.
type CollectEnd string

// Collection endings.
const (
	EndTerminator        CollectEnd = "terminator"
	EndMax               CollectEnd = "max"
	EndTimeout           CollectEnd = "timeout"
	EndInterDigitTimeout CollectEnd = "interdigit_timeout"
)

// CollectSpec says how to read digits.
type CollectSpec struct {
	Max               int           // stop after this many digits (0: no limit)
	Terminators       string        // keys that end entry (not included in the value)
	FirstDigitTimeout time.Duration // wait for the first digit
	InterDigitTimeout time.Duration // wait between digits
}

// Collect reads DTMF digits already queued (type-ahead, barge-in) and new ones.
func (c *Call) Collect(ctx context.Context, spec CollectSpec) (string, CollectEnd, error) {
	var b strings.Builder
	wait := spec.FirstDigitTimeout
	for {
		if wait <= 0 {
			wait = 5 * time.Second
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return b.String(), "", c.mapErr(ctx, ctx.Err())
		case <-c.leg.Done():
			t.Stop()
			return b.String(), "", ErrHangup
		case <-t.C:
			if b.Len() == 0 {
				return "", EndTimeout, nil
			}
			return b.String(), EndInterDigitTimeout, nil
		case ev, ok := <-c.sess.DTMF():
			t.Stop()
			if !ok {
				return b.String(), "", ErrHangup
			}
			if strings.ContainsRune(spec.Terminators, ev.Digit) {
				return b.String(), EndTerminator, nil
			}
			b.WriteRune(ev.Digit)
			if spec.Max > 0 && b.Len() >= spec.Max {
				return b.String(), EndMax, nil
			}
			wait = spec.InterDigitTimeout
		}
	}
}

// FlushDigits drops queued DTMF (before a new menu, so stale key presses don't leak).
func (c *Call) FlushDigits() { c.sess.FlushDTMF() }

// RecordSpec says how to record the caller (voicemail).
type RecordSpec struct {
	MaxDuration time.Duration // default 2 min
	Terminators string        // keys that end the recording (default "#")
}

// RecordAudio records what the caller says until a terminator key, the maximum
// duration, or hang-up, and returns 8 kHz PCM.
func (c *Call) RecordAudio(ctx context.Context, spec RecordSpec) ([]int16, error) {
	if spec.MaxDuration <= 0 {
		spec.MaxDuration = 2 * time.Minute
	}
	if spec.Terminators == "" {
		spec.Terminators = "#"
	}
	sink := &pcmSink{max: int(spec.MaxDuration.Seconds() * media.SampleRate)}
	prev := c.sess.SetSink(sink)
	defer c.sess.SetSink(prev)
	t := time.NewTimer(spec.MaxDuration)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return sink.pcm(), c.mapErr(ctx, ctx.Err())
		case <-c.leg.Done():
			return sink.pcm(), nil // hanging up ends a voicemail: keep what was said
		case <-t.C:
			return sink.pcm(), nil
		case ev, ok := <-c.sess.DTMF():
			if !ok {
				return sink.pcm(), nil
			}
			if strings.ContainsRune(spec.Terminators, ev.Digit) {
				return sink.pcm(), nil
			}
		}
	}
}

type pcmSink struct {
	mu  sync.Mutex
	buf []int16
	max int
}

func (s *pcmSink) WriteFrame(f media.Frame) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buf) < s.max {
		s.buf = append(s.buf, f.Samples...)
	}
	return nil
}

func (s *pcmSink) pcm() []int16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int16(nil), s.buf...)
}

func (s *pcmSink) String() string { return "PCMCollector" }

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
