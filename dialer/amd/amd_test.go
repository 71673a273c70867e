package amd_test

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/careline/careline/dialer/amd"
	"github.com/careline/careline/dialer/amd/amdcorpus"
)

// corpus builds the synthetic corpus once per test binary (cached on disk across runs).
var corpus = sync.OnceValues(func() ([]amd.Sample, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	return amdcorpus.Build(ctx, amdcorpus.Options{Parallel: 4})
})

func TestCorpusAccuracy(t *testing.T) {
	t.Parallel()
	samples, err := corpus()
	if err != nil {
		t.Fatal(err)
	}
	c, decs := amd.Evaluate(samples, amd.DefaultOptions())
	for i, s := range samples {
		mark := ""
		if (s.Truth == amd.Machine) != (decs[i].Result == amd.Machine) {
			mark = "  <-- wrong"
		}
		t.Logf("%-16s %s%s", s.Name, decs[i], mark)
	}
	t.Logf("confusion matrix (%s):\n%s", amd.DefaultOptions(), c.String())
	if acc := c.Accuracy(); acc < 0.90 {
		t.Fatalf("accuracy %.1f%% < 90%%", 100*acc)
	}
}

// signal builds test audio from segments: voice (band-limited noise well above the
// threshold), silence, or a tone.
type seg struct {
	kind string // voice, silence, tone
	dur  time.Duration
	hz   float64
}

func build(segs ...seg) []int16 {
	var out []int16
	state := uint32(12345)
	for _, s := range segs {
		n := int(s.dur * amd.SampleRate / time.Second)
		for i := range n {
			var v float64
			switch s.kind {
			case "voice":
				state = state*1664525 + 1013904223
				v = float64(int32(state)>>20) * 4 // roughly ±2048 noise
			case "tone":
				v = 6000 * math.Sin(2*math.Pi*s.hz*float64(i)/amd.SampleRate)
			}
			out = append(out, int16(v))
		}
	}
	return out
}

// flutter alternates 80 ms of voice (too short for a word) with 40 ms of silence (too
// short to end one): no rule fires before the analysis time runs out.
func flutter(d time.Duration) []int16 {
	var segs []seg
	for t := time.Duration(0); t < d; t += ms(120) {
		segs = append(segs, seg{"voice", ms(80), 0}, seg{"silence", ms(40), 0})
	}
	return build(segs...)
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestDetectorRules(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		pcm         []int16
		want        amd.Result
		cause       amd.Cause
		at          time.Duration
		greetingEnd time.Duration
	}{
		{"silence", build(seg{"silence", ms(4000), 0}), amd.Machine, amd.CauseInitialSilence, ms(2500), ms(2500)},
		{"short hello", build(seg{"silence", ms(500), 0}, seg{"voice", ms(400), 0}, seg{"silence", ms(2000), 0}),
			amd.Human, amd.CauseHuman, ms(1700), ms(900)},
		{"two words", build(seg{"silence", ms(300), 0}, seg{"voice", ms(300), 0}, seg{"silence", ms(200), 0},
			seg{"voice", ms(500), 0}, seg{"silence", ms(2000), 0}), amd.Human, amd.CauseHuman, ms(2100), ms(1300)},
		{"long greeting", build(seg{"silence", ms(200), 0}, seg{"voice", ms(3000), 0}),
			amd.Machine, amd.CauseLongGreeting, ms(1700), ms(1700)},
		{"many words", build(seg{"voice", ms(200), 0}, seg{"silence", ms(100), 0}, seg{"voice", ms(200), 0},
			seg{"silence", ms(100), 0}, seg{"voice", ms(200), 0}, seg{"silence", ms(100), 0}, seg{"voice", ms(200), 0}),
			amd.Machine, amd.CauseMaxWords, ms(1000), ms(1000)},
		{"never decides", flutter(ms(6000)), amd.Unsure, amd.CauseTooLong, ms(5000), ms(5000)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := amd.Classify(tc.pcm, amd.DefaultOptions())
			if d.Result != tc.want || d.Cause != tc.cause || d.At != tc.at || d.GreetingEnd != tc.greetingEnd {
				t.Fatalf("got %v (greeting end %s), want %s (%s) at %s, greeting end %s", d, d.GreetingEnd, tc.want, tc.cause, tc.at, tc.greetingEnd)
			}
		})
	}
}

func feedEnd(pcm []int16, o amd.EndOptions) (amd.End, bool) {
	g := amd.NewGreetingEnd(o)
	for i := 0; i < len(pcm); i += 160 {
		if e, ok := g.Feed(pcm[i:min(i+160, len(pcm))]); ok {
			return e, true
		}
	}
	return amd.End{}, false
}

func TestGreetingEnd(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		pcm    []int16
		reason amd.EndReason
		at     time.Duration
		hz     float64
	}{
		{"beep 1 kHz", build(seg{"voice", ms(2000), 0}, seg{"silence", ms(300), 0}, seg{"tone", ms(500), 1000}, seg{"silence", ms(3000), 0}),
			amd.EndBeep, ms(2800), 1000},
		{"beep 1400 Hz", build(seg{"voice", ms(1000), 0}, seg{"tone", ms(300), 1400}, seg{"silence", ms(3000), 0}),
			amd.EndBeep, ms(1300), 1400},
		{"click is not a beep", build(seg{"voice", ms(1000), 0}, seg{"tone", ms(40), 1000}, seg{"silence", ms(3000), 0}),
			amd.EndSilence, ms(3040), 0},
		{"silence after speech", build(seg{"voice", ms(1500), 0}, seg{"silence", ms(3000), 0}), amd.EndSilence, ms(3500), 0},
		{"endless talk", build(seg{"voice", ms(25000), 0}), amd.EndTimeout, ms(20000), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := feedEnd(tc.pcm, amd.DefaultEndOptions())
			if !ok || e.Reason != tc.reason || e.At != tc.at || (tc.hz != 0 && e.ToneHz != tc.hz) {
				t.Fatalf("got %+v %v, want %s at %s (%g Hz)", e, ok, tc.reason, tc.at, tc.hz)
			}
		})
	}
}

func TestCorpusGreetingEndFindsBeep(t *testing.T) {
	t.Parallel()
	samples, err := corpus()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range samples {
		if s.Truth != amd.Machine {
			continue
		}
		d := amd.Classify(s.PCM, amd.DefaultOptions())
		from := int(d.At * amd.SampleRate / time.Second)
		e, ok := feedEnd(s.PCM[from:], amd.DefaultEndOptions())
		at := d.At + e.At
		if !ok || e.Reason != amd.EndBeep || at < s.BeepEnd-amd.FrameDuration || at > s.BeepEnd+amd.FrameDuration {
			t.Errorf("%s: end %+v at %s, beep ends at %s", s.Name, e, at, s.BeepEnd)
		}
	}
}

func TestConfusion(t *testing.T) {
	var c amd.Confusion
	for range 8 {
		c.Add(amd.Human, amd.Human)
	}
	c.Add(amd.Human, amd.Unsure)
	c.Add(amd.Human, amd.Machine)
	for range 9 {
		c.Add(amd.Machine, amd.Machine)
	}
	c.Add(amd.Machine, amd.Human)
	if c.Total() != 20 || c.Accuracy() != 0.9 {
		t.Fatalf("total %d accuracy %g", c.Total(), c.Accuracy())
	}
}
