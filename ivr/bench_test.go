package ivr_test

import (
	"context"
	"testing"

	"github.com/careline/careline/ivr"
	"github.com/careline/careline/ivr/ivrtest"
)

// BenchmarkRunSpanishRefill runs the example flow's Spanish refill path (8 nodes,
// 9 events) on the scripted channel: the interpreter's own cost per call.
func BenchmarkRunSpanishRefill(b *testing.B) {
	in, err := ivr.FromConfig(loadExample(b), ivr.WithEventLog(&ivrtest.Events{}), ivr.WithClock(fixedClock(mondayOpen)))
	if err != nil {
		b.Fatal(err)
	}
	script, _ := ivrtest.PharmacySpanishRefill("1234567")
	b.ReportAllocs()
	for b.Loop() {
		ch := ivrtest.NewChannel("en", inbound(true), script...)
		if out, err := in.Run(context.Background(), "pharmacy", ch, ivr.CallInfo{InteractionID: testIID}); err != nil || out.Kind != ivr.OutcomeHangup {
			b.Fatal(out, err)
		}
	}
}

func BenchmarkValidateExample(b *testing.B) {
	cfg, m := loadExample(b), loadManifest(b)
	for b.Loop() {
		ivr.Validate(cfg, m)
	}
}
