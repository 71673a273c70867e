package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const routingBase = base + `skills:
  coordinator: {}
  pharmacist: {role: true}
  billing:
agents:
  a1:
    sip: {user: "1001", ha1: "0123456789abcdef0123456789abcdef"}
    skills: {coordinator: 3}
    languages: [en, es]
`

// lineOf returns the 1-based line of the first line containing marker.
func lineOf(t *testing.T, src, marker string) int {
	t.Helper()
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, marker) {
			return i + 1
		}
	}
	t.Fatalf("marker %q not in source", marker)
	return 0
}

func TestRoutingConfigValid(t *testing.T) {
	y := routingBase + `queues:
  coord:
    require: {coordinator: 2}
    relax: [{after: 60s, require: {coordinator: 1}}, {after: 120s, language: any}]
    overflow: queue:rx
    callback: {}
  rx:
    priority: urgent
    require: {pharmacist: 1}
    overflow: callback
    callback: {retries: 1}
    dispositions: {"7": counselled}
`
	c, is := Parse("careline.yaml", []byte(y), LoadOptions{LookupEnv: env(nil)})
	if len(is) != 0 {
		t.Fatalf("issues:\n%v", is)
	}
	q := c.Queues["coord"]
	if q.RingTimeout != 18*time.Second || q.WrapUp != 15*time.Second || q.Language != "caller" ||
		q.Overflow != (OverflowTarget{Kind: OverflowQueue, Name: "rx"}) || q.Callback.Retries != 2 ||
		q.Dispositions["1"] != "resolved" {
		t.Fatalf("defaults not applied: %+v", q)
	}
	rx := c.Queues["rx"]
	if rx.PriorityValue() != 1 || rx.Callback.Retries != 1 || rx.Dispositions["7"] != "counselled" || rx.Dispositions["1"] != "" {
		t.Fatalf("rx: %+v", rx)
	}
	if c.Skills["billing"] != nil || !c.Skills["pharmacist"].Role {
		t.Fatalf("skills: %+v", c.Skills)
	}
}

