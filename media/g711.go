package media

import (
	"strings"
	"time"
)

// Codec identifies an audio codec the engine speaks on the wire. The zero value is
// CodecNone. Internal audio is always 8 kHz mono PCM16; a Codec converts between that and
// the RTP payload.
type Codec uint8

const (
	// CodecNone is the zero Codec: nothing negotiated.
	CodecNone Codec = iota
	// PCMU is G.711 µ-law, static payload type 0.
	PCMU
	// PCMA is G.711 A-law, static payload type 8.
	PCMA
)

// SampleRate is the rate of all internal audio and of every supported codec.
const SampleRate = 8000

// FrameSamples is the number of samples in one 20 ms frame at 8 kHz.
const FrameSamples = 160

// FrameDuration is the length of one internal frame.
const FrameDuration = 20 * time.Millisecond

// Name returns the RTP encoding name ("PCMU", "PCMA"; "" for CodecNone).
func (c Codec) Name() string {
	switch c {
	case PCMU:
		return "PCMU"
	case PCMA:
		return "PCMA"
	}
	return ""
}

// String returns "PCMU/0", "PCMA/8" or "none".
func (c Codec) String() string {
	switch c {
	case PCMU:
		return "PCMU/0"
	case PCMA:
		return "PCMA/8"
	}
	return "none"
}

// PayloadType returns the static RTP payload type (0 for PCMU, 8 for PCMA).
func (c Codec) PayloadType() uint8 {
	if c == PCMA {
		return 8
	}
	return 0
}

// ClockRate is the RTP clock rate of the codec (8000 for G.711).
func (c Codec) ClockRate() int { return SampleRate }

// Valid reports whether c is a real codec.
func (c Codec) Valid() bool { return c == PCMU || c == PCMA }

// SilenceByte is the encoded value of a zero sample (0xFF µ-law, 0xD5 A-law).
func (c Codec) SilenceByte() byte {
	if c == PCMA {
		return 0xD5
	}
	return 0xFF
}

// Encode appends the encoding of pcm to dst and returns the extended slice. One byte per
// sample. It does not allocate when dst has room.
func (c Codec) Encode(dst []byte, pcm []int16) []byte {
	if !c.Valid() {
		return dst
	}
	n := len(dst)
	dst = growBytes(dst, len(pcm))
	out := dst[n:]
	// The tables are indexed by the top 14 (µ-law) or 13 (A-law) bits of the two's
	// complement sample. Shifting a negative sample right and complementing equals
	// complementing and shifting, so this matches G.191's one's-complement magnitude.
	if c == PCMU {
		t := &g711Tables.ulawEnc
		for i, x := range pcm {
			out[i] = t[uint16(x)>>2]
		}
	} else {
		t := &g711Tables.alawEnc
		for i, x := range pcm {
			out[i] = t[uint16(x)>>3]
		}
	}
	return dst
}

// Decode appends the PCM16 decoding of payload to dst and returns the extended slice.
func (c Codec) Decode(dst []int16, payload []byte) []int16 {
	var t *[256]int16
	switch c {
	case PCMU:
		t = &g711Tables.ulawDec
	case PCMA:
		t = &g711Tables.alawDec
	default:
		return dst
	}
	n := len(dst)
	dst = growInt16(dst, len(payload))
	out := dst[n:]
	for i, b := range payload {
		out[i] = t[b]
	}
	return dst
}

// EncodeSample encodes one sample.
func (c Codec) EncodeSample(x int16) byte {
	switch c {
	case PCMU:
		return g711Tables.ulawEnc[uint16(x)>>2]
	case PCMA:
		return g711Tables.alawEnc[uint16(x)>>3]
	}
	return 0
}

// DecodeSample decodes one byte.
func (c Codec) DecodeSample(b byte) int16 {
	switch c {
	case PCMU:
		return g711Tables.ulawDec[b]
	case PCMA:
		return g711Tables.alawDec[b]
	}
	return 0
}

