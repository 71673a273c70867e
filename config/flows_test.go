package config

import (
	"strings"
	"testing"
	"time"
)

func TestSchedulesAndFlowsDecode(t *testing.T) {
	y := base + `schedules:
  pharmacy:
    weekly: {mon-fri: ["08:00-20:00"], sat: ["09:00-13:00"]}
    holidays: [{date: "2026-12-25", name: Christmas Day}]
numbers:
  "5550100": {flow: main, language: es}
flows:
  main:
    start: menu
    nodes:
      menu:
        menu:
          prompts: [main/menu]
          timeout: 4s
          options:
            "1": {next: bye, set_language: es}
            "*": {repeat: true}
          on_failure: bye
      bye:
        hangup: {prompts: [main/goodbye]}
        event: call.done
`
	c, is := Parse("t.yaml", []byte(y), LoadOptions{LookupEnv: env(nil)})
	if len(is.Errors()) != 0 {
		t.Fatalf("issues:\n%v", is)
	}
	if tz := c.Schedules["pharmacy"].TimeZone; tz != "America/Chicago" {
		t.Errorf("schedule time zone %q, want the site's", tz)
	}
	cal := c.Calendars()["pharmacy"]
	if cal == nil || !cal.IsOpen(time.Date(2026, 11, 23, 10, 0, 0, 0, cal.Location())) ||
		cal.IsOpen(time.Date(2026, 12, 25, 10, 0, 0, 0, cal.Location())) {
		t.Fatalf("calendar %v", cal)
	}
	m := c.Flows["main"].Nodes["menu"]
	if m.Kind() != "menu" || m.Menu.Timeout != 4*time.Second || m.Menu.Options["1"].SetLanguage != "es" || !m.Menu.Options["*"].Repeat {
		t.Fatalf("menu %+v", m.Menu)
	}
	if b := c.Flows["main"].Nodes["bye"]; b.Kind() != "hangup" || b.Event != "call.done" || b.Hangup.Prompts[0] != "main/goodbye" {
		t.Fatalf("bye %+v", b)
	}
}

func TestFlowAndScheduleIssues(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"number names a missing flow", base + "numbers:\n  \"100\": {flow: nope}\n", `10:17: error: numbers.100.flow: unknown flow "nope" (fix: add a flow named nope under flows:)`},
		{"bad schedule day", base + "schedules:\n  s:\n    weekly: {funday: [\"08:00-20:00\"]}\n", `11:14: error: schedules.s.weekly.funday: bad days "funday"`},
		{"bad schedule zone", base + "schedules:\n  s:\n    timezone: Mars/Base\n    weekly: {mon: [\"08:00-20:00\"]}\n", `11:15: error: schedules.s.timezone:`},
		{"unquoted DTMF key", base + "flows:\n  f:\n    start: m\n    nodes:\n      m:\n        menu:\n          options:\n            1: {next: m}\n", `16:13: error: flows.f.nodes.m.menu.options.1: DTMF key 1 must be a quoted string`},
		{"unknown node key", base + "flows:\n  f:\n    start: m\n    nodes:\n      m:\n        hangups: {}\n", `14:9: error: flows.f.nodes.m.hangups: unknown key "hangups" (fix: did you mean "hangup"?)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, is := Parse("careline.yaml", []byte(tc.yaml), LoadOptions{LookupEnv: env(nil)})
			if !strings.Contains(is.Errors().Error(), "careline.yaml:"+tc.want) {
				t.Fatalf("missing %q in:\n%v", tc.want, is)
			}
		})
	}
}
