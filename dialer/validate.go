package dialer

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/careline/careline/config"
	"github.com/careline/careline/say"
	"github.com/nyaruka/phonenumbers"
)

// MaxMessage is the longest prerecorded message the healthcare exemption allows
// (FCC 15-72: voice calls one minute or less).
const MaxMessage = 60 * time.Second

// Message placeholders in FlowSummary.Message and voicemail templates.
const (
	SayCallback    = config.PlaceholderCallback // the callback number, digit by digit
	SayAppointment = "$appointment_at"          // the appointment date and time
)

// FlowSummary is what the dialer must know about a campaign's flow; the IVR side
// builds it from the flow graph (the flow schema belongs to ivr).
type FlowSummary struct {
	// Message is what a patient hears from the answer until the first key is asked
	// for, in order: prompt ids, SayAppointment and SayCallback.
	Message []string
	// OptOutKeys are the keys of that first menu that opt the patient out.
	OptOutKeys []string
}

// PromptDuration returns how long a prompt plays in a language (false: no recording).
type PromptDuration func(lang, id string) (time.Duration, bool)

// ValidateEnv is what ValidateCampaigns checks campaigns against. Nil lookups skip
// their checks.
type ValidateEnv struct {
	Flows     func(name string) (FlowSummary, bool)
	Schedules func(name string) bool
	Queues    func(name string) bool
	Durations PromptDuration
}

// ValidateCampaigns checks what config.Parse cannot: each flow exists, starts with the
// identification prompt, offers the opt-out key, and its message fits 60 s in every
// site language (estimated from prompt durations, with the longest appointment date
// and the callback number spoken out); the voicemail and abandon messages fit 60 s
// and their prompts exist; schedules and queues exist. Issues carry YAML paths; the
// caller locates them (cfg.Locate) for file:line.
func ValidateCampaigns(cfg *config.Config, env ValidateEnv) config.Issues {
	var r config.Reporter
	names := make([]string, 0, len(cfg.Campaigns))
	for n := range cfg.Campaigns {
		names = append(names, n)
	}
	slices.Sort(names)
	langs := cfg.Site.Languages
	for _, name := range names {
		cp, p := cfg.Campaigns[name], config.Join("campaigns", name)
		if cp == nil {
			continue
		}
		if cp.Schedule != "" && env.Schedules != nil && !env.Schedules(cp.Schedule) {
			r.Errorf(config.Join(p, "schedule"), "use one of schedules", "unknown schedule %q", cp.Schedule)
		}
		if cp.Queue != "" && env.Queues != nil && !env.Queues(cp.Queue) {
			r.Errorf(config.Join(p, "queue"), "use one of queues", "unknown queue %q", cp.Queue)
		}
		if cp.Flow != "" && env.Flows != nil {
			fp := config.Join(p, "flow")
			fs, ok := env.Flows(cp.Flow)
			switch {
			case !ok:
				r.Errorf(fp, "use one of flows", "unknown flow %q", cp.Flow)
			default:
				if len(fs.Message) == 0 || fs.Message[0] != cp.IdentificationPrompt {
					r.Errorf(fp, fmt.Sprintf("start the flow with the prompt %s", cp.IdentificationPrompt),
						"flow %q does not identify the pharmacy first", cp.Flow)
				}
				if !slices.Contains(fs.OptOutKeys, cp.OptOutKey) {
					r.Errorf(fp, fmt.Sprintf(`offer "%s" in the first menu, leading to an opt-out`, cp.OptOutKey),
						"flow %q has no opt-out key %q (every live call needs an interactive opt-out)", cp.Flow, cp.OptOutKey)
				}
				checkLength(&r, fp, "flow message", fs.Message, langs, cp.CallbackNumber, env.Durations)
			}
		}
		if cp.Voicemail.On() {
			checkLength(&r, config.Join(p, "voicemail", "prompts"), "voicemail", cp.Voicemail.Prompts, langs, cp.CallbackNumber, env.Durations)
		}
		checkLength(&r, config.Join(p, "abandon_prompts"), "abandon message", cp.AbandonPrompts, langs, cp.CallbackNumber, env.Durations)
	}
	return r.Issues()
}

func checkLength(r *config.Reporter, path, what string, items, langs []string, callback string, dur PromptDuration) {
	if dur == nil {
		return
	}
	for _, lang := range langs {
		d, missing := EstimateMessage(lang, items, callback, dur)
		if len(missing) > 0 {
			r.Errorf(path, "render the prompts (careline prompts render) or fix the ids",
				"%s: no %s recording for %s", what, lang, strings.Join(missing, ", "))
			continue
		}
		if d > MaxMessage {
			r.Errorf(path, "shorten the prompts: a healthcare message may last at most 60 s",
				"%s lasts about %s in %s", what, d.Round(100*time.Millisecond), lang)
		}
	}
}

// EstimateMessage adds up how long items play in lang: prompt ids by their recording,
// SayCallback as the callback number's digits, SayAppointment as a long date and
// time. It returns the ids without a recording (and unknown placeholders).
func EstimateMessage(lang string, items []string, callback string, dur PromptDuration) (time.Duration, []string) {
	var total time.Duration
	var missing []string
	// The longest English and Spanish dates: a long weekday and month, a two-word day
	// and a time with minutes.
	longest := time.Date(2026, time.September, 23, 11, 47, 0, 0, time.UTC)
	for _, it := range items {
		var ids []string
		switch it {
		case SayCallback:
			text := callback
			if n, err := phonenumbers.Parse(callback, "US"); err == nil {
				text = phonenumbers.Format(n, phonenumbers.NATIONAL)
			}
			ids = say.Digits(say.Lang(lang), text)
		case SayAppointment:
			ids = say.DateTime(say.Lang(lang), longest)
		default:
			if strings.HasPrefix(it, "$") {
				missing = append(missing, it)
				continue
			}
			ids = []string{it}
		}
		for _, id := range ids {
			d, ok := dur(lang, id)
			if !ok {
				if !slices.Contains(missing, id) {
					missing = append(missing, id)
				}
				continue
			}
			total += d
		}
	}
	return total, missing
}
