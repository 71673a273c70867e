package ivr_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/careline/careline/ivr"
	"github.com/careline/careline/ivr/ivrtest"
	"github.com/careline/careline/say"
	"github.com/careline/careline/store"
)

func flowHarness(t testing.TB, flows string, opts ...ivr.Option) *harness {
	t.Helper()
	return newHarness(t, parseConfig(t, head+flows), opts...)
}

// scenario is one scripted run of a flow.
type scenario struct {
	name    string
	lang    string
	facts   *ivr.Facts
	script  []ivrtest.Step
	exits   []string // "node=exit"
	played  []string // "lang:id"; nil: not checked
	outcome ivr.OutcomeKind
	unused  int // script steps left at the end
	check   func(t *testing.T, out ivr.Outcome, ch *ivrtest.Channel, h *harness)
}

func runScenarios(t *testing.T, flows, flow string, cases []scenario, opts ...ivr.Option) {
	t.Helper()
	cfg := parseConfig(t, head+flows)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, cfg, opts...)
			lang := tc.lang
			if lang == "" {
				lang = "en"
			}
			facts := inbound(true)
			if tc.facts != nil {
				facts = *tc.facts
			}
			ch := ivrtest.NewChannel(lang, facts, tc.script...)
			out, err := h.run(t, flow, ch, ivr.CallInfo{Caller: "+15125550123"})
			if (err != nil) != (out.Kind == ivr.OutcomeError) {
				t.Fatalf("error %v with outcome %v", err, out.Kind)
			}
			if out.Kind != tc.outcome {
				t.Errorf("outcome %v (%+v, err %v), want %v", out.Kind, out, err, tc.outcome)
			}
			wantStrings(t, "exits", h.events.ExitStrings(), tc.exits)
			if tc.played != nil {
				wantStrings(t, "prompts", ch.PlayedIDs(), tc.played)
			}
			if rem := ch.Remaining(); len(rem) != tc.unused {
				t.Errorf("script not consumed: %v", rem)
			}
			if ch.Exhausted() && tc.outcome != ivr.OutcomeHangup {
				t.Error("the flow waited for input after the script ended")
			}
			if tc.check != nil {
				tc.check(t, out, ch, h)
			}
		})
	}
}

const menuFlow = `
flows:
  m:
    start: menu
    nodes:
      menu:
        menu:
          prompts: [p/long]
          short_prompts: [p/short]
          failure_prompts: [p/sorry]
          max_failures: 2
          options:
            "1": {next: one}
            "2": {next: two, set_language: es}
            "*": {repeat: true}
          on_failure: fallback
      one: {hangup: {}}
      two:
        play: {prompts: [p/two]}
        next: one
      fallback:
        queue: {name: staff}
`

func TestMenu(t *testing.T) {
	t.Parallel()
	P, S := ivrtest.Press, ivrtest.Silence
	runScenarios(t, menuFlow, "m", []scenario{
		{name: "option", script: steps(P("1")), exits: []string{"menu=option:1", "one=ok"}, played: en("p/long"),
			check: func(t *testing.T, _ ivr.Outcome, ch *ivrtest.Channel, _ *harness) {
				c := ch.Collects()[0]
				if c.Max != 1 || c.Terminators != "" || c.FirstDigitTimeout != 10*time.Second || c.InterDigitTimeout != 5*time.Second {
					t.Errorf("default menu collect: %+v", c)
				}
				if !ch.Played()[0].BargeIn || !ch.HungUp() {
					t.Error("menu prompts are barge-in by default; the hangup node hangs up")
				}
			}},
		{name: "barge-in key is collected", script: steps(ivrtest.Barge("1")), exits: []string{"menu=option:1", "one=ok"}, played: en("p/long")},
		// 9 is invalid; the 1 typed right after it is waiting, so the invalid and
		// short prompts (barge-in) are skipped.
		{name: "type-ahead key skips the re-prompt", script: steps(P("91")),
			exits: []string{"menu=option:1", "one=ok"}, played: en("p/long")},
		{name: "timeout re-prompts short", script: steps(S(), P("1")), exits: []string{"menu=option:1", "one=ok"},
			played: en("p/long", "menu/timeout", "p/short"),
			check: func(t *testing.T, _ ivr.Outcome, _ *ivrtest.Channel, h *harness) {
				if d := h.events.All()[0].Detail; d["timeouts"] != 1 || d["failures"] != nil {
					t.Errorf("detail %v", d)
				}
			}},
		{name: "invalid re-prompts short", script: steps(P("9"), P("1")), exits: []string{"menu=option:1", "one=ok"},
			played: en("p/long", "menu/invalid", "p/short")},
		{name: "max failures to fallback", script: steps(P("9"), P("#")), exits: []string{"menu=max_failures", "fallback=ok"},
			played: en("p/long", "menu/invalid", "p/short", "p/sorry"), outcome: ivr.OutcomeQueue},
		{name: "max timeouts to on_failure", script: steps(S(), S()), exits: []string{"menu=timeout", "fallback=ok"},
			played: en("p/long", "menu/timeout", "p/short", "p/sorry"), outcome: ivr.OutcomeQueue},
		{name: "late key is a timeout", script: steps(ivrtest.PressAfter(11*time.Second, "1")), exits: []string{"menu=option:1", "one=ok"},
			played: en("p/long", "menu/timeout", "p/short"),
			check: func(t *testing.T, _ ivr.Outcome, ch *ivrtest.Channel, _ *harness) {
				// 10 s first-digit timeout, then the key 1 s into the second wait.
				if ch.Elapsed() != 11*time.Second {
					t.Errorf("elapsed %v", ch.Elapsed())
				}
			}},
		{name: "repeat replays the long prompt without a failure", script: steps(P("*"), P("*"), P("1")),
			exits: []string{"menu=option:1", "one=ok"}, played: en("p/long", "p/long", "p/long")},
		{name: "language switch", script: steps(P("2")), exits: []string{"menu=option:2", "two=ok", "one=ok"},
			played: cat(en("p/long"), es("p/two")),
			check: func(t *testing.T, out ivr.Outcome, ch *ivrtest.Channel, h *harness) {
				ev := h.events.All()[0]
				if ev.Interaction == nil || ev.Interaction.Language != "es" || out.Language != "es" {
					t.Errorf("language patch: %+v, outcome language %q", ev.Interaction, out.Language)
				}
			}},
		{name: "caller hangs up", script: steps(S(), ivrtest.Hangup()), exits: []string{"menu=hangup"},
			played: en("p/long"),
			check: func(t *testing.T, out ivr.Outcome, ch *ivrtest.Channel, _ *harness) {
				if !out.CallerHangup || ch.HungUp() {
					t.Errorf("outcome %+v", out)
				}
			}},
	})
}

