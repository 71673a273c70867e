package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Skill declares a skill that agents may hold (with a level 1–5) and queues may
// require. Every skill an agent or a queue names must be declared under the top-level
// `skills:` key (a config without any skills: section gets only a warning for its
// agents' skills, so that configs older than queues keep loading). A role skill (pharmacist, nurse: a licence, not a proficiency) is a
// hard constraint: a queue's requirement on it applies at every relaxation step, and
// relaxation steps may not mention it.
type Skill struct {
	Role        bool   `yaml:"role"`
	Description string `yaml:"description"`
}

// Routing holds the defaults that queues inherit and routing-wide settings.
type Routing struct {
	RingTimeout  time.Duration `yaml:"ring_timeout"`  // default 18s
	WrapUp       time.Duration `yaml:"wrap_up"`       // default 15s
	MaxWait      time.Duration `yaml:"max_wait"`      // default 10m
	ServiceLevel time.Duration `yaml:"service_level"` // default 60s
	// StarvationWait is the anti-starvation cap: a caller who has waited this long is
	// served as if urgent (ahead of urgent callers who arrived after it). Default 120s.
	StarvationWait time.Duration `yaml:"starvation_wait"`
	// AwayReasons are the reasons an agent may give for going away (break, lunch, ...).
	// System reasons (rona, no_codec, rejected, unreachable, offer_lost) are added by
	// careline and may not be listed.
	AwayReasons []string `yaml:"away_reasons"`
	// Dispositions maps DTMF codes an agent keys in wrap-up to disposition names.
	Dispositions map[string]string `yaml:"dispositions,quotedkeys"`
	Estimate     Estimate          `yaml:"estimate"`
	// Hours names the schedule (schedules:) callbacks are placed in; empty: any time.
	Hours string `yaml:"hours"`
}

// Estimate tunes estimated-wait announcements; an estimate is announced only when it
// is stable (enough recent samples, low relative error), rounded up and capped.
type Estimate struct {
	MinSamples       int           `yaml:"min_samples"`        // default 10
	Window           time.Duration `yaml:"window"`             // default 30m
	MaxRelativeError float64       `yaml:"max_relative_error"` // default 0.25
	Cap              time.Duration `yaml:"cap"`                // default 20m
}

// Queue is a line callers wait in until a matching agent is free.
type Queue struct {
	Name string `yaml:"name"` // display name
	// Priority is the minimum priority of its callers: normal (default) or urgent.
	Priority string `yaml:"priority"`
	// Require maps skill → minimum level (1–5) an agent must hold.
	Require map[string]int `yaml:"require"`
	// Language: "caller" (default: the agent must speak the caller's language), "any",
	// or a fixed language code.
	Language string `yaml:"language"`
	// Prefer lists soft preferences: a matching agent is ranked as if idle Bonus longer.
	Prefer []Preference `yaml:"prefer"`
	// Relax widens the requirements as a caller's wait grows.
	Relax          []RelaxStep   `yaml:"relax"`
	ServiceLevel   time.Duration `yaml:"service_level"`
	RingTimeout    time.Duration `yaml:"ring_timeout"`
	WrapUp         time.Duration `yaml:"wrap_up"`
	MaxWait        time.Duration `yaml:"max_wait"`
	StarvationWait time.Duration `yaml:"starvation_wait"`
	// Overflow is where a caller goes after MaxWait: "queue:NAME", "voicemail",
	// "voicemail:BOX" or "callback". Default voicemail.
	Overflow OverflowTarget `yaml:"overflow"`
	// Record is the recording policy: never (default), always, or on_demand (the
	// notice plays and the recording starts paused until someone resumes it).
	Record string `yaml:"record"`
	// Callback, when present, lets a waiting caller ask to be called back keeping
	// their place.
	Callback     *QueueCallback    `yaml:"callback"`
	Dispositions map[string]string `yaml:"dispositions,quotedkeys"` // overrides routing.dispositions

	ownDispositions bool
}

// Preference is a soft preference: an agent holding Skill at Level or more (or, with
// language: caller, speaking the caller's language) is ranked as if idle Bonus longer.
type Preference struct {
	Skill    string        `yaml:"skill"`
	Level    int           `yaml:"level"`
	Language string        `yaml:"language"` // "caller"
	Bonus    time.Duration `yaml:"bonus"`
}

