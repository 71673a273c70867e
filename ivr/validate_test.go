package ivr_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/careline/careline/config"
	"github.com/careline/careline/ivr"
)

// valHead adds a schedule and the start of a flow "f" to head; cases append nodes
// (indented six spaces) after it.
const valHead = head + `schedules:
  pharmacy:
    weekly: {mon-fri: ["08:00-20:00"]}
flows:
  f:
    start: a
    nodes:
`

// issuesFor parses src and validates it with the product manifest: config issues
// (decoder, numbers, schedules) followed by ivr.Validate's.
func issuesFor(t testing.TB, src string, opts ...ivr.ValidateOption) config.Issues {
	t.Helper()
	cfg, is := config.Parse("careline.yaml", []byte(src), config.LoadOptions{LookupEnv: noEnv, AllowMissingSecrets: true})
	return append(is, ivr.Validate(cfg, loadManifest(t), opts...)...)
}

// markedLine returns the 1-based line holding marker.
func markedLine(src, marker string) int {
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, marker) {
			return i + 1
		}
	}
	return 0
}

func TestValidateReportsFileLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		at    string // marks the line of the issue; default "#!"
		nodes string // appended to valHead; the expected issue's line carries "#!"
		extra string // appended after the flow (other top-level sections)
		want  string // substring of the issue ("path: message (fix: ...)")
		warn  bool
		opts  []ivr.ValidateOption
	}{
		{name: "node points to a missing node", nodes: `
      a:
        play: {prompts: [main/welcome]}
        next: nowhere   #!
`, want: `flows.f.nodes.a.next: node "nowhere" does not exist (fix: add a node named "nowhere", or use one of: a)`},
		{name: "typo in a reference", nodes: `
      a:
        play: {prompts: [main/welcome]}
        next: goodbey   #!
      goodbye: {hangup: {}}
`, want: `node "goodbey" does not exist (fix: did you mean "goodbye"?`},
		{name: "start node missing", at: "start: a", nodes: `
      b: {hangup: {}}
`, want: `flows.f.start: start node "a" does not exist`},
		{name: "unreachable node", nodes: `
      a: {hangup: {}}
      orphan:   #!
        hangup: {}
`, want: `flows.f.nodes.orphan: node "orphan" cannot be reached from start node "a" (fix: reference it`, warn: true},
		{name: "prompt missing in one language", nodes: `
      a:
        play: {prompts: [main/welcome, time/am]}   #!
        next: b
      b: {hangup: {}}
`, want: `flows.f.nodes.a.play.prompts[1]: prompt "time/am" has no es version (fix: add a "es" text for time/am in prompts/manifest.yaml`},
		{name: "prompt not in the manifest", nodes: `
      a:
        hangup:
          prompts:
            - main/goodby   #!
`, want: `prompt "main/goodby" is not in the prompt manifest (fix: did you mean "main/goodbye"?`},
		{name: "play_in prompt checked in its own language only", nodes: `
      a:
        play:
          play_in:
            - {lang: en, prompt: time/am}
            - {lang: es, prompt: time/am}   #!
        next: b
      b: {hangup: {}}
`, want: `play_in[1].prompt: prompt "time/am" has no es version`},
		{name: "DTMF key given as a number", nodes: `
      a:
        menu:
          prompts: [main/menu]
          options:
            "1": {next: b}
            2: {next: b}   #!
          on_failure: b
      b: {hangup: {}}
`, want: `flows.f.nodes.a.menu.options.2: DTMF key 2 must be a quoted string (fix: write the key in quotes: "2")`},
		{name: "DTMF key longer than one key", nodes: `
      a:
        menu:
          prompts: [main/menu]
          options:
            "12": {next: b}   #!
          on_failure: b
      b: {hangup: {}}
`, want: `DTMF key "12" must be a single key (fix: use one key`},
		{name: "loop with no exit", nodes: `
      a:   #!
        play: {prompts: [main/welcome]}
        next: b
      b:
        menu:
          prompts: [main/menu]
          options: {"1": {next: a}}
          on_failure: a
`, want: `flows.f.nodes.a: nodes a, b loop with no way out: none leads to a hangup, queue, transfer, voicemail or callback_request node (fix: give one of them a way out`},
		{name: "menu that only loops to itself", nodes: `
      a:   #!
        menu:
          prompts: [main/menu]
          options: {"1": {next: a}}
          on_failure: a
`, want: `node a loops with no way out`},
		{name: "unknown schedule", nodes: `
      a:
        branch_hours: {schedule: pharmcy, open: b, closed: b}   #!
      b: {hangup: {}}
`, want: `flows.f.nodes.a.branch_hours.schedule: unknown schedule "pharmcy" (fix: use one of: pharmacy`},
		{name: "unknown schedule in say hours", nodes: `
      a:
        say:
          as: hours
          schedule: weekdays   #!
        next: b
      b: {hangup: {}}
`, want: `say.schedule: unknown schedule "weekdays"`},
		{name: "min digits above max digits", nodes: `
      a:
        collect:
          prompts: [refill/enter_rx]
          min_digits: 8   #!
          max_digits: 6
          into: rx
          on_failure: b
        next: b
      b: {hangup: {}}
`, want: `flows.f.nodes.a.collect.min_digits: min_digits 8 is more than max_digits 6 (fix: make min_digits (8) at most max_digits (6))`},
		{name: "terminator also an option key", nodes: `
      a:
        menu:
          prompts: [main/menu]
          options:
            "1": {next: b}
            "#": {next: b}   #!
          match: {pattern: "1[0-9]{3}", next: b}
          on_failure: b
      b: {hangup: {}}
`, want: `flows.f.nodes.a.menu.options.#: key "#" is both an option and the terminator (fix: use another key for this option, or set terminator: ""`},
		{name: "language not in site.languages", nodes: `
      a:
        set_language: {language: fr}   #!
        next: b
      b: {hangup: {}}
`, want: `flows.f.nodes.a.set_language.language: language "fr" is not in site.languages (fix: use one of site.languages (en, es) or add it there)`},
		{name: "option language not in site.languages", nodes: `
      a:
        menu:
          play_in: [{lang: en, prompt: lang/english}]
          options:
            "1": {next: b, set_language: pt}   #!
          on_failure: b
      b: {hangup: {}}
`, want: `options.1.set_language: language "pt" is not in site.languages`},
		{name: "two kinds in one node", nodes: `
      a:
        play: {prompts: [main/welcome]}
        hangup: {}   #!
`, want: `flows.f.nodes.a.hangup: node has several kinds: play, hangup (fix: keep one kind per node`},
		{name: "no kind", nodes: `
      a: {next: a}   #!
`, want: `flows.f.nodes.a: node has no kind (fix: add exactly one of: menu, play,`},
		{name: "next on a terminal node", nodes: `
      a:
        hangup: {}
        next: a   #!
`, want: `flows.f.nodes.a.next: a hangup node ends the flow; next is not used (fix: remove next`},
		{name: "menu without on_failure", nodes: `
      a:
        menu:
          prompts: [main/menu]   #! (a missing field is reported at the start of its mapping)
          options: {"1": {next: b}}
      b: {hangup: {}}
`, want: `flows.f.nodes.a.menu.on_failure: missing on_failure (fix: write on_failure: <node name>)`},
		{name: "bad match pattern", nodes: `
      a:
        menu:
          prompts: [main/menu]
          match: {pattern: "1[0-9", next: b}   #!
          on_failure: b
      b: {hangup: {}}
`, want: `match.pattern: bad pattern: error parsing regexp`},
		{name: "collect without into", nodes: `
      a:
        collect: {prompts: [refill/enter_rx], on_failure: b}   #!
        next: b
      b: {hangup: {}}
`, want: `collect.into: collect node has no into variable (fix: write into: <variable>`},
		{name: "say of a variable never set", nodes: `
      a:
        say: {as: digits, var: rx_numbr}   #!
        next: b
      b: {hangup: {}}
`, want: `say.var: variable "rx_numbr" is never set in this flow`, warn: true},
		{name: "bad literal for say", nodes: `
      a:
        say: {as: date, value: "tomorrow"}   #!
        next: b
      b: {hangup: {}}
`, want: `say.value: "tomorrow" is not a date (want 2026-11-24) (fix: write a date such as "2026-11-24")`},
		{name: "bad event name", nodes: `
      a:
        hangup: {}
        event: Refill   #!
`, want: `flows.f.nodes.a.event: bad event name "Refill" (fix: name it domain.action`},
		{name: "bad priority", nodes: `
      a:
        queue: {name: nurse, priority: asap}   #!
`, want: `queue.priority: unknown priority "asap" (fix: use normal, high or urgent)`},
		{name: "unknown queue once queues are known", nodes: `
      a:
        queue: {name: nurce}   #!
`, want: `queue.name: unknown queue "nurce" (fix: use one of: nurse, pharmacist)`,
			opts: []ivr.ValidateOption{ivr.WithKnownQueues("pharmacist", "nurse")}},
		{name: "number names an unknown flow", nodes: `
      a: {hangup: {}}
`, extra: `numbers:
  "5550100": {flow: pharmcy}   #!
`, want: `numbers.5550100.flow: unknown flow "pharmcy" (fix: use one of: f)`},
		{name: "bad schedule hours", nodes: `
      a: {hangup: {}}
`, extra: `schedules:
  late:
    weekly: {sat: ["09:00-1700"]}   #!
`, want: `schedules.late.weekly.sat[0]: bad time range "09:00-1700"`},
		{name: "bad transfer target", nodes: `
      a:
        transfer: {target: "front desk"}   #!
`, want: `transfer.target: bad transfer target "front desk" (fix: write a SIP URI`},
		{name: "timeout out of range", nodes: `
      a:
        menu:
          prompts: [main/menu]
          timeout: 10m   #!
          options: {"1": {next: b}}
          on_failure: b
      b: {hangup: {}}
`, want: `menu.timeout: timeout 10m0s out of range (fix: use a duration between 1ms and 180s`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := valHead + strings.TrimPrefix(tc.nodes, "\n") + tc.extra
			if tc.name == "bad schedule hours" {
				// schedules may not appear twice: replace the head's section.
				src = strings.Replace(src, "schedules:\n  pharmacy:\n    weekly: {mon-fri: [\"08:00-20:00\"]}\n", "", 1)
			}
			marker := tc.at
			if marker == "" {
				marker = "#!"
			}
			line := markedLine(src, marker)
			if line == 0 {
				t.Fatal("case has no #! marker")
			}
			is := issuesFor(t, src, tc.opts...)
			var found *config.Issue
			for i := range is {
				if strings.Contains(is[i].String(), tc.want) {
					found = &is[i]
					break
				}
			}
			if found == nil {
				t.Fatalf("no issue containing %q in:\n%v", tc.want, is)
			}
			prefix := fmt.Sprintf("careline.yaml:%d:", line)
			if !strings.HasPrefix(found.String(), prefix) {
				t.Errorf("want %s..., got %s", prefix, found)
			}
			if (found.Severity == config.Warning) != tc.warn {
				t.Errorf("severity %v: %s", found.Severity, found)
			}
			for _, i := range is {
				if i.Fix == "" {
					t.Errorf("issue without a fix: %s", i)
				}
			}
		})
	}
}

func TestValidateNoManifestSkipsPrompts(t *testing.T) {
	t.Parallel()
	cfg := parseConfig(t, valHead+"      a: {hangup: {prompts: [no/such]}}\n")
	if is := ivr.Validate(cfg, nil); len(is) != 0 {
		t.Fatalf("issues: %v", is)
	}
	if is := ivr.Validate(cfg, loadManifest(t)); len(is.Errors()) != 1 {
		t.Fatalf("issues: %v", is)
	}
}

// Issues found by New mirror Validate (minus prompts), so a config that passed
// Validate always builds.
func TestNewAgreesWithValidate(t *testing.T) {
	t.Parallel()
	cfg := parseConfig(t, valHead+"      a: {branch_hours: {schedule: pharmacy, open: b, closed: b}}\n      b: {hangup: {}}\n")
	if is := ivr.Validate(cfg, loadManifest(t)); len(is) != 0 {
		t.Fatalf("issues: %v", is)
	}
	if _, err := ivr.FromConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := ivr.New(cfg.Flows); err == nil || !strings.Contains(err.Error(), `unknown schedule "pharmacy"`) {
		t.Fatalf("New without calendars: %v", err)
	}
}