func steps(s ...ivrtest.Step) []ivrtest.Step { return s }

const matchFlow = `
flows:
  m:
    start: ext
    nodes:
      ext:
        menu:
          prompts: [p/ext]
          timeout: 3s
          inter_digit_timeout: 2s
          max_timeouts: 1
          options: {"0": {next: operator}}
          match: {pattern: "1[0-9]{3}", into: extension, next: dial}
          on_timeout: operator
          on_failure: operator
      dial:
        transfer: {target: "sip:1001@pbx.example"}
      operator:
        queue: {name: operator}
`

func TestMenuMatch(t *testing.T) {
	t.Parallel()
	P := ivrtest.Press
	dialed := func(t *testing.T, out ivr.Outcome, ch *ivrtest.Channel, h *harness) {
		if out.Vars["extension"] != "1001" || out.Target != "sip:1001@pbx.example" {
			t.Errorf("outcome %+v", out)
		}
		if d := h.events.All()[0].Detail; d["entry"] != "len:4" {
			t.Errorf("detail %v", d)
		}
		c := ch.Collects()[0]
		if c.Max != 10 || c.Terminators != "#" || c.FirstDigitTimeout != 3*time.Second || c.InterDigitTimeout != 2*time.Second {
			t.Errorf("collect %+v", c)
		}
	}
	runScenarios(t, matchFlow, "m", []scenario{
		{name: "terminator", script: steps(P("1001#")), exits: []string{"ext=match", "dial=ok"}, outcome: ivr.OutcomeTransfer, check: dialed},
		{name: "inter-digit timeout ends the entry", script: steps(P("1001"), ivrtest.Silence()), exits: []string{"ext=match", "dial=ok"},
			outcome: ivr.OutcomeTransfer, check: dialed},
		{name: "single key option still works", script: steps(P("0#")), exits: []string{"ext=option:0", "operator=ok"}, outcome: ivr.OutcomeQueue},
		{name: "pause splits an entry", script: steps(P("10"), ivrtest.PressAfter(3*time.Second, "01#"), P("1001#")),
			exits: []string{"ext=match", "dial=ok"}, outcome: ivr.OutcomeTransfer,
			played: en("p/ext", "menu/invalid", "p/ext", "menu/invalid", "p/ext"),
			check: func(t *testing.T, out ivr.Outcome, _ *ivrtest.Channel, h *harness) {
				if d := h.events.All()[0].Detail; d["failures"] != 2 {
					t.Errorf("detail %v", d)
				}
			}},
		{name: "first key too late", script: steps(ivrtest.PressAfter(4*time.Second, "1")), exits: []string{"ext=timeout", "operator=ok"},
			outcome: ivr.OutcomeQueue, unused: 1}, // the late key is never consumed
	})
}

