package config

import (
	"errors"
	"strings"
	"time"

	"github.com/careline/careline/calendar"
)

// This file holds the schema of schedules (business hours) and IVR flows. The
// config package only decodes them and checks what it can without knowing the IVR:
// schedules build into calendars, and numbers name existing flows. The flow graph
// itself (references, reachability, prompts, loops, languages) is checked by
// ivr.Validate, which also applies the defaults documented on each field.

// Flow is an IVR graph of named nodes. The call starts at Start and moves from node
// to node until a terminal node (hangup, queue, transfer, voicemail,
// callback_request) ends it.
type Flow struct {
	Start string           `yaml:"start"`
	Nodes map[string]*Node `yaml:"nodes"`
}

// Node is one step of a flow. Exactly one of the kind fields is set; Next and
// Event are common to every kind.
type Node struct {
	Menu            *MenuNode        `yaml:"menu"`
	Play            *PlayNode        `yaml:"play"`
	Collect         *CollectNode     `yaml:"collect"`
	Say             *SayNode         `yaml:"say"`
	SetLanguage     *SetLanguageNode `yaml:"set_language"`
	BranchHours     *BranchHoursNode `yaml:"branch_hours"`
	Branch          *BranchNode      `yaml:"branch"`
	Queue           *QueueNode       `yaml:"queue"`
	Transfer        *TransferNode    `yaml:"transfer"`
	Voicemail       *VoicemailNode   `yaml:"voicemail"`
	CallbackRequest *CallbackNode    `yaml:"callback_request"`
	Hangup          *HangupNode      `yaml:"hangup"`

	// Next is the node after play, say, set_language and a successful collect.
	Next string `yaml:"next"`
	// Event names a business event ("refill.requested") logged when the node exits
	// normally; it carries a category and keyed hash of EventVar (default: the
	// collect node's into variable), never the raw value.
	Event    string `yaml:"event"`
	EventVar string `yaml:"event_var"`
}

// LangPrompt is a prompt played in a fixed language whatever the call's language
// ("For English press 1" in English, "Para español oprima 2" in Spanish).
type LangPrompt struct {
	Lang   string `yaml:"lang"`
	Prompt string `yaml:"prompt"`
}

// MenuNode plays prompts and waits for one key (or a multi-digit entry matching
// Match). The vocabulary and defaults follow FreeSWITCH mod_ivr menus.
type MenuNode struct {
	Prompts        []string     `yaml:"prompts"`         // greeting, in the call's language
	PlayIn         []LangPrompt `yaml:"play_in"`         // then these, each in its own language
	ShortPrompts   []string     `yaml:"short_prompts"`   // re-prompt after invalid/timeout; default Prompts
	InvalidPrompts []string     `yaml:"invalid_prompts"` // default menu/invalid
	TimeoutPrompts []string     `yaml:"timeout_prompts"` // default menu/timeout
	FailurePrompts []string     `yaml:"failure_prompts"` // before leaving by on_failure; default none

	Timeout           time.Duration `yaml:"timeout"`             // first key, default 10s
	InterDigitTimeout time.Duration `yaml:"inter_digit_timeout"` // with match, default timeout/2
	MaxFailures       int           `yaml:"max_failures"`        // invalid entries, default 3
	MaxTimeouts       int           `yaml:"max_timeouts"`        // default max_failures
	BargeIn           *bool         `yaml:"barge_in"`            // default true
	Terminator        *string       `yaml:"terminator"`          // ends a match entry, default "#"

	Options   map[string]*MenuOption `yaml:"options,quotedkeys"` // DTMF key → action
	Match     *MenuMatch             `yaml:"match"`
	OnTimeout string                 `yaml:"on_timeout"` // after max_timeouts; default on_failure
	OnFailure string                 `yaml:"on_failure"` // after max_failures (required)
}

// MenuOption is what one key does: go to Next (optionally switching language), or
// repeat the menu.
type MenuOption struct {
	Next        string `yaml:"next"`
	SetLanguage string `yaml:"set_language"`
	Repeat      bool   `yaml:"repeat"`
}

// MenuMatch accepts a multi-digit entry matching Pattern (whole entry), e.g. an
// extension, storing it in Into.
type MenuMatch struct {
	Pattern   string `yaml:"pattern"`
	MaxDigits int    `yaml:"max_digits"` // default 10
	Into      string `yaml:"into"`
	Next      string `yaml:"next"`
}

// PlayNode plays prompts, then goes to the node's next.
type PlayNode struct {
	Prompts []string     `yaml:"prompts"`
	PlayIn  []LangPrompt `yaml:"play_in"`
	BargeIn bool         `yaml:"barge_in"` // default false: a key does not cut the prompt short
}