// RelaxStep applies once a caller has waited After: Require (if given) replaces the
// queue's non-role requirements; Language (if given) replaces the language rule. Role
// requirements of the queue always apply.
type RelaxStep struct {
	After    time.Duration  `yaml:"after"`
	Require  map[string]int `yaml:"require"`
	Language string         `yaml:"language"`
}

// QueueCallback configures "press 1 to be called back and keep your place".
type QueueCallback struct {
	OfferAfter time.Duration `yaml:"offer_after"` // when the IVR offers it; default 60s
	Retries    int           `yaml:"retries"`     // extra attempts if the patient is not reached; default 2
	RetryDelay time.Duration `yaml:"retry_delay"` // default 5m
	Expires    time.Duration `yaml:"expires"`     // give up after; default 4h
}

// OverflowKind says where an overflowing caller goes.
type OverflowKind string

// Overflow kinds.
const (
	OverflowVoicemail OverflowKind = "voicemail"
	OverflowQueue     OverflowKind = "queue"
	OverflowCallback  OverflowKind = "callback"
)

// OverflowTarget is written "queue:NAME", "voicemail", "voicemail:BOX" or "callback".
type OverflowTarget struct {
	Kind OverflowKind
	Name string // queue name or mailbox
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (o *OverflowTarget) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	kind, name, _ := strings.Cut(s, ":")
	switch OverflowKind(kind) {
	case OverflowVoicemail:
		o.Kind, o.Name = OverflowVoicemail, name
		return nil
	case OverflowCallback:
		if name == "" {
			o.Kind = OverflowCallback
			return nil
		}
	case OverflowQueue:
		if name != "" {
			o.Kind, o.Name = OverflowQueue, name
			return nil
		}
	}
	return Fixable(`write "queue:NAME", "voicemail", "voicemail:BOX" or "callback"`, "%q is not an overflow target", s)
}

// String formats the target as written.
func (o OverflowTarget) String() string {
	if o.Name == "" {
		return string(o.Kind)
	}
	return string(o.Kind) + ":" + o.Name
}

// Caller priorities by name.
var priorityNames = map[string]int{"normal": 0, "urgent": 1}

// PriorityValue returns the numeric priority of a queue (0 normal, 1 urgent).
func (q *Queue) PriorityValue() int { return priorityNames[q.Priority] }

// SystemAwayReasons are set by careline itself, never by an agent.
var SystemAwayReasons = []string{"rona", "no_codec", "rejected", "unreachable", "offer_lost"}

var (
	nameRE        = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
	dispositionRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
	dtmfCodeRE    = regexp.MustCompile(`^[0-9]{1,4}$`)
)

func (c *Config) applyRoutingDefaults() {
	r := &c.Routing
	if r.RingTimeout == 0 {
		r.RingTimeout = 18 * time.Second
	}
	if r.WrapUp == 0 {
		r.WrapUp = 15 * time.Second
	}
	if r.MaxWait == 0 {
		r.MaxWait = 10 * time.Minute
	}
	if r.ServiceLevel == 0 {
		r.ServiceLevel = 60 * time.Second
	}
	if r.StarvationWait == 0 {
		r.StarvationWait = 120 * time.Second
	}
	if r.AwayReasons == nil {
		r.AwayReasons = []string{"break", "lunch", "meeting", "training", "other"}
	}
	if r.Dispositions == nil {
		r.Dispositions = map[string]string{"1": "resolved", "2": "follow_up", "3": "transferred", "9": "other"}
	}
	e := &r.Estimate
	if e.MinSamples == 0 {
		e.MinSamples = 10
	}
	if e.Window == 0 {
		e.Window = 30 * time.Minute
	}
	if e.MaxRelativeError == 0 {
		e.MaxRelativeError = 0.25
	}
	if e.Cap == 0 {
		e.Cap = 20 * time.Minute
	}
	for _, q := range c.Queues {
		if q == nil {
			continue
		}
		if q.Priority == "" {
			q.Priority = "normal"
		}
		if q.Language == "" {
			q.Language = "caller"
		}
		if q.RingTimeout == 0 {
			q.RingTimeout = r.RingTimeout
		}
		if q.WrapUp == 0 {
			q.WrapUp = r.WrapUp
		}
		if q.MaxWait == 0 {
			q.MaxWait = r.MaxWait
		}
		if q.ServiceLevel == 0 {
			q.ServiceLevel = r.ServiceLevel
		}
		if q.StarvationWait == 0 {
			q.StarvationWait = r.StarvationWait
		}
		if q.Overflow.Kind == "" {
			q.Overflow.Kind = OverflowVoicemail
		}
		if q.Dispositions == nil {
			q.Dispositions = r.Dispositions
		} else {
			q.ownDispositions = true
		}
		if cb := q.Callback; cb != nil {
			if cb.OfferAfter == 0 {
				cb.OfferAfter = 60 * time.Second
			}
			if cb.Retries == 0 {
				cb.Retries = 2
			}
			if cb.RetryDelay == 0 {
				cb.RetryDelay = 5 * time.Minute
			}
			if cb.Expires == 0 {
				cb.Expires = 4 * time.Hour
			}
		}
	}
}

