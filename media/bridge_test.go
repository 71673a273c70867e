package media

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/careline/careline/media/dsp"
)

// Two phones (pa, pb) talk through careline's two legs (a, b) joined by a bridge. Each
// phone hears the other's tone, relayed or transcoded, and the taps see both sides.
func TestBridgeRelayAndTranscode(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, 16)
	for _, tc := range []struct {
		name   string
		ca, cb Codec
		mode   string
	}{
		{"same codec relays", PCMU, PCMU, "Bridge[A->B: relay PCMU; B->A: relay PCMU]"},
		{"different codecs transcode", PCMU, PCMA, "Bridge[A->B: transcode PCMU->PCMA; B->A: transcode PCMA->PCMU]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pa, a := e.session(t), e.session(t) // patient's phone ↔ careline leg A
			pb, b := e.session(t), e.session(t) // agent's phone ↔ careline leg B
			cfgPA := sdpCfg(pa, true)
			cfgPA.Codecs = []Codec{tc.ca}
			connect(t, pa, a, cfgPA, sdpCfg(a, true))
			cfgPB := sdpCfg(pb, true)
			cfgPB.Codecs = []Codec{tc.cb}
			connect(t, pb, b, cfgPB, sdpCfg(b, true))

			tapA, tapB := newCollector("tapA", 4000), newCollector("tapB", 4000)
			br := NewBridge(a, b, BridgeOptions{TapA: tapA, TapB: tapB})
			br.Start()
			defer br.Stop()
			if br.String() != tc.mode {
				t.Fatalf("bridge %q, want %q", br.String(), tc.mode)
			}
			heardB, heardA := newCollector("pb", 4800), newCollector("pa", 4800)
			pb.SetSink(heardB)
			pa.SetSink(heardA)
			ctx := context.Background()
			done := make(chan error, 2)
			go func() {
				_, err := pa.Play(ctx, PlayOptions{Prompts: []*Prompt{Tone(440, time.Second)}})
				done <- err
			}()
			go func() {
				_, err := pb.Play(ctx, PlayOptions{Prompts: []*Prompt{Tone(1000, time.Second)}})
				done <- err
			}()
			wait(t, heardB.full, "agent phone audio")
			wait(t, heardA.full, "patient phone audio")
			<-done
			<-done
			pcmB, _ := heardB.snapshot()
			pcmA, _ := heardA.snapshot()
			if f := dsp.DominantFrequency(pcmB[800:4800], SampleRate); math.Abs(f-440) > 3 {
				t.Fatalf("agent heard %.1f Hz, want the patient's 440", f)
			}
			if f := dsp.DominantFrequency(pcmA[800:4800], SampleRate); math.Abs(f-1000) > 3 {
				t.Fatalf("patient heard %.1f Hz, want the agent's 1000", f)
			}
			wait(t, tapA.full, "tap A")
			wait(t, tapB.full, "tap B")
			ta, _ := tapA.snapshot()
			tb, _ := tapB.snapshot()
			if math.Abs(dsp.DominantFrequency(ta[:4000], SampleRate)-440) > 3 || math.Abs(dsp.DominantFrequency(tb[:4000], SampleRate)-1000) > 3 {
				t.Fatal("taps did not see each direction")
			}
			relayed, transcoded := br.Stats()
			if tc.ca == tc.cb && (relayed == 0 || transcoded != 0) || tc.ca != tc.cb && transcoded == 0 {
				t.Fatalf("relayed %d transcoded %d", relayed, transcoded)
			}
			br.Stop()
			if a.Sink() != nil || b.Sink() != nil {
				t.Fatal("Stop did not restore the previous sinks")
			}
		})
	}
}
