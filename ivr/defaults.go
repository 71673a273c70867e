package ivr

import (
	"time"

	"github.com/careline/careline/config"
	"github.com/careline/careline/ivr/prompts"
)

// Defaults, after Asterisk and FreeSWITCH (app_read, func_timeout, mod_ivr menus):
// FreeSWITCH menus wait 10 s for a key, half that between keys, and allow 3
// failures; Asterisk's TIMEOUT(response) is 10 s and TIMEOUT(digit) 5 s; Read's
// terminator is #.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultMaxFailures  = 3
	DefaultMaxAttempts  = 3
	DefaultTerminator   = "#"
	DefaultMatchDigits  = 10
	DefaultCollectMax   = 20
	DefaultLookupLimit  = 3 * time.Second
	DefaultVoicemailMax = 2 * time.Minute
	DefaultVoicemailMin = time.Second
	DefaultSilence      = 5 * time.Second
	DefaultCallbackMin  = 10
	DefaultCallbackMax  = 11
	// MaxSteps bounds the nodes one call may pass through; a flow that loops
	// without ending (a branch that never changes) ends with ErrLoop.
	MaxSteps = 500
)

// Limits enforced by validation.
const (
	maxTimeout       = 180 * time.Second // Amazon Connect's limit for one input
	maxLookupTimeout = 30 * time.Second
	maxVoicemail     = 10 * time.Minute
	maxDigits        = 64
	maxCounter       = 10
)

func orPrompts(list []string, def ...string) []string {
	if len(list) > 0 {
		return list
	}
	return def
}

func orDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func orInt(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func orString(p *string, def string) string {
	if p != nil {
		return *p
	}
	return def
}

// Effective prompt lists of each kind (defaults applied); validation checks these.
func menuInvalid(m *config.MenuNode) []string {
	return orPrompts(m.InvalidPrompts, prompts.MenuInvalid)
}
func menuTimeout(m *config.MenuNode) []string {
	return orPrompts(m.TimeoutPrompts, prompts.MenuTimeout)
}
func collectInvalid(c *config.CollectNode) []string {
	return orPrompts(c.InvalidPrompts, prompts.MenuInvalid)
}
func collectTimeout(c *config.CollectNode) []string {
	return orPrompts(c.TimeoutPrompts, prompts.MenuTimeout)
}
func vmPrompts(v *config.VoicemailNode) []string {
	return orPrompts(v.Prompts, prompts.VoicemailInstructions)
}
func vmBeep(v *config.VoicemailNode) string {
	if v.Beep != "" {
		return v.Beep
	}
	return prompts.ToneBeep
}
func vmSaved(v *config.VoicemailNode) []string {
	return orPrompts(v.SavedPrompts, prompts.VoicemailSaved)
}
func cbConfirm(c *config.CallbackNode) []string {
	return orPrompts(c.ConfirmPrompts, prompts.CallbackConfirmCallerNumber)
}
func cbEnter(c *config.CallbackNode) []string {
	return orPrompts(c.EnterPrompts, prompts.CallbackEnterNumber)
}
func cbInvalid(c *config.CallbackNode) []string {
	return orPrompts(c.InvalidPrompts, prompts.MenuInvalid)
}
func cbConfirmed(c *config.CallbackNode) []string {
	return orPrompts(c.ConfirmedPrompts, prompts.CallbackConfirmed)
}

// sorryPrompt is played when the interpreter cannot do what the caller asked.
const sorryPrompt = prompts.CommonTechnicalDifficulty

// noMessagePrompt is played when a voicemail is too short.
const noMessagePrompt = prompts.VoicemailNoMessage