// CodecByName finds a codec by RTP encoding name, case-insensitively.
func CodecByName(name string) (Codec, bool) {
	switch {
	case strings.EqualFold(name, "PCMU"):
		return PCMU, true
	case strings.EqualFold(name, "PCMA"):
		return PCMA, true
	}
	return CodecNone, false
}

// CodecByPayloadType finds a codec by static payload type (0 or 8).
func CodecByPayloadType(pt uint8) (Codec, bool) {
	switch pt {
	case 0:
		return PCMU, true
	case 8:
		return PCMA, true
	}
	return CodecNone, false
}

func growBytes(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	nb := make([]byte, len(b)+n, 2*len(b)+n)
	copy(nb, b)
	return nb
}

func growInt16(b []int16, n int) []int16 {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	nb := make([]int16, len(b)+n, 2*len(b)+n)
	copy(nb, b)
	return nb
}

// g711Tables holds the lookup tables, computed once at package initialisation from the
// ITU-T G.191 reference algorithms and never written afterwards.
var g711Tables = buildG711Tables()

type g711TableSet struct {
	ulawEnc [1 << 14]byte // indexed by uint16(x)>>2 (14 most significant bits)
	alawEnc [1 << 13]byte // indexed by uint16(x)>>3 (13 MSBs)
	ulawDec [256]int16
	alawDec [256]int16
}

func buildG711Tables() *g711TableSet {
	t := new(g711TableSet)
	for i := range 1 << 14 {
		t.ulawEnc[i] = ulawCompress(int16(uint16(i) << 2))
	}
	for i := range 1 << 13 {
		t.alawEnc[i] = alawCompress(int16(uint16(i) << 3))
	}
	for i := range 256 {
		t.ulawDec[i] = ulawExpand(byte(i))
		t.alawDec[i] = alawExpand(byte(i))
	}
	return t
}

// ulawCompress is G.711 µ-law compression as specified by the ITU-T G.191 reference:
// the 14 most significant bits are used; negative samples use their one's complement.
func ulawCompress(x int16) byte {
	var absno int
	if x < 0 {
		absno = int(uint16(^x)>>2) + 33
	} else {
		absno = int(x>>2) + 33
	}
	if absno > 0x1FFF {
		absno = 0x1FFF
	}
	segno := 1
	for i := absno >> 6; i != 0; i >>= 1 {
		segno++
	}
	high := 8 - segno
	low := 0xF - ((absno >> segno) & 0xF)
	r := high<<4 | low
	if x >= 0 {
		r |= 0x80
	}
	return byte(r)
}

// ulawExpand is G.711 µ-law expansion (ITU-T G.191 reference), scaled to 16 bits.
func ulawExpand(b byte) int16 {
	sign := -1
	if b >= 0x80 {
		sign = 1
	}
	m := int(^b)
	exponent := (m >> 4) & 7
	segment := exponent + 1
	mantissa := m & 0xF
	step := 4 << segment
	v := sign * ((0x80 << exponent) + step*mantissa + step/2 - 4*33)
	return int16(v)
}

// alawCompress is G.711 A-law compression (ITU-T G.191 reference, 13 MSBs).
func alawCompress(x int16) byte {
	var ix int
	if x < 0 {
		ix = int(uint16(^x) >> 4)
	} else {
		ix = int(x >> 4)
	}
	if ix > 15 {
		iexp := 1
		for ix > 16+15 {
			ix >>= 1
			iexp++
		}
		ix -= 16
		ix += iexp << 4
	}
	if x >= 0 {
		ix |= 0x80
	}
	return byte(ix ^ 0x55)
}

// alawExpand is G.711 A-law expansion (ITU-T G.191 reference), scaled to 16 bits.
func alawExpand(b byte) int16 {
	ix := int(b ^ 0x55)
	iexp := (ix & 0x7F) >> 4
	mant := ix & 0xF
	if iexp > 0 {
		mant += 16
	}
	mant = mant<<4 + 8
	if iexp > 1 {
		mant <<= iexp - 1
	}
	if ix > 127 {
		return int16(mant)
	}
	return int16(-mant)
}