const collectFlow = `
flows:
  c:
    start: rx
    nodes:
      rx:
        collect:
          prompts: [p/enter]
          min_digits: 6
          max_digits: 10
          into: rx
          on_failure: staff
        event: refill.requested
        next: done
      luhn:
        collect: {prompts: [p/card], min_digits: 2, max_digits: 19, validate: luhn, into: card, on_failure: staff, max_attempts: 2}
        next: done
      regex:
        collect: {prompts: [p/rx], validate: regex, pattern: "[1-9][0-9]{6}", into: rx, on_failure: staff, terminator: "*", barge_in: false}
        next: done
      done: {hangup: {prompts: [p/bye]}}
      staff:
        queue: {name: staff}
`

func TestCollect(t *testing.T) {
	t.Parallel()
	P := ivrtest.Press
	ok := []string{"rx=ok", "done=ok"}
	got := func(want string) func(*testing.T, ivr.Outcome, *ivrtest.Channel, *harness) {
		return func(t *testing.T, out ivr.Outcome, _ *ivrtest.Channel, h *harness) {
			if out.Vars["rx"] != want {
				t.Errorf("rx = %q, want %q", out.Vars["rx"], want)
			}
			types := h.events.Types()
			if types[1] != "refill.requested" || h.events.All()[1].Detail["value"] != "len:"+strconv.Itoa(len(want)) {
				t.Errorf("business event: %v %v", types, h.events.All())
			}
		}
	}
	runScenarios(t, collectFlow, "c", []scenario{
		{name: "terminator", script: steps(P("123456#")), exits: ok, played: en("p/enter", "p/bye"), check: got("123456")},
		{name: "max digits ends the entry", script: steps(P("1234567890")), exits: ok, check: got("1234567890")},
		{name: "inter-digit timeout ends the entry", script: steps(P("1234567"), ivrtest.Silence()), exits: ok, check: got("1234567")},
		{name: "too short, then a pause splits the entry", script: steps(P("123#"), P("123"), ivrtest.PressAfter(6*time.Second, "4567#")),
			exits: []string{"rx=max_failures", "staff=ok"}, outcome: ivr.OutcomeQueue,
			played: en("p/enter", "menu/invalid", "p/enter", "menu/invalid", "p/enter"),
			check: func(t *testing.T, out ivr.Outcome, ch *ivrtest.Channel, h *harness) {
				// 123 (short), 123 (inter-digit timeout), 4567 (short): three attempts.
				if d := h.events.All()[0].Detail; d["failures"] != 3 || d["attempts"] != 3 {
					t.Errorf("detail %v", d)
				}
				if len(h.events.Types()) != 2 {
					t.Errorf("no business event on failure: %v", h.events.Types())
				}
			}},
		{name: "timeout prompt then good", script: steps(ivrtest.Silence(), P("1234567#")), exits: ok,
			played: en("p/enter", "menu/timeout", "p/enter", "p/bye"), check: got("1234567")},
		{name: "star is not a digit", script: steps(P("12*4567#"), P("1234567#")), exits: ok,
			played: en("p/enter", "menu/invalid", "p/enter", "p/bye"), check: got("1234567")},
		{name: "barge-in into the prompt", script: steps(ivrtest.Barge("1234567#")), exits: ok, played: en("p/enter", "p/bye"), check: got("1234567")},
	})
}

func TestCollectValidation(t *testing.T) {
	t.Parallel()
	cfg := parseConfig(t, head+collectFlow)
	cases := []struct {
		start  string
		script []ivrtest.Step
		want   string // value or "" for max_failures
	}{
		{"luhn", steps(ivrtest.Press("79927398710#"), ivrtest.Press("79927398713#")), "79927398713"},
		{"luhn", steps(ivrtest.Press("1#"), ivrtest.Press("12#")), ""},
		{"regex", steps(ivrtest.Press("0123456*"), ivrtest.Press("1234567*")), "1234567"},
		{"regex", steps(ivrtest.Press("1234567#"), ivrtest.Silence(), ivrtest.Press("7654321*")), "7654321"}, // # is no terminator here
	}
	for _, tc := range cases {
		t.Run(tc.start+tc.want, func(t *testing.T) {
			t.Parallel()
			c := *cfg
			flows := *c.Flows["c"]
			flows.Start = tc.start
			c.Flows = map[string]*configFlow{"c": &flows}
			h := newHarness(t, &c)
			ch := ivrtest.NewChannel("en", inbound(true), tc.script...)
			out, err := h.run(t, "c", ch)
			if err != nil {
				t.Fatal(err)
			}
			v := out.Vars["card"] + out.Vars["rx"]
			if v != tc.want || (tc.want == "") != (out.Kind == ivr.OutcomeQueue) {
				t.Fatalf("got %q outcome %v, want %q", v, out.Kind, tc.want)
			}
		})
	}
}

func TestLuhn(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{"79927398713": true, "79927398710": false, "4111111111111111": true, "0": false, "00": true, "18": true, "12a": false} {
		if got := ivr.Luhn(s); got != want {
			t.Errorf("Luhn(%q) = %v", s, got)
		}
	}
}

