package dialer

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/careline/careline/calendar"
	"github.com/careline/careline/config"
	"github.com/careline/careline/dialer/amd"
)

// Purpose is what a campaign calls about; the healthcare exemption allows nothing else.
type Purpose string

// The purposes.
const (
	RefillReminder          Purpose = config.PurposeRefillReminder
	AppointmentConfirmation Purpose = config.PurposeAppointmentConfirmation
)

// Pacing is how a campaign decides how many calls to place.
type Pacing string

// The pacing modes.
const (
	Agentless   Pacing = config.PacingAgentless
	Progressive Pacing = config.PacingProgressive
	Predictive  Pacing = config.PacingPredictive
)

// Campaign is a campaign ready to run: the configuration parsed into the types the
// gate, pacer and runner use. It is immutable once built.
type Campaign struct {
	Name        string
	Purpose     Purpose
	Flow        string // IVR flow on a live answer (agentless)
	Queue       string // agents (progressive, predictive)
	CallerID    string
	Trunk       string
	Pacing      Pacing
	MaxChannels int     // 0: unlimited here (the trunk limiter still applies)
	MaxCPS      float64 // 0: unlimited here
	RingTimeout time.Duration

	// Days, Hours and Holidays are the campaign's window in the patient's local time.
	Days     calendar.Days
	Hours    []calendar.Range
	Holidays []calendar.Date
	// Schedule is the pharmacy's hours in its own zone (nil: no constraint).
	Schedule *calendar.Calendar

	Retry         RetryPolicy
	MaxAttempts   int
	MinSpacing    time.Duration
	Recording     string
	AbandonTarget float64

	// AMD is nil when detection is off (every answer is then treated as a person).
	AMD         *amd.DetectorOptions
	GreetingEnd amd.EndOptions
	// Voicemail is the machine message: prompt ids and $callback_number (nil: none).
	Voicemail            []string
	AbandonPrompts       []string
	IdentificationPrompt string
	OptOutKey            string
	PharmacyName         string
	CallbackNumber       string
	Language             string
}

// String names the campaign.
func (c *Campaign) String() string {
	return fmt.Sprintf("campaign(%s, %s, %s)", c.Name, c.Purpose, c.Pacing)
}

// ErrCampaign is matched by errors building a campaign from configuration that
// config.Parse did not already report.
var ErrCampaign = errors.New("dialer: invalid campaign")

// NewCampaign builds a campaign from its (validated) configuration; schedule is the
// pharmacy calendar named by cc.Schedule, or nil.
func NewCampaign(name string, cc *config.Campaign, schedule *calendar.Calendar) (*Campaign, error) {
	if cc == nil {
		return nil, fmt.Errorf("%w: %s: empty", ErrCampaign, name)
	}
	days, err := calendar.ParseDays(cc.Window.Days)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: window.days: %w", ErrCampaign, name, err)
	}
	c := &Campaign{
		Name: name, Purpose: Purpose(cc.Purpose), Flow: cc.Flow, Queue: cc.Queue, CallerID: cc.CallerID,
		Trunk: cc.Trunk, Pacing: Pacing(cc.Pacing), MaxChannels: cc.MaxChannels, MaxCPS: cc.MaxCPS,
		RingTimeout: cc.RingTimeout, Days: days, Schedule: schedule,
		Retry: RetryPolicy{NoAnswer: cc.Retry.NoAnswer, Busy: cc.Retry.Busy, Machine: cc.Retry.Machine,
			Failed: cc.Retry.Failed, Abandoned: cc.Retry.Abandoned},
		MaxAttempts: cc.MaxAttempts, MinSpacing: cc.MinSpacing, Recording: cc.Recording,
		AbandonTarget: cc.AbandonTarget, AbandonPrompts: slices.Clone(cc.AbandonPrompts),
		IdentificationPrompt: cc.IdentificationPrompt, OptOutKey: cc.OptOutKey,
		PharmacyName: cc.PharmacyName, CallbackNumber: cc.CallbackNumber, Language: cc.Language,
	}
	for _, h := range cc.Window.Hours {
		r, err := calendar.ParseRange(h)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: window.hours: %w", ErrCampaign, name, err)
		}
		c.Hours = append(c.Hours, r)
	}
	for _, h := range cc.Window.Holidays {
		d, err := calendar.ParseDate(h)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: window.holidays: %w", ErrCampaign, name, err)
		}
		c.Holidays = append(c.Holidays, d)
	}
	if cc.AMD.On() {
		a := cc.AMD
		c.AMD = &amd.DetectorOptions{InitialSilence: a.InitialSilence, Greeting: a.Greeting,
			AfterGreetingSilence: a.AfterGreetingSilence, TotalAnalysisTime: a.TotalAnalysisTime,
			MinWordLength: a.MinWordLength, BetweenWordsSilence: a.BetweenWordsSilence, MaxWordLength: a.MaxWordLength,
			MaxWords: a.MaxWords, SilenceThreshold: a.SilenceThreshold}
		c.GreetingEnd = amd.EndOptions{EndSilence: a.EndSilence, Timeout: a.BeepTimeout, SilenceThreshold: a.SilenceThreshold}
	}
	if cc.Voicemail.On() {
		c.Voicemail = slices.Clone(cc.Voicemail.Prompts)
	}
	c.fill()
	return c, nil
}

