package media

import (
	"encoding/binary"
	"time"
)

// DTMFSource says how a digit arrived.
type DTMFSource string

// DTMF sources.
const (
	DTMFRFC4733 DTMFSource = "rfc4733" // RTP telephone-event
	DTMFInfo    DTMFSource = "info"    // SIP INFO, injected by the signalling layer
	DTMFInband  DTMFSource = "inband"  // tones in the audio (Goertzel detector)
)

// DTMFEvent is one received digit. Digits are PHI (dates of birth, member numbers): log
// the source, never the digit; String omits it.
type DTMFEvent struct {
	Digit  rune // 0-9, *, #, A-D
	Source DTMFSource
	At     time.Time
}

// String describes the event without the digit.
func (e DTMFEvent) String() string { return "dtmf(" + string(e.Source) + ")" }

// ValidDTMF reports whether r is a DTMF key: 0-9, *, #, A-D.
func ValidDTMF(r rune) bool {
	_, ok := dtmfCode(r)
	return ok
}

// dtmfCode maps a key to its RFC 4733 event code.
func dtmfCode(r rune) (uint8, bool) {
	switch {
	case r >= '0' && r <= '9':
		return uint8(r - '0'), true
	case r == '*':
		return 10, true
	case r == '#':
		return 11, true
	case r >= 'A' && r <= 'D':
		return uint8(12 + r - 'A'), true
	case r >= 'a' && r <= 'd':
		return uint8(12 + r - 'a'), true
	}
	return 0, false
}

// dtmfDigit maps an RFC 4733 event code (0-15) to its key.
func dtmfDigit(code uint8) (rune, bool) {
	switch {
	case code <= 9:
		return rune('0' + code), true
	case code == 10:
		return '*', true
	case code == 11:
		return '#', true
	case code <= 15:
		return rune('A' + code - 12), true
	}
	return 0, false
}

// rfc4733Decoder turns telephone-event packets into digits. A digit fires on the first
// packet of an event (a new RTP timestamp), so it needs neither the marker bit nor the
// end bit; the progress packets and the (usually three) end packets of the same event
// share its timestamp and are ignored, as are late packets of events already reported.
// A long key press that RFC 4733 §2.5.1.3 splits into segments with new timestamps is
// recognised and fires once.
type rfc4733Decoder struct {
	have   bool
	ts     uint32
	code   uint8
	ended  bool
	dur    uint16
	recent [8]uint32 // timestamps of events already seen
	nrec   int
}

func (d *rfc4733Decoder) reset() { *d = rfc4733Decoder{} }

// decode handles one telephone-event payload with RTP timestamp ts.
func (d *rfc4733Decoder) decode(ts uint32, payload []byte) (rune, bool) {
	if len(payload) < 4 {
		return 0, false
	}
	code := payload[0]
	end := payload[1]&0x80 != 0
	dur := binary.BigEndian.Uint16(payload[2:4])
	digit, ok := dtmfDigit(code)
	if !ok {
		return 0, false // flash-hook and other events are not digits
	}
	if d.have && ts == d.ts {
		if end {
			d.ended = true
		}
		d.dur = max(d.dur, dur)
		return 0, false
	}
	if d.seen(ts) {
		return 0, false
	}
	if d.have {
		delta := int32(ts - d.ts)
		if delta < 0 {
			d.remember(ts) // a late packet of an older event we missed: too late to report
			return 0, false
		}
		// Same key, not ended, and the new timestamp falls within the event so far: a
		// continuation, not a new press. This covers RFC 4733 §2.5.1.3 long-event
		// segments (new timestamp after 0xFFFF samples) and senders that wrongly
		// advance the timestamp on every packet of an event. A real second press
		// starts after the first one's duration plus an inter-digit gap.
		if code == d.code && !d.ended && delta <= int32(d.dur)+FrameSamples {
			d.ts, d.dur = ts, dur
			d.ended = end
			d.remember(ts)
			return 0, false
		}
	}
	d.have, d.ts, d.code, d.ended, d.dur = true, ts, code, end, dur
	d.remember(ts)
	return digit, true
}

func (d *rfc4733Decoder) seen(ts uint32) bool {
	for i := range min(d.nrec, len(d.recent)) {
		if d.recent[i] == ts {
			return true
		}
	}
	return false
}

func (d *rfc4733Decoder) remember(ts uint32) {
	d.recent[d.nrec%len(d.recent)] = ts
	d.nrec++
}

// appendDTMFPayload appends a 4-byte telephone-event payload.
func appendDTMFPayload(dst []byte, code uint8, end bool, volume uint8, duration uint16) []byte {
	b := volume & 0x3F
	if end {
		b |= 0x80
	}
	return append(dst, code, b, byte(duration>>8), byte(duration))
}