const sayFlow = `
schedules:
  hours:
    weekly: {mon-fri: ["08:00-20:00"], sat: ["09:00-13:00"]}
flows:
  s:
    start: n
    nodes:
      n:
        say: {before: [p/a], as: number, value: "21", after: [p/b]}
        next: d
      d:
        say: {as: digits, var: code}
        next: date
      date:
        say: {as: date, value: "2026-11-24"}
        next: time
      time:
        say: {as: time, value: "15:30"}
        next: dt
      dt:
        say: {as: datetime, value: "2026-11-24 15:30"}
        next: money
      money:
        say: {as: money, value: "21.00"}
        next: hours
      hours:
        say: {before: [p/hours], as: hours, schedule: hours}
        next: missing
      missing:
        say: {before: [p/never], as: number, var: nothing}
        next: end
      end: {hangup: {}}
`

func TestSay(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 11, 24, 15, 30, 0, 0, chicago)
	for _, lang := range []say.Lang{say.English, say.Spanish} {
		t.Run(string(lang), func(t *testing.T) {
			t.Parallel()
			h := flowHarness(t, sayFlow)
			ch := ivrtest.NewChannel(string(lang), inbound(true))
			out, err := h.in.Run(context.Background(), "s", ch, ivr.CallInfo{Vars: map[string]string{"code": "505-0143"}})
			if err != nil || out.Kind != ivr.OutcomeHangup {
				t.Fatalf("outcome %+v err %v", out, err)
			}
			L := func(ids ...string) []string { return langIDs(string(lang), ids...) }
			want := cat(L("p/a"), L(say.Number(lang, 21)...), L("p/b"),
				L(say.Digits(lang, "505-0143")...),
				L(say.Date(lang, day)...),
				L(say.TimeOfDay(lang, 15*time.Hour+30*time.Minute)...),
				L(say.DateTime(lang, day)...),
				L(say.Money(lang, 2100)...),
				L("p/hours"), L(say.Hours(lang, []say.DayHours{
					{From: time.Monday, To: time.Friday, Spans: []say.Span{{Open: 8 * time.Hour, Close: 20 * time.Hour}}},
					{From: time.Saturday, To: time.Saturday, Spans: []say.Span{{Open: 9 * time.Hour, Close: 13 * time.Hour}}}})...))
			wantStrings(t, "prompts", ch.PlayedIDs(), want)
			wantStrings(t, "exits", h.events.ExitStrings(), []string{"n=ok", "d=ok", "date=ok", "time=ok", "dt=ok", "money=ok",
				"hours=ok", "missing=no_value", "end=ok"})
		})
	}
}

func TestLanguageAndPlayIn(t *testing.T) {
	t.Parallel()
	h := flowHarness(t, `
flows:
  l:
    start: greet
    nodes:
      greet:
        play:
          prompts: [p/hello]
          play_in: [{lang: en, prompt: lang/english}, {lang: es, prompt: lang/spanish}]
        next: spanish
      spanish:
        set_language: {language: es}
        next: again
      again:
        play: {prompts: [p/hello]}
        next: bye
      bye: {hangup: {prompts: [p/bye]}}
`)
	ch := ivrtest.NewChannel("en", inbound(true))
	out, err := h.run(t, "l", ch)
	if err != nil || out.Language != "es" {
		t.Fatalf("outcome %+v err %v", out, err)
	}
	wantStrings(t, "prompts", ch.PlayedIDs(), cat(en("p/hello", "lang/english"), es("lang/spanish", "p/hello", "p/bye")))
	ev := h.events.All()[1]
	if ev.Detail["node"] != "spanish" || ev.Interaction == nil || ev.Interaction.Language != "es" {
		t.Errorf("set_language event %+v", ev)
	}
	if ch.Played()[0].BargeIn {
		t.Error("play is not barge-in by default")
	}
}

const hoursFlow = `
schedules:
  pharmacy:
    weekly: {mon-fri: ["08:00-20:00"], sat: ["09:00-17:00"]}
    holidays: [{date: "2026-11-26", name: Thanksgiving}]
    special: [{date: "2026-11-27", name: short day, hours: ["09:00-12:00"]}]
flows:
  h:
    start: hours
    nodes:
      hours:
        branch_hours: {schedule: pharmacy, open: open, closed: closed, holiday: holiday}
      open: {queue: {name: open}}
      closed: {queue: {name: closed}}
      holiday: {queue: {name: holiday}}
`