// fill applies defaults to a campaign built in code (tests, the simulator).
func (c *Campaign) fill() {
	if c.Days == 0 {
		c.Days = calendar.EveryDay
	}
	if len(c.Hours) == 0 {
		c.Hours = []calendar.Range{{Start: calendar.ClockAt(8, 0), End: calendar.ClockAt(21, 0)}}
	}
	if c.Pacing == "" {
		c.Pacing = Agentless
	}
	if c.RingTimeout == 0 {
		c.RingTimeout = 25 * time.Second
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 3
	}
	r := &c.Retry
	for _, x := range []struct {
		d   *time.Duration
		def time.Duration
	}{{&r.NoAnswer, 2 * time.Hour}, {&r.Busy, 15 * time.Minute}, {&r.Machine, 4 * time.Hour},
		{&r.Failed, 30 * time.Minute}, {&r.Abandoned, time.Hour}, {&c.MinSpacing, time.Hour}} {
		if *x.d == 0 {
			*x.d = x.def
		}
	}
	if c.AbandonTarget == 0 {
		c.AbandonTarget = 0.01
	}
	if c.AbandonTarget > config.HardAbandonCap {
		c.AbandonTarget = config.HardAbandonCap
	}
	if c.Recording == "" {
		c.Recording = config.RecordNever
	}
	if len(c.AbandonPrompts) == 0 {
		c.AbandonPrompts = []string{"dialer/abandoned", "dialer/stop_calls_option"}
	}
	if c.IdentificationPrompt == "" {
		c.IdentificationPrompt = "dialer/identification"
	}
	if c.OptOutKey == "" {
		c.OptOutKey = "9"
	}
	if c.Language == "" {
		c.Language = "en"
	}
}

// ScheduleLookup returns the calendar of a named schedule.
type ScheduleLookup func(name string) (*calendar.Calendar, bool)

// CampaignsFromConfig builds every configured campaign. schedules resolves
// campaign schedule names (nil: campaigns may not name one).
func CampaignsFromConfig(cfg *config.Config, schedules ScheduleLookup) (map[string]*Campaign, error) {
	out := map[string]*Campaign{}
	var errs []error
	for name, cc := range cfg.Campaigns {
		var sched *calendar.Calendar
		if cc != nil && cc.Schedule != "" {
			var ok bool
			if schedules != nil {
				sched, ok = schedules(cc.Schedule)
			}
			if !ok {
				errs = append(errs, fmt.Errorf("%w: %s: unknown schedule %q", ErrCampaign, name, cc.Schedule))
				continue
			}
		}
		c, err := NewCampaign(name, cc, sched)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[name] = c
	}
	return out, errors.Join(errs...)
}

// Rules are the compliance settings shared by all campaigns.
type Rules struct {
	// CallingHours is the federal floor in the patient's local time (08:00-21:00).
	CallingHours calendar.Range
	// StateHours narrow CallingHours by US state.
	StateHours map[string]calendar.Range
	// DailyCap and WeeklyCap limit calls per phone across campaigns, in the patient's
	// local days (the week: the last 7 local days).
	DailyCap, WeeklyCap int
	// Holidays are local dates with no calls.
	Holidays []calendar.Date
}

// DefaultRules are 08:00-21:00, FL/OK/MD 08:00-20:00, 1 call a day and 3 a week.
func DefaultRules() Rules {
	r, _ := RulesFromConfig(config.Dialer{})
	return r
}

// RulesFromConfig parses the dialer section (defaults apply to zero fields).
func RulesFromConfig(d config.Dialer) (Rules, error) {
	if d.CallingHours == "" {
		d.CallingHours = "08:00-21:00"
	}
	st := config.DefaultStateHours()
	for k, v := range d.StateHours {
		st[k] = v
	}
	if d.DailyCap == 0 {
		d.DailyCap = 1
	}
	if d.WeeklyCap == 0 {
		d.WeeklyCap = 3
	}
	var r Rules
	var err error
	if r.CallingHours, err = calendar.ParseRange(d.CallingHours); err != nil {
		return r, fmt.Errorf("%w: dialer.calling_hours: %w", ErrCampaign, err)
	}
	r.StateHours = map[string]calendar.Range{}
	for k, v := range st {
		if r.StateHours[k], err = calendar.ParseRange(v); err != nil {
			return r, fmt.Errorf("%w: dialer.state_hours.%s: %w", ErrCampaign, k, err)
		}
	}
	r.DailyCap, r.WeeklyCap = d.DailyCap, d.WeeklyCap
	for _, h := range d.Holidays {
		day, err := calendar.ParseDate(h)
		if err != nil {
			return r, fmt.Errorf("%w: dialer.holidays: %w", ErrCampaign, err)
		}
		r.Holidays = append(r.Holidays, day)
	}
	return r, nil
}
