package ivr

import (
	"context"
	"errors"
	"time"
)

// ErrHangup is returned (wrapped) by Channel methods once the caller has hung up.
// The interpreter treats it, and a cancelled context, as the end of the call: the
// flow stops with an Outcome of kind OutcomeHangup and no error.
var ErrHangup = errors.New("ivr: caller hung up")

// Channel is what a call offers to the interpreter. The call package implements it
// over a SIP leg and a media session; tests use ivrtest.Channel.
//
// Every method blocks until done, the caller hangs up (ErrHangup) or ctx ends
// (ctx.Err()). Prompt resolution is the channel's job: a PromptRef names an id; the
// channel plays prompts/<lang>/<id>.wav, falling back to the default language with
// a logged warning, or to a short tone when the file cannot be loaded, so that a
// missing file never stops a call.
type Channel interface {
	// Language is the call's current prompt language ("en", "es"). A call starts in
	// its number's language (numbers.<did>.language) or the site default.
	Language() string
	// SetLanguage changes the language of later prompts.
	SetLanguage(lang string)
	// Facts describes the call for branch nodes; it holds no patient data.
	Facts() Facts
	// Play plays the prompts in order. With BargeIn the first key pressed stops the
	// playback (Interrupted) and is kept for the next Collect; if keys are already
	// waiting when Play starts, it returns at once, Interrupted, without playing.
	// Without BargeIn the prompts play to the end and keys pressed meanwhile are
	// discarded (a caller cannot skip the emergency notice by accident).
	Play(ctx context.Context, p Playback) (PlayResult, error)
	// Collect gathers keys. Keys waiting from a barge-in Play (or pressed after the
	// previous Collect returned) come first. It returns when Max keys are in
	// (DigitsMax), a terminator is pressed (DigitsTerminator; the terminator is not
	// part of Value), no first key comes within FirstDigitTimeout (DigitsTimeout,
	// empty Value), or no further key within InterDigitTimeout after at least one
	// (DigitsInterDigitTimeout). Min is advisory: the interpreter judges short
	// entries itself.
	Collect(ctx context.Context, c CollectSpec) (Digits, error)
	// Record records the caller (voicemail) until MaxDuration, Silence seconds of
	// silence after speech, or a terminator key. If the caller hangs up while
	// recording, Record returns what it has with End = RecordHangup and a nil error:
	// hanging up is the normal way to finish a message.
	Record(ctx context.Context, r RecordSpec) (Recording, error)
	// Transfer hands the call to a SIP URI or number (blind transfer).
	Transfer(ctx context.Context, target string) error
	// Hangup ends the call.
	Hangup(ctx context.Context) error
}

// Facts are what a flow may branch on. DID and Trunk are our own identifiers, not
// patient data; the caller's number is not here (see CallInfo.Caller).
type Facts struct {
	DID             string    // the dialed number, as configured under numbers:
	Trunk           string    // trunk name from the config, "" for softphones
	Direction       string    // "inbound" or "outbound"
	CallerIDPresent bool      // the caller's number is known (not withheld)
	Start           time.Time // when the call was answered
}

// PromptRef names one prompt. Lang overrides the call's language for this prompt
// only (a language menu plays each line in its own language).
type PromptRef struct {
	ID   string
	Lang string
}

// Playback is a list of prompts played as one.
type Playback struct {
	Prompts []PromptRef
	BargeIn bool
}

// PlayResult says how a playback ended.
type PlayResult struct {
	Interrupted bool // a key stopped it (BargeIn only)
}

// CollectSpec says how to gather keys.
type CollectSpec struct {
	Max, Min          int
	Terminators       string // keys that end the entry, e.g. "#"; "" for none
	FirstDigitTimeout time.Duration
	InterDigitTimeout time.Duration
}

// DigitsEnd says why Collect returned.
type DigitsEnd string

// The reasons Collect returns.
const (
	DigitsTerminator        DigitsEnd = "terminator"
	DigitsMax               DigitsEnd = "max"
	DigitsTimeout           DigitsEnd = "timeout"
	DigitsInterDigitTimeout DigitsEnd = "interdigit_timeout"
)

// Digits is what Collect gathered. Value is patient data (a prescription number):
// never log it; use logx.DigitsCategory or a keyed hash.
type Digits struct {
	Value string
	End   DigitsEnd
}

// RecordSpec says how to record a voicemail.
type RecordSpec struct {
	MaxDuration time.Duration
	Silence     time.Duration // silence that ends the message
	Terminators string        // keys that end the message, e.g. "#"
}

// RecordEnd says why a recording ended.
type RecordEnd string

// The reasons a recording ends.
const (
	RecordTerminator RecordEnd = "terminator"
	RecordSilence    RecordEnd = "silence"
	RecordMax        RecordEnd = "max"
	RecordHangup     RecordEnd = "hangup"
)

// Recording is a recorded message: 8 kHz mono 16-bit PCM. It is patient data.
type Recording struct {
	PCM      []int16
	Duration time.Duration
	End      RecordEnd
}

// SampleRate of Recording.PCM.
const SampleRate = 8000
