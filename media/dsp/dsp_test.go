package dsp

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestDominantFrequency(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		freqs []float64
		dur   time.Duration
		want  float64
		tol   float64
	}{
		{[]float64{440}, 500 * time.Millisecond, 440, 1},
		{[]float64{1000}, 100 * time.Millisecond, 1000, 5},
		{[]float64{350, 440}, time.Second, 440, 1}, // equal amplitudes: either; see below
		{[]float64{3000}, 2 * time.Second, 3000, 1},
		{[]float64{697}, 40 * time.Millisecond, 697, 20},
	} {
		pcm := MultiTone(tc.freqs, tc.dur, 8000, 0.8)
		if len(tc.freqs) == 2 { // make 440 dominant
			b := Tone(440, tc.dur, 8000, 0.5)
			for i := range pcm {
				pcm[i] = pcm[i]/4 + b[i]
			}
		}
		got := DominantFrequency(pcm, 8000)
		if math.Abs(got-tc.want) > tc.tol {
			t.Errorf("%v for %v: got %.2f Hz, want %.0f±%.0f", tc.freqs, tc.dur, got, tc.want, tc.tol)
		}
	}
	if f := DominantFrequency(make([]int16, 4000), 8000); f != 0 {
		t.Errorf("silence: %v", f)
	}
	if f := DominantFrequency([]int16{1, 2}, 8000); f != 0 {
		t.Errorf("short: %v", f)
	}
}

func TestGoertzelAndLevels(t *testing.T) {
	t.Parallel()
	pcm := Tone(1000, 200*time.Millisecond, 8000, 0.5)
	if p := GoertzelPower(pcm, 1000, 8000); math.Abs(p-0.25) > 0.01 {
		t.Errorf("power at 1000 = %.3f, want 0.25", p)
	}
	if p := GoertzelPower(pcm, 1500, 8000); p > 0.001 {
		t.Errorf("power at 1500 = %.4f", p)
	}
	if r := RMS(pcm); math.Abs(r-0.5/math.Sqrt2) > 0.005 {
		t.Errorf("RMS %.4f", r)
	}
	if d := DBFS(pcm); math.Abs(d-(-9.03)) > 0.1 {
		t.Errorf("DBFS %.2f", d)
	}
	if d := DBFS(make([]int16, 10)); d != -120 {
		t.Errorf("silence DBFS %v", d)
	}
	if RMS(nil) != 0 || GoertzelPower(nil, 1, 8000) != 0 {
		t.Error("empty input")
	}
}

// feed runs pcm through the detector in 20 ms frames, as the receive path does.
func feed(d *DTMFDetector, pcm []int16) string {
	var got []rune
	for len(pcm) > 0 {
		n := min(160, len(pcm))
		got = d.Detect(got, pcm[:n])
		pcm = pcm[n:]
	}
	return string(got)
}

func digits(keys string, on, off time.Duration, amp float64) []int16 {
	var pcm []int16
	for _, k := range keys {
		r, c, ok := DTMFFrequencies(k)
		if !ok {
			panic(string(k))
		}
		pcm = append(pcm, DualTone(r, c, on, 8000, amp)...)
		pcm = append(pcm, make([]int16, int(off.Seconds()*8000))...)
	}
	return pcm
}

func TestDTMFDetector(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	noisy := func(pcm []int16, level float64) []int16 {
		out := slices.Clone(pcm)
		for i := range out {
			out[i] += int16(rng.NormFloat64() * level * 32768)
		}
		return out
	}
	g711 := func(pcm []int16) []int16 { // µ-law round trip, as audio from a trunk would be
		out := make([]int16, len(pcm))
		for i, x := range pcm {
			// local µ-law-like quantisation: keep the top 8 bits of the magnitude's log
			m := math.Abs(float64(x))
			q := math.Exp(math.Round(math.Log1p(m)*16) / 16)
			out[i] = int16(math.Copysign(q-1, float64(x)))
		}
		return out
	}
	all := "0123456789*#ABCD"
	tests := []struct {
		name string
		pcm  []int16
		want string
	}{
		{"all keys", digits(all, 100*time.Millisecond, 60*time.Millisecond, 0.5), all},
		{"123#", digits("123#", 80*time.Millisecond, 80*time.Millisecond, 0.3), "123#"},
		{"repeated key", digits("11", 100*time.Millisecond, 60*time.Millisecond, 0.5), "11"},
		{"long press", digits("5", 2*time.Second, 0, 0.5), "5"},
		{"quiet -30 dBFS", digits("9", 100*time.Millisecond, 50*time.Millisecond, 0.045), "9"},
		{"noise 20 dB below", noisy(digits("47", 100*time.Millisecond, 60*time.Millisecond, 0.4), 0.02), "47"},
		{"companded", g711(digits("258", 100*time.Millisecond, 60*time.Millisecond, 0.5)), "258"},
		{"too short (20 ms)", digits("3", 20*time.Millisecond, 100*time.Millisecond, 0.5), ""},
		{"single tone", Tone(697, time.Second, 8000, 0.5), ""},
		{"dial tone 350+440", DualTone(350, 440, time.Second, 8000, 0.5), ""},
		{"440 Hz", Tone(440, time.Second, 8000, 0.8), ""},
		{"white noise", noisy(make([]int16, 16000), 0.2), ""},
		{"silence", make([]int16, 8000), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := feed(NewDTMFDetector(8000), tc.pcm); got != tc.want {
				t.Errorf("detected %q, want %q", got, tc.want)
			}
		})
	}
	if _, _, ok := DTMFFrequencies('x'); ok {
		t.Error("x has frequencies")
	}
	d := NewDTMFDetector(8000)
	if d.String() != "InbandDTMF" {
		t.Error(d.String())
	}
}

func BenchmarkDTMFDetectorFrame(b *testing.B) {
	d := NewDTMFDetector(8000)
	pcm := Tone(440, 20*time.Millisecond, 8000, 0.5)
	var dst []rune
	b.ReportAllocs()
	for b.Loop() {
		dst = d.Detect(dst[:0], pcm)
	}
}