// CollectNode asks for a digit string (a prescription number) and checks it.
type CollectNode struct {
	Prompts        []string `yaml:"prompts"`
	InvalidPrompts []string `yaml:"invalid_prompts"` // default menu/invalid
	TimeoutPrompts []string `yaml:"timeout_prompts"` // default menu/timeout
	FailurePrompts []string `yaml:"failure_prompts"`

	MinDigits         int           `yaml:"min_digits"` // default 1
	MaxDigits         int           `yaml:"max_digits"` // default 20
	Terminator        *string       `yaml:"terminator"` // default "#"; "" for none
	Timeout           time.Duration `yaml:"timeout"`    // default 10s
	InterDigitTimeout time.Duration `yaml:"inter_digit_timeout"`
	Validate          string        `yaml:"validate"` // length (default), luhn, regex
	Pattern           string        `yaml:"pattern"`  // for validate: regex
	MaxAttempts       int           `yaml:"max_attempts"`
	BargeIn           *bool         `yaml:"barge_in"` // default true
	Into              string        `yaml:"into"`     // call variable (required)
	OnFailure         string        `yaml:"on_failure"`
}

// SayNode speaks a value from recorded fragments in the call's language, between
// optional prompts: "your refill request for prescription number | 1 2 3 | has
// been received".
type SayNode struct {
	Before   []string `yaml:"before"`
	As       string   `yaml:"as"` // number, digits, date, time, datetime, money, hours
	Var      string   `yaml:"var"`
	Value    string   `yaml:"value"`
	Schedule string   `yaml:"schedule"` // as: hours
	After    []string `yaml:"after"`
	BargeIn  bool     `yaml:"barge_in"`
}

// SetLanguageNode switches the call's language.
type SetLanguageNode struct {
	Language string `yaml:"language"`
}

// BranchHoursNode goes one way or another by a schedule's state now.
type BranchHoursNode struct {
	Schedule string `yaml:"schedule"`
	Open     string `yaml:"open"`
	Closed   string `yaml:"closed"`
	Holiday  string `yaml:"holiday"` // default closed
	Closure  string `yaml:"closure"` // a closure or special hours; default closed
}

// BranchNode picks the first case that holds (else Default), or asks the patient
// look-up hook (Lookup) and branches on its answer.
type BranchNode struct {
	Cases   []BranchCase  `yaml:"cases"`
	Default string        `yaml:"default"`
	Lookup  *BranchLookup `yaml:"lookup"`
}

// BranchCase holds when every condition given holds.
type BranchCase struct {
	Language  string `yaml:"language"`  // the call's current language
	DID       string `yaml:"did"`       // the dialed number
	Trunk     string `yaml:"trunk"`     // the trunk the call came from
	Direction string `yaml:"direction"` // inbound or outbound
	CallerID  *bool  `yaml:"caller_id"` // a caller id is present (true) or withheld (false)
	Var       string `yaml:"var"`       // the variable is set (non-empty) ...
	Equals    string `yaml:"equals"`    // ... and, if given, equals this
	Next      string `yaml:"next"`
}

// BranchLookup calls the patient look-up hook with a time limit.
type BranchLookup struct {
	Timeout   time.Duration `yaml:"timeout"` // default 3s
	Found     string        `yaml:"found"`
	NotFound  string        `yaml:"not_found"`
	OnTimeout string        `yaml:"on_timeout"` // default not_found
	OnError   string        `yaml:"on_error"`   // default not_found
}

// QueueNode ends the flow by handing the call to a queue.
type QueueNode struct {
	Name     string   `yaml:"name"`
	Skills   []string `yaml:"skills"`
	Priority string   `yaml:"priority"` // normal (default), high, urgent
	Reason   string   `yaml:"reason"`   // default: the node name
	Prompts  []string `yaml:"prompts"`  // e.g. "please hold while we connect you"
}

// TransferNode ends the flow by transferring the call to a SIP URI or number.
type TransferNode struct {
	Target    string   `yaml:"target"`
	Prompts   []string `yaml:"prompts"`
	OnFailure string   `yaml:"on_failure"` // default: end the flow with an error outcome
}

// VoicemailNode records a message and hands it to the voicemail store.
type VoicemailNode struct {
	Box          string        `yaml:"box"`
	Prompts      []string      `yaml:"prompts"`       // default voicemail/instructions
	Beep         string        `yaml:"beep"`          // default tone/beep
	SavedPrompts []string      `yaml:"saved_prompts"` // default voicemail/saved
	MaxLength    time.Duration `yaml:"max_length"`    // default 2m
	MinLength    time.Duration `yaml:"min_length"`    // shorter is "no message"; default 1s
	Silence      time.Duration `yaml:"silence"`       // ends the recording; default 5s
	Terminator   *string       `yaml:"terminator"`    // default "#"
	OnFailure    string        `yaml:"on_failure"`    // no store, save failed, or no message
}