func TestBranchHours(t *testing.T) {
	t.Parallel()
	cfg := parseConfig(t, head+hoursFlow)
	cases := []struct {
		at         time.Time
		exit, node string
	}{
		{mondayOpen, "open", "open"},
		{time.Date(2026, 11, 23, 8, 0, 0, 0, chicago), "open", "open"},
		{time.Date(2026, 11, 23, 7, 59, 0, 0, chicago), "closed", "closed"},
		{mondayNight, "closed", "closed"},
		{saturdayEvent, "open", "open"},
		{time.Date(2026, 11, 28, 17, 0, 0, 0, chicago), "closed", "closed"},
		{sundayNoon, "closed", "closed"},
		{thanksgiving, "holiday", "holiday"},
		{time.Date(2026, 11, 27, 15, 0, 0, 0, chicago), "closure", "closed"}, // special hours end at noon
		{time.Date(2026, 11, 27, 10, 0, 0, 0, chicago), "open", "open"},
	}
	for _, tc := range cases {
		t.Run(tc.at.Format(time.DateTime), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, cfg, ivr.WithClock(fixedClock(tc.at)))
			out, err := h.run(t, "h", ivrtest.NewChannel("en", inbound(true)))
			if err != nil || out.Queue.Name != tc.node {
				t.Fatalf("outcome %+v err %v", out, err)
			}
			wantStrings(t, "exits", h.events.ExitStrings(), []string{"hours=" + tc.exit, tc.node + "=ok"})
		})
	}
}

const branchFlow = `
flows:
  b:
    start: which
    nodes:
      which:
        branch:
          cases:
            - {var: vip, equals: "yes", next: vip}
            - {language: es, caller_id: true, next: spanish}
            - {direction: outbound, next: outbound}
            - {did: "5550100", next: local}
          default: other
      vip: {queue: {name: vip}}
      spanish: {queue: {name: spanish}}
      outbound: {queue: {name: outbound}}
      local: {queue: {name: local}}
      other: {queue: {name: other}}
`

func TestBranchCases(t *testing.T) {
	t.Parallel()
	cfg := parseConfig(t, head+branchFlow)
	cases := []struct {
		name, lang string
		facts      ivr.Facts
		vars       map[string]string
		exit, q    string
	}{
		{"var equals", "en", inbound(true), map[string]string{"vip": "yes"}, "case:0", "vip"},
		{"var differs", "en", inbound(true), map[string]string{"vip": "no"}, "default", "other"},
		{"language and caller id", "es", inbound(true), nil, "case:1", "spanish"},
		{"language without caller id", "es", inbound(false), nil, "default", "other"},
		{"direction", "en", ivr.Facts{Direction: "outbound"}, nil, "case:2", "outbound"},
		{"did", "en", ivr.Facts{DID: "5550100", Direction: "inbound"}, nil, "case:3", "local"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, cfg)
			out, err := h.in.Run(context.Background(), "b", ivrtest.NewChannel(tc.lang, tc.facts), ivr.CallInfo{Vars: tc.vars})
			if err != nil || out.Queue.Name != tc.q {
				t.Fatalf("outcome %+v err %v", out, err)
			}
			wantStrings(t, "exits", h.events.ExitStrings(), []string{"which=" + tc.exit, tc.q + "=ok"})
		})
	}
}

const lookupFlow = `
flows:
  l:
    start: who
    nodes:
      who:
        branch:
          lookup: {timeout: 20ms, found: known, not_found: unknown, on_timeout: slow, on_error: broken}
      known: {queue: {name: known}}
      unknown: {queue: {name: unknown}}
      slow: {queue: {name: slow}}
      broken: {queue: {name: broken}}
`

func TestLookup(t *testing.T) {
	t.Parallel()
	cfg := parseConfig(t, head+lookupFlow)
	never := make(chan struct{})
	t.Cleanup(func() { close(never) })
	found := func(ctx context.Context, req ivr.LookupRequest) (ivr.LookupResult, error) {
		if req.Caller != "+15125550123" || req.InteractionID != testIID || !req.Facts.CallerIDPresent {
			return ivr.LookupResult{}, errors.New("bad request")
		}
		return ivr.LookupResult{Found: true, Language: "es", Vars: map[string]string{"patient_ref": "p-17", "Bad Name": "x"}}, nil
	}
	cases := []struct {
		name   string
		hook   ivr.LookupFunc
		exit   string
		queue  string
		lang   string
		hasVar bool
	}{
		{"found", found, "found", "known", "es", true},
		{"not found", func(context.Context, ivr.LookupRequest) (ivr.LookupResult, error) { return ivr.LookupResult{}, nil }, "not_found", "unknown", "en", false},
		{"timeout", func(ctx context.Context, _ ivr.LookupRequest) (ivr.LookupResult, error) {
			<-ctx.Done()
			return ivr.LookupResult{}, ctx.Err()
		}, "timeout", "slow", "en", false},
		{"hook ignores its context", func(context.Context, ivr.LookupRequest) (ivr.LookupResult, error) {
			<-never // returns only after the test: the interpreter must not wait for it
			return ivr.LookupResult{Found: true}, nil
		}, "timeout", "slow", "en", false},
		{"error", func(context.Context, ivr.LookupRequest) (ivr.LookupResult, error) {
			return ivr.LookupResult{}, errors.New("db down")
		}, "error", "broken", "en", false},
		{"no hook", nil, "error", "broken", "en", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var opts []ivr.Option
			if tc.hook != nil {
				opts = append(opts, ivr.WithLookup(tc.hook))
			}
			h := newHarness(t, cfg, opts...)
			out, err := h.run(t, "l", ivrtest.NewChannel("en", inbound(true)), ivr.CallInfo{Caller: "+15125550123"})
			if err != nil || out.Queue.Name != tc.queue || out.Language != tc.lang || out.Queue.Language != tc.lang {
				t.Fatalf("outcome %+v queue %+v err %v", out, out.Queue, err)
			}
			if (out.Vars["patient_ref"] == "p-17") != tc.hasVar || out.Vars["Bad Name"] != "" {
				t.Errorf("vars %v", out.Vars)
			}
			wantStrings(t, "exits", h.events.ExitStrings(), []string{"who=" + tc.exit, tc.queue + "=ok"})
		})
	}
}

