package ivr_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/careline/careline/config"
	"github.com/careline/careline/ivr"
	"github.com/careline/careline/ivr/ivrtest"
)

// FuzzFlowConfig feeds arbitrary YAML to the decoder, Validate and New, then runs
// every flow that builds against a caller scripted from keys. Nothing may panic;
// Validate's issues must carry a path and a fix; a config without errors must
// build; and every run must end, with an error exactly when the outcome is
// OutcomeError.
func FuzzFlowConfig(f *testing.F) {
	// The example's schedules and flows (not the whole file: small seeds keep the
	// minimisation of new inputs quick).
	example, err := os.ReadFile(repoPath("configs", "careline.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	i := strings.Index(string(example), "\nschedules:")
	j := strings.Index(string(example), "\nagents:")
	if i < 0 || j < i {
		f.Fatal("example config: schedules/agents sections not found")
	}
	f.Add(head+string(example[i+1:j]), "21234567#")
	f.Add(head+string(example[i+1:j]), "s2s*9v")
	for _, flows := range []string{menuFlow, matchFlow, collectFlow, sayFlow, hoursFlow, branchFlow, lookupFlow, voicemailFlow, transferFlow, callbackFlow} {
		f.Add(head+flows, "1")
		f.Add(head+flows, "s91001#v2")
	}
	f.Add(valHead+"      a:\n        play: {prompts: [x]}\n        next: a\n", "")
	manifest := loadManifest(f)
	f.Fuzz(func(t *testing.T, src, keys string) {
		if len(src) > 1<<14 || len(keys) > 32 {
			return
		}
		cfg, is := config.Parse("fuzz.yaml", []byte(src), config.LoadOptions{LookupEnv: noEnv, AllowMissingSecrets: true})
		if cfg == nil {
			return
		}
		vis := ivr.Validate(cfg, manifest)
		for _, i := range vis {
			if i.Path == "" || i.Fix == "" || i.Msg == "" {
				t.Errorf("issue without path, message or fix: %s", i)
			}
		}
		vm := &ivrtest.Voicemails{}
		in, err := ivr.FromConfig(cfg, ivr.WithClock(fixedClock(mondayOpen)), ivr.WithVoicemailStore(vm))
		if err != nil {
			if len(is.Errors()) == 0 && len(vis.Errors()) == 0 {
				t.Fatalf("Validate found no error but New failed: %v", err)
			}
			return
		}
		var script []ivrtest.Step
		for _, k := range keys {
			switch {
			case k >= '0' && k <= '9', k == '*', k == '#':
				script = append(script, ivrtest.Press(string(k)))
			case k == 's':
				script = append(script, ivrtest.Silence())
			case k == 'b':
				script = append(script, ivrtest.Barge("1"))
			case k == 'p':
				script = append(script, ivrtest.PressAfter(30*time.Second, "1"))
			case k == 'v':
				script = append(script, ivrtest.Speak(3*time.Second, ivr.RecordTerminator))
			case k == 'h':
				script = append(script, ivrtest.Hangup())
			}
		}
		for _, name := range in.Flows() {
			ch := ivrtest.NewChannel("en", inbound(true), script...)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			out, err := in.Run(ctx, name, ch, ivr.CallInfo{Caller: "+15125550123"})
			cancel()
			if (err != nil) != (out.Kind == ivr.OutcomeError) {
				t.Fatalf("flow %s: outcome %v with error %v", name, out.Kind, err)
			}
		}
	})
}
