package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/careline/careline/calendar"
)

// This file holds the schema of outbound campaigns and of the dialer's compliance
// settings. The config package checks what it can on its own (enums, ranges, trunks,
// windows, voicemail placeholders); dialer.ValidateCampaigns checks what needs other
// parts (the flow's opt-out key and message length, schedules, queues, prompts).

// Campaign purposes.
const (
	PurposeRefillReminder          = "refill_reminder"
	PurposeAppointmentConfirmation = "appointment_confirmation"
)

// CampaignVars are the flow variables a campaign supplies to its flow for every
// contact (the dialer's runner sets them; CSV fields may add more).
func CampaignVars(purpose string) []string {
	v := []string{"pharmacy_name", "callback_number", "opt_out_key", "language"}
	if purpose == PurposeAppointmentConfirmation {
		v = append(v, "appointment_at", "provider", "location")
	}
	return v
}

// Pacing modes.
const (
	PacingAgentless   = "agentless"   // the IVR flow only, bounded by channels and CPS
	PacingProgressive = "progressive" // one dial per ready agent, reserved before dialing
	PacingPredictive  = "predictive"  // dials ahead under an abandon-rate confidence bound
)

// Recording policies.
const (
	RecordAlways   = "always"
	RecordNever    = "never"
	RecordOnDemand = "on_demand"
)

// Voicemail template placeholders. Only the callback number may be spoken on a
// machine (HIPAA minimum necessary: the pharmacy's name is in the recorded prompts).
const PlaceholderCallback = "$callback_number"

// HardAbandonCap is the legal ceiling of the 30-day abandon rate (47 CFR 64.1200(a)(7),
// CPUC D.03-03-038); abandon_target may not exceed it.
const HardAbandonCap = 0.03

// Dialer holds compliance settings shared by every campaign.
type Dialer struct {
	// CallingHours is the federal floor in the patient's local time (default 08:00-21:00).
	CallingHours string `yaml:"calling_hours"`
	// StateHours narrows CallingHours for patients in a state (two-letter code). FL, OK
	// and MD default to 08:00-20:00; an entry here replaces the default of that state.
	StateHours map[string]string `yaml:"state_hours"`
	// DailyCap and WeeklyCap limit calls per patient phone across all campaigns, in the
	// patient's local days (defaults 1 and 3: the FCC healthcare exemption). The week is
	// the last 7 local days.
	DailyCap  int `yaml:"daily_cap"`
	WeeklyCap int `yaml:"weekly_cap"`
	// Holidays are local dates (YYYY-MM-DD) on which no patient is called.
	Holidays []string `yaml:"holidays"`
}

// Campaign is one outbound campaign (refill reminders or appointment confirmations).
type Campaign struct {
	Purpose string `yaml:"purpose"`
	// Flow is the IVR flow run on a live answer (required for agentless pacing).
	Flow string `yaml:"flow"`
	// Queue supplies the agents of progressive and predictive campaigns.
	Queue    string `yaml:"queue"`
	CallerID string `yaml:"caller_id"` // E.164; one of the trunk's caller_ids when it lists them
	Trunk    string `yaml:"trunk"`
	Pacing   string `yaml:"pacing"` // default agentless
	// MaxChannels and MaxCPS bound this campaign's calls (0 = the trunk's limits).
	MaxChannels int     `yaml:"max_channels"`
	MaxCPS      float64 `yaml:"max_cps"`
	// RingTimeout is how long an unanswered call rings (15s-60s; default 25s: the rule
	// is at least 15 s or four rings).
	RingTimeout time.Duration  `yaml:"ring_timeout"`
	Window      CampaignWindow `yaml:"window"`
	// Schedule names the pharmacy's hours (schedules.NAME): calls only while it is open.
	Schedule    string        `yaml:"schedule"`
	Retry       RetryPolicy   `yaml:"retry"`
	MaxAttempts int           `yaml:"max_attempts"` // per contact, default 3
	MinSpacing  time.Duration `yaml:"min_spacing"`  // between calls to one phone, default 1h
	Recording   string        `yaml:"recording"`    // always, never (default), on_demand
	// AbandonTarget is the 30-day abandon-rate target of predictive pacing, held as an
	// upper 95% confidence bound (default 0.01; at most 0.03).
	AbandonTarget float64           `yaml:"abandon_target"`
	AMD           AMD               `yaml:"amd"`
	Voicemail     CampaignVoicemail `yaml:"voicemail"`
	// AbandonPrompts are played when a live answer finds no agent within 2 s
	// (default dialer/abandoned, dialer/stop_calls_option; 9 opts out).
	AbandonPrompts []string `yaml:"abandon_prompts"`
	// IdentificationPrompt must be the first thing a live answer hears
	// (default dialer/identification).
	IdentificationPrompt string `yaml:"identification_prompt"`
	OptOutKey            string `yaml:"opt_out_key"` // default "9"
	PharmacyName         string `yaml:"pharmacy_name"`
	CallbackNumber       string `yaml:"callback_number"` // E.164, said on voicemail
	Language             string `yaml:"language"`        // contacts without one; default site default
}