const voicemailFlow = `
flows:
  v:
    start: vm
    nodes:
      vm:
        voicemail: {box: front, max_length: 30s, min_length: 2s}
      vm2:
        voicemail: {on_failure: staff}
        event: voicemail.left
      staff: {queue: {name: staff}}
`

func TestVoicemail(t *testing.T) {
	t.Parallel()
	cfg := parseConfig(t, head+voicemailFlow)
	type tc struct {
		name    string
		start   string
		store   *ivrtest.Voicemails
		storeOK bool
		script  []ivrtest.Step
		outcome ivr.OutcomeKind
		exit    string
		played  []string
		errIs   error
		saved   int
	}
	failing := func() *ivrtest.Voicemails { v := &ivrtest.Voicemails{}; v.Fail(errors.New("disk full")); return v }
	intro := en("voicemail/instructions", "tone/beep")
	cases := []tc{
		{name: "saved, caller waits", start: "vm", store: &ivrtest.Voicemails{}, script: steps(ivrtest.Speak(10*time.Second, ivr.RecordTerminator)),
			outcome: ivr.OutcomeVoicemail, exit: "saved", played: cat(intro, en("voicemail/saved")), saved: 1},
		{name: "saved, caller hangs up", start: "vm", store: &ivrtest.Voicemails{}, script: steps(ivrtest.Speak(10*time.Second, ivr.RecordHangup)),
			outcome: ivr.OutcomeVoicemail, exit: "saved", played: intro, saved: 1},
		{name: "capped at max length", start: "vm", store: &ivrtest.Voicemails{}, script: steps(ivrtest.Speak(time.Minute, ivr.RecordSilence)),
			outcome: ivr.OutcomeVoicemail, exit: "saved", played: cat(intro, en("voicemail/saved")), saved: 1},
		{name: "no store", start: "vm", outcome: ivr.OutcomeError, exit: "unavailable", played: en("common/technical_difficulty"), errIs: ivr.ErrNoVoicemailStore},
		{name: "no store, on_failure", start: "vm2", outcome: ivr.OutcomeQueue, exit: "unavailable", played: en("common/technical_difficulty")},
		{name: "store fails", start: "vm", store: failing(), script: steps(ivrtest.Speak(10*time.Second, ivr.RecordTerminator)),
			outcome: ivr.OutcomeError, exit: "failed", played: cat(intro, en("common/technical_difficulty")), errIs: ivr.ErrVoicemailStore},
		{name: "store fails after hang-up", start: "vm", store: failing(), script: steps(ivrtest.Speak(10*time.Second, ivr.RecordHangup)),
			outcome: ivr.OutcomeError, exit: "failed", played: intro, errIs: ivr.ErrVoicemailStore},
		{name: "no message", start: "vm", store: &ivrtest.Voicemails{}, script: steps(ivrtest.Speak(time.Second, ivr.RecordSilence)),
			outcome: ivr.OutcomeHangup, exit: "no_message", played: cat(intro, en("voicemail/no_message"))},
		{name: "no message, on_failure", start: "vm2", store: &ivrtest.Voicemails{}, script: steps(ivrtest.Speak(0, ivr.RecordSilence)),
			outcome: ivr.OutcomeQueue, exit: "no_message", played: cat(intro, en("voicemail/no_message"))},
		{name: "hang-up before speaking", start: "vm", store: &ivrtest.Voicemails{}, script: steps(ivrtest.Speak(0, ivr.RecordHangup)),
			outcome: ivr.OutcomeHangup, exit: "no_message", played: intro},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cc := *cfg
			f := *cc.Flows["v"]
			f.Start = c.start
			cc.Flows = map[string]*configFlow{"v": &f}
			var opts []ivr.Option
			if c.store != nil {
				opts = append(opts, ivr.WithVoicemailStore(c.store))
			}
			h := newHarness(t, &cc, opts...)
			ch := ivrtest.NewChannel("en", inbound(true), c.script...)
			out, err := h.run(t, "v", ch)
			if out.Kind != c.outcome || (c.errIs != nil) != (err != nil) || (c.errIs != nil && !errors.Is(err, c.errIs)) {
				t.Fatalf("outcome %+v err %v", out, err)
			}
			if x := h.events.NodeExits()[0]; x.Exit != c.exit {
				t.Errorf("exit %q, want %q", x.Exit, c.exit)
			}
			wantStrings(t, "prompts", ch.PlayedIDs(), c.played)
			if c.store != nil {
				saved := c.store.Saved()
				if len(saved) != c.saved {
					t.Fatalf("saved %d", len(saved))
				}
				if c.saved > 0 && (out.VoicemailID != saved[0].ID || saved[0].Meta.Box != "front" || saved[0].Rec.Duration > 30*time.Second) {
					t.Errorf("outcome %+v saved %+v", out, saved[0].Meta)
				}
			}
			if c.outcome == ivr.OutcomeVoicemail && ch.HungUp() == ch.CallerHungUp() {
				t.Errorf("exactly one side hangs up: flow %v caller %v", ch.HungUp(), ch.CallerHungUp())
			}
			if r := ch.Records(); c.start == "vm" && len(r) > 0 && (r[0].MaxDuration != 30*time.Second || r[0].Silence != 5*time.Second) {
				t.Errorf("record spec %+v", r[0])
			}
		})
	}
}

