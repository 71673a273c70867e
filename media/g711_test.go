package media

import (
	"os"
	"slices"
	"testing"
)

func TestG711KnownVectors(t *testing.T) {
	t.Parallel()
	// Encoder vectors follow the ITU-T G.191 reference (14/13 MSBs, one's complement for
	// negative samples); decoder vectors are the G.711 tables.
	enc := []struct {
		c    Codec
		in   int16
		want byte
	}{
		{PCMU, 0, 0xFF}, {PCMU, -1, 0x7F}, {PCMU, 32767, 0x80}, {PCMU, -32768, 0x00},
		{PCMU, 1000, 0xCE}, {PCMU, -1000, 0x4E}, {PCMU, 100, 0xF2},
		{PCMA, 0, 0xD5}, {PCMA, -1, 0x55}, {PCMA, 32767, 0xAA}, {PCMA, -32768, 0x2A},
		{PCMA, 1000, 0xFA}, {PCMA, -1000, 0x7A},
	}
	for _, tc := range enc {
		if got := tc.c.EncodeSample(tc.in); got != tc.want {
			t.Errorf("%v.EncodeSample(%d) = %#02x, want %#02x", tc.c, tc.in, got, tc.want)
		}
	}
	dec := []struct {
		c    Codec
		in   byte
		want int16
	}{
		{PCMU, 0xFF, 0}, {PCMU, 0x7F, 0}, {PCMU, 0x80, 32124}, {PCMU, 0x00, -32124}, {PCMU, 0x7E, -8},
		{PCMA, 0xD5, 8}, {PCMA, 0x55, -8}, {PCMA, 0xAA, 32256}, {PCMA, 0x2A, -32256}, {PCMA, 0x80, 5504},
	}
	for _, tc := range dec {
		if got := tc.c.DecodeSample(tc.in); got != tc.want {
			t.Errorf("%v.DecodeSample(%#02x) = %d, want %d", tc.c, tc.in, got, tc.want)
		}
	}
}

func TestG711RoundTrip(t *testing.T) {
	t.Parallel()
	for _, c := range []Codec{PCMU, PCMA} {
		// Every code survives decode→encode (µ-law's negative zero 0x7F becomes 0xFF).
		for i := range 256 {
			b := byte(i)
			got := c.EncodeSample(c.DecodeSample(b))
			want := b
			if c == PCMU && b == 0x7F {
				want = 0xFF
			}
			if got != want {
				t.Errorf("%v: encode(decode(%#02x)) = %#02x", c, b, got)
			}
		}
		// Every sample decodes back within half the segment step (+ G.191's truncation),
		// and the transfer function is monotonic.
		prev := int16(-32768)
		for x := -32768; x <= 32767; x++ {
			y := c.DecodeSample(c.EncodeSample(int16(x)))
			if y < prev {
				t.Fatalf("%v: not monotonic at %d: %d < %d", c, x, y, prev)
			}
			prev = y
			d := int(y) - x
			if d < 0 {
				d = -d
			}
			limit := max(abs(x)/16, 16) // ≤ 1 step: steps are ~1/16 of the segment top
			if abs(x) > 32124 && c == PCMU || abs(x) > 32256 && c == PCMA {
				limit = 1100 // clipping region
			}
			if d > limit {
				t.Fatalf("%v: %d → %d (error %d > %d)", c, x, y, d, limit)
			}
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// TestG711DecodeMatchesSox: every code, decoded by us and by sox (an independent
// implementation), must give the identical sample.
func TestG711DecodeMatchesSox(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ g711, pcm string }{
		{"testdata/ulaw_codes.wav", "testdata/ulaw_codes_pcm.wav"},
		{"testdata/alaw_codes.wav", "testdata/alaw_codes_pcm.wav"},
	} {
		ours := mustDecodeFile(t, tc.g711)
		sox := mustDecodeFile(t, tc.pcm)
		if len(ours) != 256 || !slices.Equal(ours, sox) {
			t.Errorf("%s: our decoding differs from sox's\nours %v\nsox  %v", tc.g711, ours, sox)
		}
	}
}

// TestG711EncodeMatchesSox compares our encoding of a sox-made tone with sox's own
// encoding of the same file. sox rounds to 14/13 bits where G.191 truncates, so codes
// may differ by one quantisation level at a boundary, never more.
func TestG711EncodeMatchesSox(t *testing.T) {
	t.Parallel()
	pcm := mustDecodeFile(t, "testdata/tone440_pcm16.wav")
	for _, tc := range []struct {
		c    Codec
		file string
	}{{PCMU, "testdata/tone440_ulaw.wav"}, {PCMA, "testdata/tone440_alaw.wav"}} {
		raw, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		soxCodes := raw[len(raw)-len(pcm):] // data is the tail of the file (no chunks after it)
		ours := tc.c.Encode(nil, pcm)
		levels := sortedLevels(tc.c)
		same := 0
		for i := range ours {
			if ours[i] == soxCodes[i] {
				same++
				continue
			}
			a := slices.Index(levels, tc.c.DecodeSample(ours[i]))
			b := slices.Index(levels, tc.c.DecodeSample(soxCodes[i]))
			if abs(a-b) > 1 {
				t.Fatalf("%v sample %d (%d): ours %#02x, sox %#02x: more than one level apart", tc.c, i, pcm[i], ours[i], soxCodes[i])
			}
		}
		if same*100 < len(ours)*90 {
			t.Errorf("%v: only %d of %d codes equal sox's", tc.c, same, len(ours))
		}
	}
}

func sortedLevels(c Codec) []int16 {
	var l []int16
	for i := range 256 {
		l = append(l, c.DecodeSample(byte(i)))
	}
	slices.Sort(l)
	return slices.Compact(l)
}

func TestCodecLookup(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		pt   uint8
		c    Codec
	}{{"PCMU", 0, PCMU}, {"pcma", 8, PCMA}} {
		if c, ok := CodecByName(tc.name); !ok || c != tc.c {
			t.Errorf("CodecByName(%q) = %v, %v", tc.name, c, ok)
		}
		if c, ok := CodecByPayloadType(tc.pt); !ok || c != tc.c {
			t.Errorf("CodecByPayloadType(%d) = %v, %v", tc.pt, c, ok)
		}
	}
	if _, ok := CodecByName("G729"); ok {
		t.Error("G729 found")
	}
	if PCMA.Name() != "PCMA" || PCMU.PayloadType() != 0 || PCMA.PayloadType() != 8 || CodecNone.Valid() {
		t.Error("codec accessors")
	}
	if got := PCMU.Encode(make([]byte, 0, 160), make([]int16, 160)); len(got) != 160 || got[0] != 0xFF {
		t.Errorf("encode silence: %v", got[:1])
	}
}

func BenchmarkG711(b *testing.B) {
	pcm := make([]int16, FrameSamples)
	for i := range pcm {
		pcm[i] = int16((i*997)%65536 - 32768)
	}
	enc := make([]byte, 0, FrameSamples)
	dec := make([]int16, 0, FrameSamples)
	for _, c := range []Codec{PCMU, PCMA} {
		payload := c.Encode(nil, pcm)
		b.Run(c.Name()+"/encode-frame", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				enc = c.Encode(enc[:0], pcm)
			}
		})
		b.Run(c.Name()+"/decode-frame", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				dec = c.Decode(dec[:0], payload)
			}
		})
	}
}
