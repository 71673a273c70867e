// Package dsp holds small signal-processing helpers for 8 kHz telephone audio: tone
// synthesis, Goertzel power, dominant-frequency estimation, levels, and an in-band DTMF
// (Goertzel) detector. It knows nothing about RTP or calls.
package dsp

import (
	"math"
	"math/cmplx"
	"time"
)

// Tone returns dur of a sine at freq Hz. amplitude is a fraction of full scale (0..1).
func Tone(freq float64, dur time.Duration, sampleRate int, amplitude float64) []int16 {
	return MultiTone([]float64{freq}, dur, sampleRate, amplitude)
}

// DualTone returns dur of two equal-amplitude sines (e.g. a DTMF digit); amplitude is
// the peak of the sum as a fraction of full scale.
func DualTone(f1, f2 float64, dur time.Duration, sampleRate int, amplitude float64) []int16 {
	return MultiTone([]float64{f1, f2}, dur, sampleRate, amplitude)
}

// MultiTone returns dur of equal-amplitude sines at freqs whose summed peak is amplitude
// (a fraction of full scale).
func MultiTone(freqs []float64, dur time.Duration, sampleRate int, amplitude float64) []int16 {
	n := int(dur.Seconds() * float64(sampleRate))
	out := make([]int16, n)
	if len(freqs) == 0 || n == 0 {
		return out
	}
	a := clamp01(amplitude) * 32767 / float64(len(freqs))
	for i := range out {
		var v float64
		t := float64(i) / float64(sampleRate)
		for _, f := range freqs {
			v += math.Sin(2 * math.Pi * f * t)
		}
		out[i] = int16(math.Round(a * v))
	}
	return out
}

func clamp01(x float64) float64 { return math.Max(0, math.Min(1, x)) }

// GoertzelPower returns the squared amplitude of the freq component of pcm, as a
// fraction of full scale: a full-scale sine at freq gives ≈1, a half-scale one ≈0.25.
func GoertzelPower(pcm []int16, freq float64, sampleRate int) float64 {
	if len(pcm) == 0 {
		return 0
	}
	coeff := 2 * math.Cos(2*math.Pi*freq/float64(sampleRate))
	var s1, s2 float64
	for _, x := range pcm {
		s := float64(x)/32768 + coeff*s1 - s2
		s2, s1 = s1, s
	}
	p := s1*s1 + s2*s2 - coeff*s1*s2
	n := float64(len(pcm))
	return p * 4 / (n * n)
}

// RMS returns the root-mean-square level of pcm as a fraction of full scale.
func RMS(pcm []int16) float64 {
	if len(pcm) == 0 {
		return 0
	}
	var sum float64
	for _, x := range pcm {
		f := float64(x) / 32768
		sum += f * f
	}
	return math.Sqrt(sum / float64(len(pcm)))
}

// DBFS returns the RMS level in dB relative to full scale (a full-scale square wave is 0
// dBFS, a full-scale sine about -3). Silence returns -120.
func DBFS(pcm []int16) float64 {
	r := RMS(pcm)
	if r < 1e-6 {
		return -120
	}
	return 20 * math.Log10(r)
}

// DominantFrequency estimates the frequency (Hz) with the most energy in pcm, using a
// Hann-windowed FFT (Welch-averaged over long inputs) with Gaussian peak interpolation;
// a pure tone of 0.5 s comes out within about 1 Hz. It returns 0 for silence or input
// shorter than 64 samples. DC is ignored.
func DominantFrequency(pcm []int16, sampleRate int) float64 {
	if len(pcm) < 64 {
		return 0
	}
	const maxN = 8192
	n := 64
	for n*2 <= len(pcm) && n < maxN {
		n *= 2
	}
	if n < len(pcm) && n < maxN {
		n *= 2 // zero-pad the tail of a short input rather than drop it
	}
	win := make([]float64, n)
	seg := min(n, len(pcm))
	for i := range seg {
		win[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(seg))
	}
	spec := make([]float64, n/2)
	buf := make([]complex128, n)
	hop := n / 2
	segments := 0
	for start := 0; ; start += hop {
		end := min(start+n, len(pcm))
		for i := range buf {
			buf[i] = 0
		}
		for i := start; i < end; i++ {
			buf[i-start] = complex(float64(pcm[i])*win[i-start], 0)
		}
		fft(buf)
		for k := range spec {
			a := cmplx.Abs(buf[k])
			spec[k] += a * a
		}
		segments++
		if end == len(pcm) || start+hop >= len(pcm) {
			break
		}
	}
	peak := 1 // skip DC
	for k := 2; k < len(spec)-1; k++ {
		if spec[k] > spec[peak] {
			peak = k
		}
	}
	if spec[peak] <= 1e-9*float64(segments) {
		return 0
	}
	delta := 0.0
	if peak > 0 && peak < len(spec)-1 {
		a, b, c := math.Log(spec[peak-1]+1e-30), math.Log(spec[peak]+1e-30), math.Log(spec[peak+1]+1e-30)
		if d := a - 2*b + c; d != 0 {
			delta = 0.5 * (a - c) / d
		}
	}
	return (float64(peak) + delta) * float64(sampleRate) / float64(n)
}

// fft is an in-place iterative radix-2 FFT; len(x) must be a power of two.
func fft(x []complex128) {
	n := len(x)
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j |= bit
		if i < j {
			x[i], x[j] = x[j], x[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		step := cmplx.Exp(complex(0, -2*math.Pi/float64(size)))
		for start := 0; start < n; start += size {
			w := complex(1, 0)
			for k := range size / 2 {
				u := x[start+k]
				v := x[start+k+size/2] * w
				x[start+k] = u + v
				x[start+k+size/2] = u - v
				w *= step
			}
		}
	}
}
