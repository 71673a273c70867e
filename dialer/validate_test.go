package dialer

import (
	"strings"
	"testing"
	"time"

	"github.com/careline/careline/config"
)

const validateYAML = `version: 1
site:
  name: Test Pharmacy
  languages: [en, es]
sip:
  listen:
    - {network: udp, addr: "127.0.0.1:0"}
trunks:
  carrier: {address: "127.0.0.1:5080"}
campaigns:
  refills:
    purpose: refill_reminder
    flow: outbound_refill
    trunk: carrier
    caller_id: "+15125550100"
    pharmacy_name: Main Street Pharmacy
    callback_number: "+15125550100"
    schedule: pharmacy
`

func TestValidateCampaigns(t *testing.T) {
	t.Parallel()
	cfg, is := config.Parse("careline.yaml", []byte(validateYAML), config.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }})
	if len(is.Errors()) > 0 {
		t.Fatal(is)
	}
	// Every prompt lasts 2 s, digits 0.4 s; dialer/long lasts 55 s; nothing exists for "missing/x".
	dur := func(lang, id string) (time.Duration, bool) {
		switch {
		case id == "missing/x":
			return 0, false
		case id == "dialer/long":
			return 55 * time.Second, true
		case strings.HasPrefix(id, "num/") || id == "pause/short" || strings.HasPrefix(id, "day/") || strings.HasPrefix(id, "month/") ||
			strings.HasPrefix(id, "word/") || strings.HasPrefix(id, "time/"):
			return 400 * time.Millisecond, true
		}
		return 2 * time.Second, true
	}
	good := FlowSummary{Message: []string{"dialer/identification", "dialer/refill_ready"}, OptOutKeys: []string{"9"}}
	cases := []struct {
		name string
		flow FlowSummary
		ok   bool
		sch  bool
		want string
	}{
		{"good", good, true, true, ""},
		{"no opt-out", FlowSummary{Message: good.Message, OptOutKeys: []string{"1", "2"}}, true, true,
			`careline.yaml:13:11: error: campaigns.refills.flow: flow "outbound_refill" has no opt-out key "9"`},
		{"identification not first", FlowSummary{Message: []string{"dialer/refill_ready"}, OptOutKeys: []string{"9"}}, true, true,
			`campaigns.refills.flow: flow "outbound_refill" does not identify the pharmacy first`},
		{"too long", FlowSummary{Message: []string{"dialer/identification", "dialer/long", "$appointment_at", "$callback_number"}, OptOutKeys: []string{"9"}}, true, true,
			`campaigns.refills.flow: flow message lasts about 1m`},
		{"missing prompt", FlowSummary{Message: []string{"dialer/identification", "missing/x"}, OptOutKeys: []string{"9"}}, true, true,
			`flow message: no en recording for missing/x`},
		{"unknown flow", good, false, true, `campaigns.refills.flow: unknown flow "outbound_refill"`},
		{"unknown schedule", good, true, false, `careline.yaml:18:15: error: campaigns.refills.schedule: unknown schedule "pharmacy"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := ValidateEnv{
				Flows:     func(string) (FlowSummary, bool) { return tc.flow, tc.ok },
				Schedules: func(string) bool { return tc.sch },
				Durations: dur,
			}
			issues := cfg.Locate(ValidateCampaigns(cfg, env))
			text := issues.Error()
			if tc.want == "" {
				if len(issues) > 0 {
					t.Fatalf("unexpected issues:\n%s", text)
				}
				return
			}
			if !strings.Contains(text, tc.want) {
				t.Fatalf("missing %q in:\n%s", tc.want, text)
			}
		})
	}
}

func TestEstimateMessage(t *testing.T) {
	t.Parallel()
	dur := func(lang, id string) (time.Duration, bool) { return 500 * time.Millisecond, true }
	d, missing := EstimateMessage("en", []string{"dialer/vm_prescription", SayCallback, "dialer/vm_opt_out"}, "+15125550100", dur)
	// 2 prompts + 10 digits + 2 pauses
	if d != 14*500*time.Millisecond || len(missing) != 0 {
		t.Fatalf("%s %v", d, missing)
	}
	_, missing = EstimateMessage("es", []string{"$drug"}, "+15125550100", dur)
	if len(missing) != 1 || missing[0] != "$drug" {
		t.Fatalf("missing %v", missing)
	}
}