// CampaignWindow is when the campaign may call, in the patient's local time (it is
// intersected with dialer.calling_hours, the state's hours and the pharmacy schedule).
type CampaignWindow struct {
	Days     string   `yaml:"days"`     // e.g. mon-sat; default daily
	Hours    []string `yaml:"hours"`    // e.g. ["09:00-19:00"]; default 08:00-21:00
	Holidays []string `yaml:"holidays"` // YYYY-MM-DD, no calls that local date
}

// RetryPolicy is the wait before the next attempt, per disposition of the last one.
type RetryPolicy struct {
	NoAnswer  time.Duration `yaml:"no_answer"` // default 2h
	Busy      time.Duration `yaml:"busy"`      // default 15m
	Machine   time.Duration `yaml:"machine"`   // machine and no voicemail left; default 4h
	Failed    time.Duration `yaml:"failed"`    // network failure or unknown outcome; default 30m
	Abandoned time.Duration `yaml:"abandoned"` // default 1h
}

// AMD tunes answering-machine detection (the parameters of Asterisk's app_amd).
type AMD struct {
	Enabled              *bool         `yaml:"enabled"`                // default true
	InitialSilence       time.Duration `yaml:"initial_silence"`        // default 2500ms
	Greeting             time.Duration `yaml:"greeting"`               // default 1500ms
	AfterGreetingSilence time.Duration `yaml:"after_greeting_silence"` // default 800ms
	TotalAnalysisTime    time.Duration `yaml:"total_analysis_time"`    // default 5s
	MinWordLength        time.Duration `yaml:"min_word_length"`        // default 100ms
	BetweenWordsSilence  time.Duration `yaml:"between_words_silence"`  // default 50ms
	MaxWordLength        time.Duration `yaml:"max_word_length"`        // default 5s
	MaxWords             int           `yaml:"max_words"`              // default 3
	SilenceThreshold     int           `yaml:"silence_threshold"`      // mean |sample|, default 256
	// EndSilence is the silence that ends a machine greeting when no beep is heard
	// (default 2s); BeepTimeout caps the wait for the greeting to end (default 20s).
	EndSilence  time.Duration `yaml:"end_silence"`
	BeepTimeout time.Duration `yaml:"beep_timeout"`
}

// On reports whether AMD is enabled.
func (a AMD) On() bool { return a.Enabled == nil || *a.Enabled }

// CampaignVoicemail is the message left on an answering machine.
type CampaignVoicemail struct {
	Enabled *bool `yaml:"enabled"` // default true
	// Prompts are prompt ids and the placeholder $callback_number, played after the
	// greeting ends. Default by purpose: dialer/vm_prescription or dialer/vm_appointment,
	// $callback_number, dialer/vm_repeat_number, $callback_number, dialer/vm_opt_out.
	Prompts []string `yaml:"prompts"`
}

// On reports whether voicemail is left.
func (v CampaignVoicemail) On() bool { return v.Enabled == nil || *v.Enabled }

