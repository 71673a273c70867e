// Package ivrtest provides test doubles for the ivr interpreter: a scripted
// Channel that plays a caller (keys with pauses, barge-in, hang-ups, voicemail
// speech) on a fake clock, an in-memory voicemail store and an event recorder. It
// is for tests only; production code never imports it.
package ivrtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/careline/careline/ivr"
)

type stepKind int

const (
	stepPress stepKind = iota
	stepBarge
	stepSilence
	stepHangup
	stepSpeak
)

// Step is one thing the scripted caller does, consumed at the next point where
// the interpreter waits for the caller (Play, Collect or Record).
type Step struct {
	kind   stepKind
	digits string
	after  time.Duration
	speak  time.Duration
	end    ivr.RecordEnd
}

// Press presses keys at once (no pause before or between them).
func Press(keys string) Step { return Step{kind: stepPress, digits: keys} }

// PressAfter presses keys after a pause; Collect compares the pause with its
// first-digit or inter-digit timeout, so a long pause times out and the keys come
// in the next Collect.
func PressAfter(pause time.Duration, keys string) Step {
	return Step{kind: stepPress, digits: keys, after: pause}
}

// Barge presses keys while the next barge-in playback is playing: it stops and
// the keys wait for the next Collect (its prompts are recorded as played, the
// last one cut short). During a playback without barge-in the keys
// are discarded (see Dropped).
func Barge(keys string) Step { return Step{kind: stepBarge, digits: keys} }

// Silence presses nothing: the next Collect times out.
func Silence() Step { return Step{kind: stepSilence} }

// Hangup hangs up at the next wait point.
func Hangup() Step { return Step{kind: stepHangup} }

// Speak leaves a voicemail of length d at the next Record, ended by end
// (ivr.RecordHangup: the caller hangs up after speaking).
func Speak(d time.Duration, end ivr.RecordEnd) Step { return Step{kind: stepSpeak, speak: d, end: end} }

func (s Step) String() string {
	switch s.kind {
	case stepPress:
		if s.after > 0 {
			return fmt.Sprintf("press %q after %s", s.digits, s.after)
		}
		return fmt.Sprintf("press %q", s.digits)
	case stepBarge:
		return fmt.Sprintf("barge %q", s.digits)
	case stepSilence:
		return "silence"
	case stepHangup:
		return "hangup"
	}
	return fmt.Sprintf("speak %s then %s", s.speak, s.end)
}

// Played is one prompt the channel played.
type Played struct {
	ID      string
	Lang    string // the language it was played in (override or the call's)
	BargeIn bool
}

// String formats the prompt as "lang:id".
func (p Played) String() string { return p.Lang + ":" + p.ID }

// Channel is a scripted ivr.Channel. Its clock starts at Start and moves only by
// the scripted pauses and timeouts, so tests are instant.
type Channel struct {
	mu           sync.Mutex
	lang         string
	facts        ivr.Facts
	script       []Step
	buf          []byte
	elapsed      time.Duration
	played       []Played
	collects     []ivr.CollectSpec
	records      []ivr.RecordSpec
	transfers    []string
	langs        []string
	dropped      string
	hungUp       bool
	callerHungUp bool
	exhausted    bool
	transferErr  error
}

// NewChannel returns a channel in language lang with the given facts and script.
func NewChannel(lang string, facts ivr.Facts, script ...Step) *Channel {
	return &Channel{lang: lang, facts: facts, script: slices.Clone(script)}
}

// FailTransfers makes Transfer return err.
func (c *Channel) FailTransfers(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.transferErr = err
}

// Language implements ivr.Channel.
func (c *Channel) Language() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lang
}

// SetLanguage implements ivr.Channel.
func (c *Channel) SetLanguage(lang string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lang = lang
	c.langs = append(c.langs, lang)
}

// Facts implements ivr.Channel.
func (c *Channel) Facts() ivr.Facts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.facts
}

func (c *Channel) gone() error {
	if c.callerHungUp || c.hungUp {
		return ivr.ErrHangup
	}
	return nil
}

func (c *Channel) head() (Step, bool) {
	if len(c.script) == 0 {
		return Step{}, false
	}
	return c.script[0], true
}

func (c *Channel) pop() { c.script = c.script[1:] }