const transferFlow = `
flows:
  t:
    start: xfer
    nodes:
      xfer:
        transfer: {target: "+15125550199", prompts: [transfer/generic]}
      xfer2:
        transfer: {target: "sip:front@pbx.example", on_failure: staff}
      staff: {queue: {name: staff}}
`

func TestTransfer(t *testing.T) {
	t.Parallel()
	cfg := parseConfig(t, head+transferFlow)
	for _, tc := range []struct {
		name, start string
		fail        bool
		outcome     ivr.OutcomeKind
		exit        string
	}{
		{"ok", "xfer", false, ivr.OutcomeTransfer, "ok"},
		{"fails", "xfer", true, ivr.OutcomeError, "failed"},
		{"fails, on_failure", "xfer2", true, ivr.OutcomeQueue, "failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cc := *cfg
			f := *cc.Flows["t"]
			f.Start = tc.start
			cc.Flows = map[string]*configFlow{"t": &f}
			h := newHarness(t, &cc)
			ch := ivrtest.NewChannel("en", inbound(true))
			if tc.fail {
				ch.FailTransfers(errors.New("486 busy"))
			}
			out, err := h.run(t, "t", ch)
			if out.Kind != tc.outcome || (tc.outcome == ivr.OutcomeError) != errors.Is(err, ivr.ErrTransfer) {
				t.Fatalf("outcome %+v err %v", out, err)
			}
			if x := h.events.NodeExits()[0]; x.Exit != tc.exit || len(ch.Transfers()) != 1 {
				t.Errorf("exit %v transfers %v", x, ch.Transfers())
			}
			if tc.outcome == ivr.OutcomeTransfer && out.Target != "+15125550199" {
				t.Errorf("target %q", out.Target)
			}
		})
	}
}

const callbackFlow = `
flows:
  cb:
    start: cb
    nodes:
      cb:
        callback_request: {max_attempts: 2, on_failure: staff}
      staff: {queue: {name: staff}}
`

func TestCallback(t *testing.T) {
	t.Parallel()
	P := ivrtest.Press
	withoutCID := inbound(false)
	number := func(n string, fromCID bool) func(*testing.T, ivr.Outcome, *ivrtest.Channel, *harness) {
		return func(t *testing.T, out ivr.Outcome, ch *ivrtest.Channel, _ *harness) {
			if cb := out.Callback; cb == nil || cb.Number != n || cb.FromCallerID != fromCID || !cb.Consent || !ch.HungUp() {
				t.Errorf("callback %+v", out.Callback)
			}
		}
	}
	runScenarios(t, callbackFlow, "cb", []scenario{
		{name: "caller id confirmed", script: steps(P("1")), exits: []string{"cb=caller_id"}, outcome: ivr.OutcomeCallback,
			played: en("callback/confirm_caller_number", "callback/confirmed"), check: number("+15125550123", true)},
		{name: "other number", script: steps(P("2"), P("5125550124#")), exits: []string{"cb=entered"}, outcome: ivr.OutcomeCallback,
			played: en("callback/confirm_caller_number", "callback/enter_number", "callback/confirmed"), check: number("5125550124", false)},
		{name: "invalid confirm then yes", script: steps(P("7"), P("1")), exits: []string{"cb=caller_id"}, outcome: ivr.OutcomeCallback,
			played: en("callback/confirm_caller_number", "menu/invalid", "callback/confirm_caller_number", "callback/confirmed")},
		{name: "no caller id", facts: &withoutCID, script: steps(P("15125550124#")), exits: []string{"cb=entered"}, outcome: ivr.OutcomeCallback,
			played: en("callback/enter_number", "callback/confirmed"), check: number("15125550124", false)},
		{name: "bad numbers", facts: &withoutCID, script: steps(P("555#"), ivrtest.Silence()), exits: []string{"cb=max_failures", "staff=ok"},
			outcome: ivr.OutcomeQueue, played: en("callback/enter_number", "menu/invalid", "callback/enter_number")},
		{name: "no answer to confirm", script: steps(ivrtest.Silence(), ivrtest.Silence()), exits: []string{"cb=max_failures", "staff=ok"},
			outcome: ivr.OutcomeQueue},
	})
}