var (
	e164Re  = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	stateRe = regexp.MustCompile(`^[A-Z]{2}$`)
)

// DefaultStateHours are the stricter state calling windows applied unless overridden.
func DefaultStateHours() map[string]string {
	return map[string]string{"FL": "08:00-20:00", "OK": "08:00-20:00", "MD": "08:00-20:00"}
}

func (c *Config) campaignDefaults() {
	d := &c.Dialer
	if d.CallingHours == "" {
		d.CallingHours = "08:00-21:00"
	}
	if d.StateHours == nil {
		d.StateHours = map[string]string{}
	}
	for st, h := range DefaultStateHours() {
		if _, ok := d.StateHours[st]; !ok {
			d.StateHours[st] = h
		}
	}
	if d.DailyCap == 0 {
		d.DailyCap = 1
	}
	if d.WeeklyCap == 0 {
		d.WeeklyCap = 3
	}
	for _, k := range sortedKeys(c.Campaigns) {
		cp := c.Campaigns[k]
		if cp == nil {
			continue
		}
		if cp.Pacing == "" {
			cp.Pacing = PacingAgentless
		}
		if cp.RingTimeout == 0 {
			cp.RingTimeout = 25 * time.Second
		}
		if cp.Window.Days == "" {
			cp.Window.Days = "daily"
		}
		if len(cp.Window.Hours) == 0 {
			cp.Window.Hours = []string{"08:00-21:00"}
		}
		r := &cp.Retry
		setDur(&r.NoAnswer, 2*time.Hour)
		setDur(&r.Busy, 15*time.Minute)
		setDur(&r.Machine, 4*time.Hour)
		setDur(&r.Failed, 30*time.Minute)
		setDur(&r.Abandoned, time.Hour)
		if cp.MaxAttempts == 0 {
			cp.MaxAttempts = 3
		}
		setDur(&cp.MinSpacing, time.Hour)
		if cp.Recording == "" {
			cp.Recording = RecordNever
		}
		if cp.AbandonTarget == 0 {
			cp.AbandonTarget = 0.01
		}
		a := &cp.AMD
		setDur(&a.InitialSilence, 2500*time.Millisecond)
		setDur(&a.Greeting, 1500*time.Millisecond)
		setDur(&a.AfterGreetingSilence, 800*time.Millisecond)
		setDur(&a.TotalAnalysisTime, 5*time.Second)
		setDur(&a.MinWordLength, 100*time.Millisecond)
		setDur(&a.BetweenWordsSilence, 50*time.Millisecond)
		setDur(&a.MaxWordLength, 5*time.Second)
		setDur(&a.EndSilence, 2*time.Second)
		setDur(&a.BeepTimeout, 20*time.Second)
		if a.MaxWords == 0 {
			a.MaxWords = 3
		}
		if a.SilenceThreshold == 0 {
			a.SilenceThreshold = 256
		}
		if len(cp.Voicemail.Prompts) == 0 {
			vm := "dialer/vm_prescription"
			if cp.Purpose == PurposeAppointmentConfirmation {
				vm = "dialer/vm_appointment"
			}
			cp.Voicemail.Prompts = []string{vm, PlaceholderCallback, "dialer/vm_repeat_number", PlaceholderCallback, "dialer/vm_opt_out"}
		}
		if len(cp.AbandonPrompts) == 0 {
			cp.AbandonPrompts = []string{"dialer/abandoned", "dialer/stop_calls_option"}
		}
		if cp.IdentificationPrompt == "" {
			cp.IdentificationPrompt = "dialer/identification"
		}
		if cp.OptOutKey == "" {
			cp.OptOutKey = "9"
		}
		if cp.Language == "" {
			cp.Language = c.DefaultLanguage()
		}
	}
}