func TestRoutingConfigErrors(t *testing.T) {
	type want struct {
		marker string // text on the offending line
		msg    string // substring of "path: message"
	}
	cases := []struct {
		name string
		yaml string
		want []want
	}{
		{"queue requires unknown skill", routingBase + "queues:\n  q1:\n    require: {coordinatr: 1} # M\n",
			[]want{{"# M", `queues.q1.require.coordinatr: unknown skill "coordinatr" (fix: declare it under the top-level skills: or use one of: billing, coordinator, pharmacist)`}}},
		{"agent has unknown skill", strings.Replace(routingBase, "skills: {coordinator: 3}", "skills: {coordinator: 3, spanish: 4}", 1),
			[]want{{"spanish: 4", `agents.a1.skills.spanish: unknown skill "spanish"`}}},
		{"agent skill level out of range", strings.Replace(routingBase, "skills: {coordinator: 3}", "skills: {coordinator: 7}", 1),
			[]want{{"coordinator: 7", `agents.a1.skills.coordinator: skill level 7 out of range`}}},
		{"queue skills without skills section", strings.Replace(routingBase, "skills:\n  coordinator: {}\n  pharmacist: {role: true}\n  billing:\n", "", 1) +
			"queues:\n  q1:\n    require: {coordinator: 1} # M\n",
			[]want{{"# M", `queues.q1.require.coordinator: unknown skill "coordinator" (fix: declare it under the top-level skills:)`}}},
		{"language is not a skill", strings.Replace(routingBase, "  billing:\n", "  billing:\n  es: {}\n", 1),
			[]want{{"  es: {}", `skills.es: skill "es" is a language`}}},
		{"overflow to unknown queue", routingBase + "queues:\n  q1:\n    overflow: queue:nope # M\n",
			[]want{{"# M", `queues.q1.overflow: overflow queue "nope" does not exist (fix: use one of: q1)`}}},
		{"overflow to itself", routingBase + "queues:\n  q1:\n    overflow: queue:q1 # M\n",
			[]want{{"# M", `queues.q1.overflow: queue overflows to itself`}}},
		{"overflow target syntax", routingBase + "queues:\n  q1:\n    overflow: sms # M\n",
			[]want{{"# M", `queues.q1.overflow: "sms" is not an overflow target`}}},
		{"overflow to callback without callback", routingBase + "queues:\n  q1:\n    overflow: callback # M\n",
			[]want{{"# M", `queues.q1.overflow: overflow to callback but the queue has no callback section`}}},
		{"overflow loop", routingBase + "queues:\n  q1:\n    overflow: queue:q2 # A\n  q2:\n    overflow: queue:q1 # B\n",
			[]want{{"# A", `queues.q1.overflow: overflow chain from q1 loops back to q1`}, {"# B", `queues.q2.overflow: overflow chain from q2 loops back to q2`}}},
		{"role skill in relaxation step", routingBase + "queues:\n  rx:\n    require: {pharmacist: 3}\n    relax:\n      - {after: 60s, require: {pharmacist: 1}} # M\n",
			[]want{{"# M", `queues.rx.relax[0].require.pharmacist: pharmacist is a role skill and cannot appear in a relaxation step`}}},
		{"relaxation steps out of order", routingBase + "queues:\n  q1:\n    relax:\n      - {after: 90s, language: any}\n      - {after: 60s, require: {coordinator: 1}} # M\n",
			[]want{{"# M", `queues.q1.relax[1].after: relaxation step at 1m0s is not after the previous one`}}},
		{"empty relaxation step", routingBase + "queues:\n  q1:\n    relax:\n      - {after: 90s} # M\n",
			[]want{{"# M", `queues.q1.relax[0]: relaxation step changes nothing`}}},
		{"service level beyond max wait", routingBase + "queues:\n  q1:\n    max_wait: 60s\n    service_level: 2m # M\n",
			[]want{{"# M", `queues.q1.service_level: service level 2m0s is longer than max wait 1m0s`}}},
		{"bad priority and language", routingBase + "queues:\n  q1:\n    priority: high # A\n    language: fr # B\n",
			[]want{{"# A", `queues.q1.priority: unknown priority "high"`}, {"# B", `queues.q1.language: unknown language rule "fr"`}}},
		{"ring timeout out of range", routingBase + "queues:\n  q1:\n    ring_timeout: 2s # M\n",
			[]want{{"# M", `queues.q1.ring_timeout: ring timeout 2s out of range`}}},
		{"preference on unknown skill", routingBase + "queues:\n  q1:\n    prefer:\n      - {skill: spanish, level: 3, bonus: 10s} # M\n",
			[]want{{"# M", `queues.q1.prefer[0].skill: unknown skill "spanish"`}}},
		{"reserved away reason", routingBase + "routing:\n  away_reasons: [break, rona] # M\n",
			[]want{{"# M", `routing.away_reasons[1]: away reason "rona" is reserved`}}},
		{"bad disposition code", routingBase + "routing:\n  dispositions:\n    \"1a\": resolved # M\n",
			[]want{{"# M", `routing.dispositions.1a: disposition code "1a" is not DTMF digits`}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, is := Parse("careline.yaml", []byte(tc.yaml), LoadOptions{LookupEnv: env(nil)})
			errs := is.Errors()
			if len(errs) != len(tc.want) {
				t.Errorf("got %d errors, want %d:\n%v", len(errs), len(tc.want), errs)
			}
			text := errs.Error()
			for _, w := range tc.want {
				prefix := fmt.Sprintf("careline.yaml:%d:", lineOf(t, tc.yaml, w.marker))
				found := false
				for _, e := range errs {
					if s := e.String(); strings.HasPrefix(s, prefix) && strings.Contains(s, w.msg) {
						found = true
					}
				}
				if !found {
					t.Errorf("want %s...%s in:\n%s", prefix, w.msg, text)
				}
			}
		})
	}
}

func TestRelaxStepBeyondMaxWaitWarns(t *testing.T) {
	y := routingBase + "queues:\n  q1:\n    max_wait: 60s\n    service_level: 30s\n    relax:\n      - {after: 90s, language: any}\n"
	_, is := Parse("careline.yaml", []byte(y), LoadOptions{LookupEnv: env(nil)})
	if len(is.Errors()) != 0 || len(is.Warnings()) != 1 || !strings.Contains(is.Warnings()[0].Msg, "never applies") {
		t.Fatalf("issues: %v", is)
	}
}

func TestAgentSkillsWithoutSkillsSectionWarn(t *testing.T) {
	y := strings.Replace(routingBase, "skills:\n  coordinator: {}\n  pharmacist: {role: true}\n  billing:\n", "", 1)
	_, is := Parse("careline.yaml", []byte(y), LoadOptions{LookupEnv: env(nil)})
	if len(is.Errors()) != 0 || len(is.Warnings()) != 1 || !strings.Contains(is.Warnings()[0].String(),
		`agents.a1.skills.coordinator: skill "coordinator" is not declared (no skills: section)`) {
		t.Fatalf("issues: %v", is)
	}
}