func inRange(r *Reporter, path string, d, lo, hi time.Duration, what string) {
	if d < lo || d > hi {
		r.Errorf(path, fmt.Sprintf("use a value between %s and %s", lo, hi), "%s %s out of range", what, d)
	}
}

// validateRouting checks skills, the skills and levels agents hold, routing defaults
// and queues.
func (c *Config) validateRouting(r *Reporter, langs map[string]bool) {
	if h := c.Routing.Hours; h != "" {
		if _, ok := c.Schedules[h]; !ok {
			r.Errorf("routing.hours", "name a schedule defined under schedules:", "unknown schedule %q", h)
		}
	}
	for _, name := range sortedKeys(c.Queues) {
		if q := c.Queues[name]; q != nil {
			switch q.Record {
			case "", "never", "always", "on_demand":
			default:
				r.Errorf(Join("queues", name, "record"), "use never, always or on_demand", "unknown recording policy %q", q.Record)
			}
		}
	}
	for _, name := range sortedKeys(c.Skills) {
		if !nameRE.MatchString(name) {
			r.Errorf(Join("skills", name), "use lower-case letters, digits, '-' or '_' (at most 32)", "bad skill name %q", name)
		}
		if langs[name] {
			r.Errorf(Join("skills", name), "languages are listed per agent under languages:, not as skills", "skill %q is a language", name)
		}
	}
	skillRef := func(path, skill string, level int) {
		if _, ok := c.Skills[skill]; !ok && c.Skills == nil && strings.HasPrefix(path, "agents.") {
			// Configs written before skills: existed: accept agents' skills, but say so.
			r.Warnf(path, "declare every skill under the top-level skills: so that typos are caught",
				"skill %q is not declared (no skills: section)", skill)
		} else if !ok {
			fix := "declare it under the top-level skills:"
			if len(c.Skills) > 0 {
				fix += " or use one of: " + strings.Join(sortedKeys(c.Skills), ", ")
			}
			r.Errorf(path, fix, "unknown skill %q", skill)
		}
		if level < 1 || level > 5 {
			r.Errorf(path, "use a level from 1 (basic) to 5 (expert)", "skill level %d out of range", level)
		}
	}
	for _, id := range sortedKeys(c.Agents) {
		a := c.Agents[id]
		if a == nil {
			continue
		}
		for _, s := range sortedKeys(a.Skills) {
			skillRef(Join("agents", id, "skills", s), s, a.Skills[s])
		}
	}

	rt := &c.Routing
	inRange(r, "routing.ring_timeout", rt.RingTimeout, 5*time.Second, 2*time.Minute, "ring timeout")
	inRange(r, "routing.wrap_up", rt.WrapUp, 0, 30*time.Minute, "wrap-up")
	inRange(r, "routing.max_wait", rt.MaxWait, 30*time.Second, 24*time.Hour, "max wait")
	inRange(r, "routing.service_level", rt.ServiceLevel, 5*time.Second, time.Hour, "service level")
	inRange(r, "routing.starvation_wait", rt.StarvationWait, 10*time.Second, time.Hour, "starvation wait")
	system := map[string]bool{}
	for _, s := range SystemAwayReasons {
		system[s] = true
	}
	for i, reason := range rt.AwayReasons {
		p := Join("routing.away_reasons", fmt.Sprintf("[%d]", i))
		switch {
		case system[reason]:
			r.Errorf(p, "remove it: careline sets it itself", "away reason %q is reserved", reason)
		case !dispositionRE.MatchString(reason):
			r.Errorf(p, "use lower-case letters, digits and '_'", "bad away reason %q", reason)
		}
	}
	validateDispositions(r, "routing.dispositions", rt.Dispositions)
	e := rt.Estimate
	if e.MinSamples < 3 || e.MinSamples > 1000 {
		r.Errorf("routing.estimate.min_samples", "use a value between 3 and 1000", "min samples %d out of range", e.MinSamples)
	}
	inRange(r, "routing.estimate.window", e.Window, time.Minute, 24*time.Hour, "estimate window")
	inRange(r, "routing.estimate.cap", e.Cap, time.Minute, 2*time.Hour, "estimate cap")
	if e.MaxRelativeError < 0.01 || e.MaxRelativeError > 1 {
		r.Errorf("routing.estimate.max_relative_error", "use a value between 0.01 and 1", "max relative error %g out of range", e.MaxRelativeError)
	}

	for _, name := range sortedKeys(c.Queues) {
		q, p := c.Queues[name], Join("queues", name)
		if q == nil {
			r.Errorf(p, "describe the queue or remove it", "empty queue")
			continue
		}
		if !nameRE.MatchString(name) {
			r.Errorf(p, "use lower-case letters, digits, '-' or '_' (at most 32)", "bad queue name %q", name)
		}
		if _, ok := priorityNames[q.Priority]; !ok {
			r.Errorf(Join(p, "priority"), "use normal or urgent", "unknown priority %q", q.Priority)
		}
		for _, s := range sortedKeys(q.Require) {
			skillRef(Join(p, "require", s), s, q.Require[s])
		}
		validateLanguageRule(r, Join(p, "language"), q.Language, langs)
		for i, pref := range q.Prefer {
			pp := Join(p, "prefer", fmt.Sprintf("[%d]", i))
			switch {
			case pref.Skill != "" && pref.Language != "":
				r.Errorf(pp, "split it into two preferences", "a preference names both a skill and a language")
			case pref.Skill != "":
				skillRef(Join(pp, "skill"), pref.Skill, max(pref.Level, 1))
				if pref.Level < 0 || pref.Level > 5 {
					r.Errorf(Join(pp, "level"), "use a level from 1 to 5", "skill level %d out of range", pref.Level)
				}
			case pref.Language == "caller":
			case pref.Language != "":
				r.Errorf(Join(pp, "language"), `write language: caller`, "unknown language preference %q", pref.Language)
			default:
				r.Errorf(pp, "add skill: NAME (with level:) or language: caller", "empty preference")
			}
			inRange(r, Join(pp, "bonus"), pref.Bonus, time.Second, 30*time.Minute, "bonus")
		}
		inRange(r, Join(p, "ring_timeout"), q.RingTimeout, 5*time.Second, 2*time.Minute, "ring timeout")
		inRange(r, Join(p, "wrap_up"), q.WrapUp, 0, 30*time.Minute, "wrap-up")
		inRange(r, Join(p, "max_wait"), q.MaxWait, 30*time.Second, 24*time.Hour, "max wait")
		inRange(r, Join(p, "service_level"), q.ServiceLevel, 5*time.Second, time.Hour, "service level")
		inRange(r, Join(p, "starvation_wait"), q.StarvationWait, 10*time.Second, time.Hour, "starvation wait")
		if q.ServiceLevel > q.MaxWait {
			r.Errorf(Join(p, "service_level"), "make service_level shorter than max_wait", "service level %s is longer than max wait %s", q.ServiceLevel, q.MaxWait)
		}
		var prev time.Duration
		for i, st := range q.Relax {
			sp := Join(p, "relax", fmt.Sprintf("[%d]", i))
			if st.After <= prev {
				r.Errorf(Join(sp, "after"), "give each step a later after: than the one before (and > 0)", "relaxation step at %s is not after the previous one", st.After)
			} else if st.After >= q.MaxWait {
				r.Warnf(Join(sp, "after"), "make it shorter than max_wait", "relaxation step at %s never applies: max wait is %s", st.After, q.MaxWait)
			}
			prev = max(prev, st.After)
			if st.Require == nil && st.Language == "" {
				r.Errorf(sp, "add require: or language:", "relaxation step changes nothing")
			}
			for _, s := range sortedKeys(st.Require) {
				if sk := c.Skills[s]; sk != nil && sk.Role {
					r.Errorf(Join(sp, "require", s), "remove it: the queue's role requirements always apply",
						"%s is a role skill and cannot appear in a relaxation step", s)
					continue
				}
				skillRef(Join(sp, "require", s), s, st.Require[s])
			}
			if st.Language != "" {
				validateLanguageRule(r, Join(sp, "language"), st.Language, langs)
			}
		}
		switch q.Overflow.Kind {
		case OverflowQueue:
			if q.Overflow.Name == name {
				r.Errorf(Join(p, "overflow"), "overflow to another queue, voicemail or callback", "queue overflows to itself")
			} else if c.Queues[q.Overflow.Name] == nil {
				r.Errorf(Join(p, "overflow"), "use one of: "+strings.Join(sortedKeys(c.Queues), ", "), "overflow queue %q does not exist", q.Overflow.Name)
			}
		case OverflowCallback:
			if q.Callback == nil {
				r.Errorf(Join(p, "overflow"), "add callback: {} to the queue or overflow elsewhere", "overflow to callback but the queue has no callback section")
			}
		case OverflowVoicemail:
			if q.Overflow.Name != "" && !nameRE.MatchString(q.Overflow.Name) {
				r.Errorf(Join(p, "overflow"), "use lower-case letters, digits, '-' or '_'", "bad mailbox name %q", q.Overflow.Name)
			}
		}
		if cb := q.Callback; cb != nil {
			cp := Join(p, "callback")
			inRange(r, Join(cp, "offer_after"), cb.OfferAfter, 0, 24*time.Hour, "offer_after")
			inRange(r, Join(cp, "retry_delay"), cb.RetryDelay, 30*time.Second, 24*time.Hour, "retry delay")
			inRange(r, Join(cp, "expires"), cb.Expires, time.Minute, 7*24*time.Hour, "expiry")
			if cb.Retries < 0 || cb.Retries > 10 {
				r.Errorf(Join(cp, "retries"), "use a value between 0 and 10", "retries %d out of range", cb.Retries)
			}
		}
		if q.ownDispositions {
			validateDispositions(r, Join(p, "dispositions"), q.Dispositions)
		}
	}
	// Overflow chains must end: queue → queue → ... never returns to a queue.
	for _, name := range sortedKeys(c.Queues) {
		if q := c.Queues[name]; q != nil && q.Overflow.Name == name {
			continue // reported above
		}
		seen := map[string]bool{name: true}
		for q := c.Queues[name]; q != nil && q.Overflow.Kind == OverflowQueue; {
			next := q.Overflow.Name
			if seen[next] {
				r.Errorf(Join("queues", name, "overflow"), "end the chain at voicemail or callback", "overflow chain from %s loops back to %s", name, next)
				break
			}
			seen[next] = true
			q = c.Queues[next]
		}
	}
}

func validateLanguageRule(r *Reporter, path, rule string, langs map[string]bool) {
	switch {
	case rule == "caller" || rule == "any":
	case langs[rule]:
	default:
		r.Errorf(path, "use caller, any, or one of site.languages", "unknown language rule %q", rule)
	}
}

func validateDispositions(r *Reporter, path string, m map[string]string) {
	for _, code := range sortedKeys(m) {
		cp := Join(path, code)
		if !dtmfCodeRE.MatchString(code) {
			r.Errorf(cp, "use 1 to 4 digits", "disposition code %q is not DTMF digits", code)
		}
		if !dispositionRE.MatchString(m[code]) {
			r.Errorf(cp, "use lower-case letters, digits and '_'", "bad disposition name %q", m[code])
		}
	}
}
