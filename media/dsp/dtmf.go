package dsp

import "math"

// DTMF frequencies (Hz).
var (
	dtmfRows = [4]float64{697, 770, 852, 941}
	dtmfCols = [4]float64{1209, 1336, 1477, 1633}
	dtmfKeys = [4][4]rune{
		{'1', '2', '3', 'A'},
		{'4', '5', '6', 'B'},
		{'7', '8', '9', 'C'},
		{'*', '0', '#', 'D'},
	}
)

// DTMFFrequencies returns the row and column frequency of a DTMF key (0-9, *, #, A-D).
func DTMFFrequencies(key rune) (row, col float64, ok bool) {
	for r := range dtmfKeys {
		for c := range dtmfKeys[r] {
			if dtmfKeys[r][c] == key {
				return dtmfRows[r], dtmfCols[c], true
			}
		}
	}
	return 0, 0, false
}

// DTMFDetector finds DTMF digits in a stream of PCM (in-band signalling, for trunks that
// do not send RFC 4733 events). It runs Goertzel filters over blocks of 205 samples
// (25.6 ms at 8 kHz) and reports a digit once it has been present for two consecutive
// blocks; the same key must be released (one block without it) before it is reported
// again. Not safe for concurrent use; one per stream.
type DTMFDetector struct {
	rate   int
	block  int
	coeffs [8]float64
	s1, s2 [8]float64
	energy float64
	n      int

	last     rune // result of the previous block (0 = none)
	reported rune // digit reported and not yet released
}

// DTMF detection thresholds.
const (
	dtmfMinTone   = 0.0004 // squared amplitude of each tone ≈ -34 dBFS peak
	dtmfTwist     = 6.3    // max ratio between row and column power (8 dB)
	dtmfRelPeak   = 6.3    // peak must exceed the others in its group by 8 dB
	dtmfToneShare = 0.6    // row+col power must be this share of the block's power
)

// NewDTMFDetector returns a detector for audio at sampleRate (8000 for telephony).
func NewDTMFDetector(sampleRate int) *DTMFDetector {
	d := &DTMFDetector{rate: sampleRate, block: sampleRate * 205 / 8000}
	for i, f := range append(dtmfRows[:], dtmfCols[:]...) {
		d.coeffs[i] = 2 * math.Cos(2*math.Pi*f/float64(sampleRate))
	}
	return d
}

// String names the stage for pipeline descriptions.
func (d *DTMFDetector) String() string { return "InbandDTMF" }

// Reset forgets partial blocks and key state.
func (d *DTMFDetector) Reset() {
	d.s1, d.s2 = [8]float64{}, [8]float64{}
	d.energy, d.n, d.last, d.reported = 0, 0, 0, 0
}

// Detect feeds pcm to the detector and appends any digits that completed to dst. It does
// not allocate unless a digit is found and dst has no room.
func (d *DTMFDetector) Detect(dst []rune, pcm []int16) []rune {
	for _, x := range pcm {
		f := float64(x) / 32768
		d.energy += f * f
		for i := range d.coeffs {
			s := f + d.coeffs[i]*d.s1[i] - d.s2[i]
			d.s2[i], d.s1[i] = d.s1[i], s
		}
		d.n++
		if d.n == d.block {
			k := d.classify()
			if k != 0 && k == d.last && k != d.reported {
				d.reported = k
				dst = append(dst, k)
			}
			if k == 0 {
				d.reported = 0 // released: the same key may be reported again
			}
			d.last = k
			d.s1, d.s2 = [8]float64{}, [8]float64{}
			d.energy, d.n = 0, 0
		}
	}
	return dst
}

// classify returns the key present in the finished block, or 0.
func (d *DTMFDetector) classify() rune {
	n := float64(d.block)
	var p [8]float64
	for i := range p {
		p[i] = (d.s1[i]*d.s1[i] + d.s2[i]*d.s2[i] - d.coeffs[i]*d.s1[i]*d.s2[i]) * 4 / (n * n)
	}
	r, c := argmax4(p[0:4]), argmax4(p[4:8])
	rp, cp := p[r], p[4+c]
	if rp < dtmfMinTone || cp < dtmfMinTone {
		return 0
	}
	if rp > cp*dtmfTwist || cp > rp*dtmfTwist {
		return 0
	}
	for i := range 4 {
		if i != r && p[i]*dtmfRelPeak > rp {
			return 0
		}
		if i != c && p[4+i]*dtmfRelPeak > cp {
			return 0
		}
	}
	// A sine of squared amplitude P has mean power P/2: the two tones must carry most of
	// the block's energy, which rejects speech and noise with DTMF-like peaks.
	mean := d.energy / n
	if (rp+cp)/2 < dtmfToneShare*mean {
		return 0
	}
	return dtmfKeys[r][c]
}

func argmax4(p []float64) int {
	best := 0
	for i := 1; i < len(p); i++ {
		if p[i] > p[best] {
			best = i
		}
	}
	return best
}