// Play implements ivr.Channel.
func (c *Channel) Play(ctx context.Context, p ivr.Playback) (ivr.PlayResult, error) {
	if err := ctx.Err(); err != nil {
		return ivr.PlayResult{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.gone(); err != nil {
		return ivr.PlayResult{}, err
	}
	if p.BargeIn && len(c.buf) > 0 {
		return ivr.PlayResult{Interrupted: true}, nil
	}
	h, ok := c.head()
	if ok && h.kind == stepHangup {
		c.pop()
		c.callerHungUp = true
		return ivr.PlayResult{}, fmt.Errorf("ivrtest: play: %w", ivr.ErrHangup)
	}
	for _, pr := range p.Prompts {
		lang := pr.Lang
		if lang == "" {
			lang = c.lang
		}
		c.played = append(c.played, Played{ID: pr.ID, Lang: lang, BargeIn: p.BargeIn})
	}
	if ok && h.kind == stepBarge {
		c.pop()
		if p.BargeIn {
			c.buf = append(c.buf, h.digits...)
			return ivr.PlayResult{Interrupted: true}, nil
		}
		c.dropped += h.digits
	}
	return ivr.PlayResult{}, nil
}

// Collect implements ivr.Channel.
func (c *Channel) Collect(ctx context.Context, spec ivr.CollectSpec) (ivr.Digits, error) {
	if err := ctx.Err(); err != nil {
		return ivr.Digits{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.gone(); err != nil {
		return ivr.Digits{}, err
	}
	c.collects = append(c.collects, spec)
	var value []byte
	for {
		if spec.Max > 0 && len(value) >= spec.Max {
			return ivr.Digits{Value: string(value), End: ivr.DigitsMax}, nil
		}
		if len(c.buf) > 0 {
			k := c.buf[0]
			c.buf = c.buf[1:]
			if strings.IndexByte(spec.Terminators, k) >= 0 {
				return ivr.Digits{Value: string(value), End: ivr.DigitsTerminator}, nil
			}
			value = append(value, k)
			continue
		}
		limit, end := spec.FirstDigitTimeout, ivr.DigitsTimeout
		if len(value) > 0 {
			limit, end = spec.InterDigitTimeout, ivr.DigitsInterDigitTimeout
		}
		h, ok := c.head()
		if !ok {
			c.exhausted, c.callerHungUp = true, true
			return ivr.Digits{}, fmt.Errorf("ivrtest: script exhausted in Collect: %w", ivr.ErrHangup)
		}
		switch h.kind {
		case stepHangup:
			c.pop()
			c.callerHungUp = true
			return ivr.Digits{}, fmt.Errorf("ivrtest: collect: %w", ivr.ErrHangup)
		case stepSilence:
			c.pop()
			c.elapsed += limit
			return ivr.Digits{Value: string(value), End: end}, nil
		case stepPress, stepBarge:
			if limit > 0 && h.after > limit {
				c.script[0].after -= limit
				c.elapsed += limit
				return ivr.Digits{Value: string(value), End: end}, nil
			}
			c.pop()
			c.elapsed += h.after
			c.buf = append(c.buf, h.digits...)
		default:
			return ivr.Digits{}, fmt.Errorf("ivrtest: Collect met a %v step", h)
		}
	}
}

// Record implements ivr.Channel.
func (c *Channel) Record(ctx context.Context, spec ivr.RecordSpec) (ivr.Recording, error) {
	if err := ctx.Err(); err != nil {
		return ivr.Recording{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.gone(); err != nil {
		return ivr.Recording{}, err
	}
	c.records = append(c.records, spec)
	h, ok := c.head()
	switch {
	case ok && h.kind == stepHangup:
		c.pop()
		c.callerHungUp = true
		return ivr.Recording{End: ivr.RecordHangup}, nil
	case ok && h.kind == stepSpeak:
		c.pop()
		d, end := h.speak, h.end
		if spec.MaxDuration > 0 && d >= spec.MaxDuration {
			d, end = spec.MaxDuration, ivr.RecordMax
		}
		if end == ivr.RecordHangup {
			c.callerHungUp = true
		}
		c.elapsed += d
		pcm := make([]int16, int(d*ivr.SampleRate/time.Second))
		for i := range pcm {
			pcm[i] = int16((i % 16) * 512) // a buzz, not silence
		}
		return ivr.Recording{PCM: pcm, Duration: d, End: end}, nil
	}
	c.elapsed += spec.Silence
	return ivr.Recording{End: ivr.RecordSilence}, nil
}

// Transfer implements ivr.Channel.
func (c *Channel) Transfer(ctx context.Context, target string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.gone(); err != nil {
		return err
	}
	c.transfers = append(c.transfers, target)
	return c.transferErr
}

// Hangup implements ivr.Channel.
func (c *Channel) Hangup(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.callerHungUp {
		return ivr.ErrHangup
	}
	c.hungUp = true
	return nil
}

// Played returns the prompts played so far.
func (c *Channel) Played() []Played {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.played)
}

// PlayedIDs returns the prompts played so far as "lang:id".
func (c *Channel) PlayedIDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.played))
	for i, p := range c.played {
		out[i] = p.String()
	}
	return out
}

// Collects returns every CollectSpec asked for.
func (c *Channel) Collects() []ivr.CollectSpec {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.collects)
}

// Records returns every RecordSpec asked for.
func (c *Channel) Records() []ivr.RecordSpec {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.records)
}

// Transfers returns the transfer targets asked for.
func (c *Channel) Transfers() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.transfers)
}

// Languages returns the languages set, in order.
func (c *Channel) Languages() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.langs)
}

// Dropped returns keys pressed during playbacks without barge-in.
func (c *Channel) Dropped() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped
}

// HungUp reports whether the flow hung up (Hangup was called).
func (c *Channel) HungUp() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hungUp
}

// CallerHungUp reports whether the scripted caller hung up.
func (c *Channel) CallerHungUp() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.callerHungUp
}

// Exhausted reports whether the interpreter waited for input after the script
// ended (the channel then acts as if the caller hung up).
func (c *Channel) Exhausted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.exhausted
}

// Remaining returns the steps not consumed.
func (c *Channel) Remaining() []Step {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.script)
}

// Elapsed returns the fake time the caller spent in pauses and timeouts.
func (c *Channel) Elapsed() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.elapsed
}
