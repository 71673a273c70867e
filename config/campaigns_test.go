package config

import (
	"strings"
	"testing"
	"time"
)

const campaignBase = base + `trunks:
  carrier:
    address: "127.0.0.1:5080"
    max_channels: 30
    max_cps: 5
    caller_ids: ["+15125550100"]
campaigns:
  refills:
    purpose: refill_reminder
    flow: outbound_refill
    trunk: carrier
    caller_id: "+15125550100"
    pharmacy_name: Main Street Pharmacy
    callback_number: "+15125550100"
    window: {days: mon-sat, hours: ["09:00-19:00"], holidays: [2026-12-25]}
`

func TestCampaignDefaults(t *testing.T) {
	c, is := Parse("t.yaml", []byte(campaignBase), LoadOptions{LookupEnv: env(nil)})
	if len(is.Errors()) != 0 {
		t.Fatalf("unexpected issues:\n%v", is)
	}
	cp := c.Campaigns["refills"]
	if cp.Pacing != PacingAgentless || cp.RingTimeout != 25*time.Second || cp.MaxAttempts != 3 ||
		cp.Retry.NoAnswer != 2*time.Hour || cp.Retry.Busy != 15*time.Minute || cp.Retry.Machine != 4*time.Hour ||
		cp.Retry.Failed != 30*time.Minute || cp.AbandonTarget != 0.01 || cp.Recording != RecordNever ||
		cp.AMD.InitialSilence != 2500*time.Millisecond || cp.AMD.MaxWords != 3 || cp.AMD.SilenceThreshold != 256 ||
		!cp.AMD.On() || !cp.Voicemail.On() || cp.OptOutKey != "9" || cp.Language != "en" {
		t.Fatalf("defaults not applied: %+v", cp)
	}
	if got := strings.Join(cp.Voicemail.Prompts, " "); got != "dialer/vm_prescription $callback_number dialer/vm_repeat_number $callback_number dialer/vm_opt_out" {
		t.Fatalf("voicemail default: %s", got)
	}
	if c.Dialer.DailyCap != 1 || c.Dialer.WeeklyCap != 3 || c.Dialer.StateHours["FL"] != "08:00-20:00" || c.Dialer.CallingHours != "08:00-21:00" {
		t.Fatalf("dialer defaults: %+v", c.Dialer)
	}
}

func TestCampaignErrors(t *testing.T) {
	cases := []struct {
		name string
		edit func(string) string
		want string
	}{
		{"unknown trunk", func(s string) string { return strings.Replace(s, "trunk: carrier", "trunk: carier", 1) },
			`19:12: error: campaigns.refills.trunk: unknown trunk "carier" (fix: use one of: carrier)`},
		{"bad purpose", func(s string) string { return strings.Replace(s, "purpose: refill_reminder", "purpose: billing", 1) },
			`17:14: error: campaigns.refills.purpose: unsupported purpose "billing"`},
		{"caller id not on trunk", func(s string) string {
			return strings.Replace(s, `caller_id: "+15125550100"`, `caller_id: "+15125550199"`, 1)
		}, `20:16: error: campaigns.refills.caller_id: caller ID "+15125550199" is not one of the trunk's caller IDs`},
		{"bad window", func(s string) string { return strings.Replace(s, `"09:00-19:00"`, `"9-19"`, 1) },
			`23:37: error: campaigns.refills.window.hours[0]:`},
		{"bad holiday", func(s string) string { return strings.Replace(s, "2026-12-25", "2026-13-25", 1) },
			`23:64: error: campaigns.refills.window.holidays[0]:`},
		{"abandon above cap", func(s string) string { return s + "    abandon_target: 0.05\n" },
			`24:21: error: campaigns.refills.abandon_target: abandon target 0.05 out of range`},
		{"short ring", func(s string) string { return s + "    ring_timeout: 10s\n" },
			`24:19: error: campaigns.refills.ring_timeout: ring timeout 10s out of range`},
		{"pacing", func(s string) string { return s + "    pacing: turbo\n" },
			`24:13: error: campaigns.refills.pacing: unknown pacing "turbo"`},
		{"predictive needs queue", func(s string) string { return s + "    pacing: predictive\n" },
			`16:3: error: campaigns.refills: predictive campaign has no queue`},
		{"voicemail phi", func(s string) string {
			return s + "    voicemail:\n      prompts: [dialer/vm_prescription, $drug_name, $callback_number]\n"
		}, `25:41: error: campaigns.refills.voicemail.prompts[1]: placeholder "$drug_name" would put patient details on a machine`},
		{"voicemail without callback", func(s string) string {
			return s + "    voicemail:\n      prompts: [dialer/vm_prescription]\n"
		}, `25:16: error: campaigns.refills.voicemail.prompts: voicemail template has no callback number`},
		{"amd range", func(s string) string { return s + "    amd: {silence_threshold: 40000}\n" },
			`24:30: error: campaigns.refills.amd.silence_threshold: silence threshold 40000 out of range`},
		{"unknown key", func(s string) string { return s + "    max_attemps: 4\n" },
			`24:5: error: campaigns.refills.max_attemps: unknown key "max_attemps" (fix: did you mean "max_attempts"?)`},
		{"state hours", func(s string) string { return s + "dialer:\n  state_hours: {fl: \"08:00-20:00\"}\n" },
			`25:17: error: dialer.state_hours.fl: bad state code "fl"`},
		{"channels over trunk", func(s string) string { return s + "    max_channels: 50\n" },
			`24:19: error: campaigns.refills.max_channels: campaign channels 50 exceed the trunk's 30`},
		{"no callback number", func(s string) string {
			return strings.Replace(s, `    callback_number: "+15125550100"`+"\n", "", 1)
		}, `16:3: error: campaigns.refills.callback_number: callback number "" is missing or not E.164`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, is := Parse("careline.yaml", []byte(tc.edit(campaignBase)), LoadOptions{LookupEnv: env(nil)})
			text := is.Errors().Error()
			if !strings.Contains(text, "careline.yaml:"+tc.want) {
				t.Fatalf("missing %q in:\n%s", tc.want, text)
			}
		})
	}
}