func TestUnknownFlow(t *testing.T) {
	t.Parallel()
	h := flowHarness(t, callbackFlow)
	out, err := h.run(t, "nope", ivrtest.NewChannel("en", inbound(true)))
	if !errors.Is(err, ivr.ErrUnknownFlow) || out.Kind != ivr.OutcomeError || out.Reason != "unknown_flow" {
		t.Fatalf("outcome %+v err %v", out, err)
	}
}

func TestLoopGuard(t *testing.T) {
	t.Parallel()
	// Valid (the branch can reach a queue) but the variable is never set: the flow
	// would spin without waiting for the caller.
	h := flowHarness(t, `
flows:
  spin:
    start: check
    nodes:
      check:
        branch:
          cases: [{var: ready, next: staff}]
          default: again
      again:
        set_language: {language: en}
        next: check
      staff: {queue: {name: staff}}
`)
	out, err := h.run(t, "spin", ivrtest.NewChannel("en", inbound(true)))
	if !errors.Is(err, ivr.ErrLoop) || out.Kind != ivr.OutcomeError || out.Reason != "loop" {
		t.Fatalf("outcome %+v err %v", out, err)
	}
	if n := len(h.events.All()); n != ivr.MaxSteps {
		t.Errorf("%d events", n)
	}
}

func TestCancelledContextIsAHangup(t *testing.T) {
	t.Parallel()
	h := flowHarness(t, menuFlow)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out, err := h.in.Run(ctx, "m", ivrtest.NewChannel("en", inbound(true), ivrtest.Press("1")), ivr.CallInfo{})
	if err != nil || out.Kind != ivr.OutcomeHangup || !out.CallerHangup {
		t.Fatalf("outcome %+v err %v", out, err)
	}
}

// A channel whose Collect blocks until ctx ends: the interpreter must return when
// the call's context is cancelled mid-wait.
type blockingChannel struct {
	*ivrtest.Channel
	waiting chan struct{}
}

func (b blockingChannel) Collect(ctx context.Context, _ ivr.CollectSpec) (ivr.Digits, error) {
	close(b.waiting)
	<-ctx.Done()
	return ivr.Digits{}, ctx.Err()
}

func TestHangupWhileWaiting(t *testing.T) {
	t.Parallel()
	h := flowHarness(t, menuFlow)
	ctx, cancel := context.WithCancel(context.Background())
	ch := blockingChannel{Channel: ivrtest.NewChannel("en", inbound(true)), waiting: make(chan struct{})}
	done := make(chan ivr.Outcome, 1)
	go func() {
		out, _ := h.in.Run(ctx, "m", ch, ivr.CallInfo{})
		done <- out
	}()
	<-ch.waiting
	cancel()
	out := <-done
	if out.Kind != ivr.OutcomeHangup || out.Node != "menu" {
		t.Fatalf("outcome %+v", out)
	}
	wantStrings(t, "exits", h.events.ExitStrings(), []string{"menu=hangup"})
}

type failingLog struct{ n int }

func (f *failingLog) Append(store.Event) error { f.n++; return store.ErrOutboxFull }

func TestEventLogFailureDoesNotStopTheCall(t *testing.T) {
	t.Parallel()
	fl := &failingLog{}
	in, err := ivr.FromConfig(parseConfig(t, head+menuFlow), ivr.WithEventLog(fl))
	if err != nil {
		t.Fatal(err)
	}
	out, err := in.Run(context.Background(), "m", ivrtest.NewChannel("en", inbound(true), ivrtest.Press("1")), ivr.CallInfo{})
	if err != nil || out.Kind != ivr.OutcomeHangup || fl.n != 2 {
		t.Fatalf("outcome %+v err %v appends %d", out, err, fl.n)
	}
}

func TestNewRejectsBrokenFlows(t *testing.T) {
	t.Parallel()
	cfg := parseConfig(t, head+`
flows:
  x:
    start: a
    nodes:
      a:
        play: {prompts: [p/a]}
        next: nowhere
`)
	_, err := ivr.FromConfig(cfg)
	if err == nil || !strings.Contains(err.Error(), `node "nowhere" does not exist`) {
		t.Fatalf("err %v", err)
	}
}
