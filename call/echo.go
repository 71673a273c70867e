package call

import (
	"context"
	"errors"
	"time"

	"github.com/careline/careline/ivr"
	"github.com/careline/careline/say"
	"github.com/careline/careline/store"
	"github.com/google/uuid"
)

// DTMFEcho is the test line: it plays a beep and a welcome prompt, then echoes every key the caller
// presses, as a DTMF event sent back and as speech ("you pressed 5"). It ends after
// three idle minutes or when the caller hangs up.
type DTMFEcho struct {
	// OnDigit, when set, is told each digit received (tests observe the engine with it;
	// digits are never logged).
	OnDigit func(interaction uuid.UUID, digit rune)
	// Idle is how long to wait for a key before ending (default 3 min).
	Idle time.Duration
}

// Name implements App.
func (DTMFEcho) Name() string { return "dtmf_echo" }

// Run implements App.
func (e DTMFEcho) Run(ctx context.Context, c *Call) error {
	idle := e.Idle
	if idle == 0 {
		idle = 3 * time.Minute
	}
	// A 1 kHz beep first: a known tone callers (and tests) can check.
	if _, err := c.PlayIDs(ctx, true, "tone/beep", "test/welcome"); err != nil {
		return err
	}
	for {
		got, err := c.Collect(ctx, ivr.CollectSpec{Max: 1, FirstDigitTimeout: idle})
		if err != nil {
			if errors.Is(err, ErrHangup) {
				return nil
			}
			return err
		}
		digits := got.Value
		if got.End == ivr.DigitsTimeout {
			_, err := c.PlayIDs(ctx, false, "common/goodbye")
			return err
		}
		d := rune(digits[0])
		if e.OnDigit != nil {
			e.OnDigit(c.ID, d)
		}
		c.LogEvent(store.Event{Type: "test.dtmf_echo", Detail: map[string]any{"digits": "len:1"}})
		if err := c.SendDTMF(ctx, digits); err != nil {
			return err
		}
		ids := append([]string{"test/you_pressed"}, say.Digits(say.Lang(c.Language()), digits)...)
		if _, err := c.PlayIDs(ctx, true, ids...); err != nil {
			return err
		}
	}
}