// CallbackNode takes a call-back request: confirm the caller id or key in a number.
type CallbackNode struct {
	ConfirmPrompts   []string      `yaml:"confirm_prompts"`   // default callback/confirm_caller_number (1 yes, 2 other)
	EnterPrompts     []string      `yaml:"enter_prompts"`     // default callback/enter_number
	InvalidPrompts   []string      `yaml:"invalid_prompts"`   // default menu/invalid
	ConfirmedPrompts []string      `yaml:"confirmed_prompts"` // default callback/confirmed
	MinDigits        int           `yaml:"min_digits"`        // default 10
	MaxDigits        int           `yaml:"max_digits"`        // default 11
	Timeout          time.Duration `yaml:"timeout"`           // default 10s
	MaxAttempts      int           `yaml:"max_attempts"`      // default 3
	OnFailure        string        `yaml:"on_failure"`        // default: hang up
}

// HangupNode ends the call, after an optional goodbye.
type HangupNode struct {
	Prompts []string `yaml:"prompts"`
}

// Kinds returns the kind keys set on n, in declaration order.
func (n *Node) Kinds() []string {
	var ks []string
	add := func(set bool, k string) {
		if set {
			ks = append(ks, k)
		}
	}
	add(n.Menu != nil, "menu")
	add(n.Play != nil, "play")
	add(n.Collect != nil, "collect")
	add(n.Say != nil, "say")
	add(n.SetLanguage != nil, "set_language")
	add(n.BranchHours != nil, "branch_hours")
	add(n.Branch != nil, "branch")
	add(n.Queue != nil, "queue")
	add(n.Transfer != nil, "transfer")
	add(n.Voicemail != nil, "voicemail")
	add(n.CallbackRequest != nil, "callback_request")
	add(n.Hangup != nil, "hangup")
	return ks
}

// NodeKinds lists every node kind key.
func NodeKinds() []string {
	return []string{"menu", "play", "collect", "say", "set_language", "branch_hours", "branch",
		"queue", "transfer", "voicemail", "callback_request", "hangup"}
}

// Kind returns the node's single kind, or "" if it has none or several.
func (n *Node) Kind() string {
	if ks := n.Kinds(); len(ks) == 1 {
		return ks[0]
	}
	return ""
}

// Calendars builds every schedule; schedules with errors are left out (Load has
// reported them).
func (c *Config) Calendars() map[string]*calendar.Calendar {
	out := make(map[string]*calendar.Calendar, len(c.Schedules))
	for name, s := range c.Schedules {
		if s == nil {
			continue
		}
		if cal, err := calendar.FromSpec(*s); err == nil {
			out[name] = cal
		}
	}
	return out
}

func (c *Config) scheduleDefaults() {
	for _, s := range c.Schedules {
		if s != nil && s.TimeZone == "" {
			s.TimeZone = c.Site.Timezone
		}
	}
}

// validateSchedules builds each schedule and reports its problems at their paths.
func (c *Config) validateSchedules(r *Reporter) {
	for _, name := range sortedKeys(c.Schedules) {
		s, p := c.Schedules[name], Join("schedules", name)
		if s == nil {
			r.Errorf(p, `give it weekly hours, e.g. weekly: {mon-fri: ["08:00-20:00"]}`, "empty schedule")
			continue
		}
		_, err := calendar.FromSpec(*s)
		if err == nil {
			continue
		}
		errs := []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = j.Unwrap()
		}
		for _, e := range errs {
			path, msg, rel := p, e.Error(), ""
			var se *calendar.SpecError
			if errors.As(e, &se) {
				msg = se.Err.Error()
				if se.Path != "schedule" && se.Path != "" {
					rel = se.Path
					path = Join(p, se.Path)
				}
			}
			msg = strings.ReplaceAll(msg, "calendar: invalid calendar: ", "")
			msg = strings.ReplaceAll(msg, "calendar: ", "")
			r.Errorf(path, scheduleFix(rel), "%s", msg)
		}
	}
}

func scheduleFix(rel string) string {
	switch {
	case rel == "timezone":
		return `use an IANA zone such as "America/Chicago" (or leave it out for site.timezone)`
	case strings.HasPrefix(rel, "weekly"):
		return `write days as mon-fri, sat or daily, and hours as "08:00-20:00"`
	case strings.HasPrefix(rel, "closures"):
		return `write local date-times as "2026-01-20 12:00"`
	case strings.HasPrefix(rel, "holidays"), strings.HasPrefix(rel, "special"):
		return `write dates as "2026-12-25" and hours as "09:00-13:00"`
	}
	return "remove overlapping hours and dates given twice"
}

// validateNumberFlows checks that every number's flow exists.
func (c *Config) validateNumberFlows(r *Reporter) {
	for _, num := range sortedKeys(c.Numbers) {
		n := c.Numbers[num]
		if n == nil || n.Flow == "" {
			continue
		}
		if f, ok := c.Flows[n.Flow]; !ok || f == nil {
			fix := "add a flow named " + n.Flow + " under flows:"
			if names := sortedKeys(c.Flows); len(names) > 0 {
				fix = "use one of: " + strings.Join(names, ", ")
			}
			r.Errorf(Join("numbers", num, "flow"), fix, "unknown flow %q", n.Flow)
		}
	}
}