func setDur(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

func (c *Config) validateDialer(r *Reporter) {
	d := c.Dialer
	if _, err := calendar.ParseRange(d.CallingHours); err != nil {
		r.Errorf("dialer.calling_hours", `write "HH:MM-HH:MM", e.g. "08:00-21:00"`, "%v", err)
	}
	for _, st := range sortedKeys(d.StateHours) {
		p := Join("dialer.state_hours", st)
		if !stateRe.MatchString(st) {
			r.Errorf(p, "use a two-letter state code in capitals, e.g. FL", "bad state code %q", st)
		}
		if _, err := calendar.ParseRange(d.StateHours[st]); err != nil {
			r.Errorf(p, `write "HH:MM-HH:MM", e.g. "08:00-20:00"`, "%v", err)
		}
	}
	if d.DailyCap < 0 || d.WeeklyCap < 0 {
		r.Errorf("dialer", "use positive caps", "negative call cap")
	}
	if d.DailyCap > 1 || d.WeeklyCap > 3 {
		r.Warnf("dialer", "keep daily_cap: 1 and weekly_cap: 3 unless patients consented to more",
			"caps above 1 per day / 3 per week exceed the FCC healthcare exemption")
	}
	if d.WeeklyCap < d.DailyCap {
		r.Errorf("dialer.weekly_cap", "make weekly_cap at least daily_cap", "weekly cap %d is below daily cap %d", d.WeeklyCap, d.DailyCap)
	}
	for i, h := range d.Holidays {
		if _, err := calendar.ParseDate(h); err != nil {
			r.Errorf(Join("dialer.holidays", fmt.Sprintf("[%d]", i)), "write YYYY-MM-DD", "%v", err)
		}
	}
}

func (c *Config) validateCampaigns(r *Reporter) {
	c.validateDialer(r)
	langs := map[string]bool{}
	for _, l := range c.Site.Languages {
		langs[l] = true
	}
	for _, name := range sortedKeys(c.Campaigns) {
		cp, p := c.Campaigns[name], Join("campaigns", name)
		if cp == nil {
			r.Errorf(p, "describe the campaign or remove it", "empty campaign")
			continue
		}
		if !validName(name) {
			r.Errorf(p, "use letters, digits, '-' and '_' (it appears in metrics and URLs)", "bad campaign name %q", name)
		}
		switch cp.Purpose {
		case PurposeRefillReminder, PurposeAppointmentConfirmation:
		case "":
			r.Errorf(p, "add purpose: refill_reminder or appointment_confirmation", "campaign has no purpose")
		default:
			r.Errorf(Join(p, "purpose"), "use refill_reminder or appointment_confirmation (the healthcare exemption allows no other content)",
				"unsupported purpose %q", cp.Purpose)
		}
		switch cp.Pacing {
		case PacingAgentless:
			if cp.Flow == "" {
				r.Errorf(p, "add flow: <name> (what a patient who answers hears)", "agentless campaign has no flow")
			}
		case PacingProgressive, PacingPredictive:
			if cp.Queue == "" {
				r.Errorf(p, "add queue: <name> (the agents who take the answered calls)", "%s campaign has no queue", cp.Pacing)
			}
		default:
			r.Errorf(Join(p, "pacing"), "use agentless, progressive or predictive", "unknown pacing %q", cp.Pacing)
		}
		c.validateCampaignTrunk(r, p, cp)
		if !e164Re.MatchString(cp.CallbackNumber) {
			r.Errorf(Join(p, "callback_number"), `write the pharmacy's number in E.164, e.g. "+15125550100"`,
				"callback number %q is missing or not E.164 (voicemails and the abandon message must give one)", cp.CallbackNumber)
		}
		if strings.TrimSpace(cp.PharmacyName) == "" {
			r.Errorf(p, "add pharmacy_name: <name> (the caller must identify itself)", "campaign has no pharmacy_name")
		}
		if cp.RingTimeout < 15*time.Second || cp.RingTimeout > 60*time.Second {
			r.Errorf(Join(p, "ring_timeout"), "use 15s to 60s (unanswered calls must ring at least 15 s)", "ring timeout %s out of range", cp.RingTimeout)
		}
		if _, err := calendar.ParseDays(cp.Window.Days); err != nil {
			r.Errorf(Join(p, "window", "days"), "write days such as mon-fri or mon,wed,fri", "%v", err)
		}
		for i, h := range cp.Window.Hours {
			if _, err := calendar.ParseRange(h); err != nil {
				r.Errorf(Join(p, "window", "hours", fmt.Sprintf("[%d]", i)), `write "HH:MM-HH:MM", e.g. "09:00-19:00"`, "%v", err)
			}
		}
		for i, h := range cp.Window.Holidays {
			if _, err := calendar.ParseDate(h); err != nil {
				r.Errorf(Join(p, "window", "holidays", fmt.Sprintf("[%d]", i)), "write YYYY-MM-DD", "%v", err)
			}
		}
		rp := Join(p, "retry")
		for _, x := range []struct {
			k string
			d time.Duration
		}{{"no_answer", cp.Retry.NoAnswer}, {"busy", cp.Retry.Busy}, {"machine", cp.Retry.Machine},
			{"failed", cp.Retry.Failed}, {"abandoned", cp.Retry.Abandoned}} {
			if x.d < time.Minute {
				r.Errorf(Join(rp, x.k), "use at least 1m", "retry delay %s is too short", x.d)
			}
		}
		if cp.MaxAttempts < 1 || cp.MaxAttempts > 10 {
			r.Errorf(Join(p, "max_attempts"), "use 1 to 10", "max attempts %d out of range", cp.MaxAttempts)
		}
		if cp.MinSpacing < 2*time.Minute {
			r.Errorf(Join(p, "min_spacing"), "use at least 2m", "minimum spacing %s is too short", cp.MinSpacing)
		}
		switch cp.Recording {
		case RecordAlways, RecordNever, RecordOnDemand:
		default:
			r.Errorf(Join(p, "recording"), "use always, never or on_demand", "unknown recording policy %q", cp.Recording)
		}
		if cp.AbandonTarget <= 0 || cp.AbandonTarget > HardAbandonCap {
			r.Errorf(Join(p, "abandon_target"), "use a fraction above 0 and at most 0.03, e.g. 0.01",
				"abandon target %g out of range (the legal cap is 3%% of live answers over 30 days)", cp.AbandonTarget)
		}
		validateAMD(r, Join(p, "amd"), cp.AMD)
		c.validateVoicemail(r, p, cp)
		if len(cp.OptOutKey) != 1 || !strings.Contains("0123456789*#", cp.OptOutKey) {
			r.Errorf(Join(p, "opt_out_key"), `use one DTMF key in quotes, e.g. "9"`, "bad opt-out key %q", cp.OptOutKey)
		}
		if !langs[cp.Language] {
			r.Errorf(Join(p, "language"), "use one of site.languages", "language %q is not configured", cp.Language)
		}
	}
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (c *Config) validateCampaignTrunk(r *Reporter, p string, cp *Campaign) {
	if !e164Re.MatchString(cp.CallerID) {
		r.Errorf(Join(p, "caller_id"), `write a number your trunk provider assigned you, in E.164, e.g. "+15125550100"`,
			"caller ID %q is missing or not E.164", cp.CallerID)
	}
	if cp.MaxChannels < 0 || cp.MaxCPS < 0 {
		r.Errorf(p, "use zero (the trunk's limit) or a positive number", "negative channel or CPS limit")
	}
	if cp.Trunk == "" {
		r.Errorf(p, "add trunk: <name> (one of trunks)", "campaign has no trunk")
		return
	}
	t, ok := c.Trunks[cp.Trunk]
	if !ok || t == nil {
		names := sortedKeys(c.Trunks)
		fix := "define the trunk under trunks"
		if len(names) > 0 {
			fix = "use one of: " + strings.Join(names, ", ")
		}
		r.Errorf(Join(p, "trunk"), fix, "unknown trunk %q", cp.Trunk)
		return
	}
	if t.Address == "" {
		r.Errorf(Join(p, "trunk"), "give trunks."+cp.Trunk+".address (where INVITEs go)", "trunk %q cannot place outbound calls", cp.Trunk)
	}
	if len(t.CallerIDs) > 0 && cp.CallerID != "" && !slices.Contains(t.CallerIDs, cp.CallerID) {
		r.Errorf(Join(p, "caller_id"), "use one of trunks."+cp.Trunk+".caller_ids (numbers the provider attests)",
			"caller ID %q is not one of the trunk's caller IDs", cp.CallerID)
	}
	if t.MaxChannels > 0 && cp.MaxChannels > t.MaxChannels {
		r.Errorf(Join(p, "max_channels"), fmt.Sprintf("use at most %d", t.MaxChannels),
			"campaign channels %d exceed the trunk's %d", cp.MaxChannels, t.MaxChannels)
	}
	if t.MaxCPS > 0 && cp.MaxCPS > t.MaxCPS {
		r.Errorf(Join(p, "max_cps"), fmt.Sprintf("use at most %g", t.MaxCPS), "campaign CPS %g exceeds the trunk's %g", cp.MaxCPS, t.MaxCPS)
	}
}

func validateAMD(r *Reporter, p string, a AMD) {
	for _, x := range []struct {
		k      string
		d      time.Duration
		lo, hi time.Duration
	}{
		{"initial_silence", a.InitialSilence, 500 * time.Millisecond, 10 * time.Second},
		{"greeting", a.Greeting, 500 * time.Millisecond, 10 * time.Second},
		{"after_greeting_silence", a.AfterGreetingSilence, 100 * time.Millisecond, 5 * time.Second},
		{"total_analysis_time", a.TotalAnalysisTime, time.Second, 30 * time.Second},
		{"min_word_length", a.MinWordLength, 20 * time.Millisecond, time.Second},
		{"between_words_silence", a.BetweenWordsSilence, 20 * time.Millisecond, time.Second},
		{"max_word_length", a.MaxWordLength, 500 * time.Millisecond, 30 * time.Second},
		{"end_silence", a.EndSilence, 200 * time.Millisecond, 10 * time.Second},
		{"beep_timeout", a.BeepTimeout, time.Second, 60 * time.Second},
	} {
		if x.d < x.lo || x.d > x.hi {
			r.Errorf(Join(p, x.k), fmt.Sprintf("use %s to %s", x.lo, x.hi), "%s %s out of range", x.k, x.d)
		}
	}
	if a.MaxWords < 1 || a.MaxWords > 20 {
		r.Errorf(Join(p, "max_words"), "use 1 to 20", "max words %d out of range", a.MaxWords)
	}
	if a.SilenceThreshold < 1 || a.SilenceThreshold > 32767 {
		r.Errorf(Join(p, "silence_threshold"), "use 1 to 32767 (mean absolute sample value)", "silence threshold %d out of range", a.SilenceThreshold)
	}
}

func (c *Config) validateVoicemail(r *Reporter, p string, cp *Campaign) {
	vp := Join(p, "voicemail", "prompts")
	hasCallback := false
	for i, id := range cp.Voicemail.Prompts {
		ip := Join(vp, fmt.Sprintf("[%d]", i))
		switch {
		case id == PlaceholderCallback:
			hasCallback = true
		case strings.HasPrefix(id, "$"):
			r.Errorf(ip, "use prompt ids and "+PlaceholderCallback+" only",
				"placeholder %q would put patient details on a machine (minimum necessary: pharmacy name and callback number)", id)
		case id == "":
			r.Errorf(ip, "name a prompt id", "empty prompt id")
		}
	}
	if cp.Voicemail.On() && !hasCallback {
		r.Errorf(vp, "add "+PlaceholderCallback+" (a voicemail must give a number to call back and to opt out)",
			"voicemail template has no callback number")
	}
	for i, id := range cp.AbandonPrompts {
		if strings.HasPrefix(id, "$") && id != PlaceholderCallback {
			r.Errorf(Join(p, "abandon_prompts", fmt.Sprintf("[%d]", i)), "use prompt ids and "+PlaceholderCallback+" only",
				"unsupported placeholder %q", id)
		}
	}
}
