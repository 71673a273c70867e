package media

import (
	"testing"
)

func ev(code uint8, end bool, dur uint16) []byte { return appendDTMFPayload(nil, code, end, 10, dur) }

type evPkt struct {
	ts      uint32
	payload []byte
}

// event is the packet train of one well-behaved RFC 4733 event: progress packets then
// three end packets, all with the same timestamp.
func event(ts uint32, code uint8) []evPkt {
	var p []evPkt
	for d := uint16(160); d < 1280; d += 160 {
		p = append(p, evPkt{ts, ev(code, false, d)})
	}
	for range 3 {
		p = append(p, evPkt{ts, ev(code, true, 1280)})
	}
	return p
}

func TestRFC4733Dedup(t *testing.T) {
	t.Parallel()
	cat := func(trains ...[]evPkt) []evPkt {
		var out []evPkt
		for _, tr := range trains {
			out = append(out, tr...)
		}
		return out
	}
	tests := []struct {
		name string
		pkts []evPkt
		want string
	}{
		{"one digit, three end packets", event(1000, 1), "1"},
		{"123#", cat(event(1000, 1), event(3000, 2), event(5000, 3), event(7000, 11)), "123#"},
		{"same key twice", cat(event(1000, 5), event(3000, 5)), "55"},
		{"lost first packets (no marker seen)", event(1000, 7)[3:], "7"},
		{"only end packets", event(1000, 9)[7:], "9"},
		{"end packets all lost, then same key", cat(event(1000, 4)[:7], event(3000, 4)), "44"},
		{"late end packet of previous event", cat(event(1000, 1), event(3000, 2)[:2], []evPkt{{1000, ev(1, true, 1280)}}, event(3000, 2)[2:]), "12"},
		{"reordered older event arrives late", cat(event(3000, 2), event(1000, 1)), "2"},
		{"letters and star", cat(event(10, 10), event(2000, 12), event(4000, 15)), "*AD"},
		{"flash (16) is not a digit", event(1000, 16), ""},
		{"short payload", []evPkt{{1000, []byte{1, 2}}}, ""},
		{"timestamp wraps", cat(event(0xFFFFFF00, 3), event(0x00000500, 6)), "36"},
		{"sender advancing the timestamp within an event", []evPkt{
			{1000, ev(2, false, 160)}, {1160, ev(2, false, 320)}, {1320, ev(2, false, 480)}, {1480, ev(2, true, 640)},
			{1480, ev(2, true, 640)}, {3000, ev(2, false, 160)}, {3160, ev(2, true, 320)},
		}, "22"},
		{"long press split into segments", []evPkt{
			{1000, ev(8, false, 0xFFFF)}, {1000, ev(8, false, 0xFFFF)},
			{1000 + 0xFFFF, ev(8, false, 2000)}, {1000 + 0xFFFF, ev(8, true, 4000)},
		}, "8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d rfc4733Decoder
			var got []rune
			for _, p := range tc.pkts {
				if r, ok := d.decode(p.ts, p.payload); ok {
					got = append(got, r)
				}
			}
			if string(got) != tc.want {
				t.Fatalf("got %q, want %q", string(got), tc.want)
			}
		})
	}
}

func TestDTMFCodes(t *testing.T) {
	t.Parallel()
	for i, r := range "0123456789*#ABCD" {
		c, ok := dtmfCode(r)
		if !ok || int(c) != i {
			t.Errorf("code(%c) = %d %v", r, c, ok)
		}
		if back, ok := dtmfDigit(c); !ok || back != r {
			t.Errorf("digit(%d) = %c", c, back)
		}
	}
	if ValidDTMF('x') || ValidDTMF('E') || !ValidDTMF('d') {
		t.Error("ValidDTMF")
	}
	if s := (DTMFEvent{Digit: '5', Source: DTMFInfo}).String(); s != "dtmf(info)" {
		t.Errorf("String() = %q (must not contain the digit)", s)
	}
	p := appendDTMFPayload(nil, 11, true, 10, 1280)
	if p[0] != 11 || p[1] != 0x8A || p[2] != 0x05 || p[3] != 0x00 {
		t.Errorf("payload % x", p)
	}
}
