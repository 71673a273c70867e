//go:generate sh testdata/gen.sh

package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// WAV errors. DecodeWAV wraps one of these, so callers can tell a file that is broken
// (ErrBadWAV) from one that is a fine WAV in a format the engine does not play
// (ErrWAVFormat, with a *WAVFormatError saying what was found and how to convert it).
var (
	ErrBadWAV    = errors.New("wav: malformed file")
	ErrWAVFormat = errors.New("wav: unsupported format")
)

// WAV format tags.
const (
	wavTagPCM        = 0x0001
	wavTagALaw       = 0x0006
	wavTagMuLaw      = 0x0007
	wavTagExtensible = 0xFFFE
)

// MaxWAVDataBytes bounds the data chunk DecodeWAV accepts: two hours of 8 kHz PCM16.
const MaxWAVDataBytes = 2 * 3600 * SampleRate * 2

// wavUnknownSize is the data/RIFF size written by streaming writers that never patched
// the header (and by NewWAVWriter until Close): read the data to EOF.
const wavUnknownSize = 0xFFFFFFFF

// WAVFormatError describes a well-formed WAV file the engine cannot play as is.
type WAVFormatError struct {
	Tag        uint16 // format tag (after resolving WAVE_FORMAT_EXTENSIBLE)
	Channels   uint16
	SampleRate uint32
	Bits       uint16
	Reason     string
}

func (e *WAVFormatError) Error() string {
	return fmt.Sprintf("wav: unsupported format (%s, %d Hz, %d channel(s), %d-bit): %s; "+
		"convert with: sox in.wav -r 8000 -c 1 -b 16 -e signed-integer out.wav",
		wavTagName(e.Tag), e.SampleRate, e.Channels, e.Bits, e.Reason)
}

// Unwrap makes errors.Is(err, ErrWAVFormat) true.
func (e *WAVFormatError) Unwrap() error { return ErrWAVFormat }

func wavTagName(tag uint16) string {
	switch tag {
	case wavTagPCM:
		return "PCM"
	case wavTagALaw:
		return "A-law"
	case wavTagMuLaw:
		return "µ-law"
	case wavTagExtensible:
		return "extensible"
	}
	return fmt.Sprintf("format tag 0x%04x", tag)
}

type wavFmt struct {
	tag        uint16
	channels   uint16
	rate       uint32
	blockAlign uint16
	bits       uint16
}

// DecodeWAV reads a whole WAV file and returns its samples as 8 kHz mono PCM16.
//
// It accepts PCM16 (tag 1), A-law (6), µ-law (7) and WAVE_FORMAT_EXTENSIBLE with one of
// those sub-formats; fmt chunks of 16, 18 or 40 bytes; any other chunks (fact, LIST, ...)
// are skipped, odd chunk sizes are padded. The file must be 8000 Hz mono: anything else
// is a *WAVFormatError (errors.Is ErrWAVFormat) that says what was found. Structural
// problems wrap ErrBadWAV. The caller adds the file name to the error.
func DecodeWAV(r io.Reader) ([]int16, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: short RIFF header: %w", ErrBadWAV, err)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%w: not a RIFF/WAVE file", ErrBadWAV)
	}
	var (
		f      wavFmt
		haveFm bool
		ch     [8]byte
	)
	for {
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("%w: no data chunk", ErrBadWAV)
			}
			return nil, fmt.Errorf("%w: truncated chunk header: %w", ErrBadWAV, err)
		}
		id := string(ch[0:4])
		size := binary.LittleEndian.Uint32(ch[4:8])
		switch id {
		case "fmt ":
			if size < 16 || size > 1024 {
				return nil, fmt.Errorf("%w: fmt chunk of %d bytes", ErrBadWAV, size)
			}
			buf := make([]byte, size+size&1)
			if _, err := io.ReadFull(r, buf); err != nil {
				return nil, fmt.Errorf("%w: truncated fmt chunk: %w", ErrBadWAV, err)
			}
			var err error
			if f, err = parseWAVFmt(buf[:size]); err != nil {
				return nil, err
			}
			haveFm = true
		case "data":
			if !haveFm {
				return nil, fmt.Errorf("%w: data chunk before fmt chunk", ErrBadWAV)
			}
			return readWAVData(r, f, size)
		default:
			skip := int64(size) + int64(size&1)
			n, err := io.CopyN(io.Discard, r, skip)
			if err != nil {
				// A missing pad byte after the final chunk is common and harmless.
				if errors.Is(err, io.EOF) && n == skip-1 && size&1 == 1 {
					return nil, fmt.Errorf("%w: no data chunk", ErrBadWAV)
				}
				return nil, fmt.Errorf("%w: truncated %q chunk: %w", ErrBadWAV, id, err)
			}
		}
	}
}

func parseWAVFmt(b []byte) (wavFmt, error) {
	f := wavFmt{
		tag:        binary.LittleEndian.Uint16(b[0:2]),
		channels:   binary.LittleEndian.Uint16(b[2:4]),
		rate:       binary.LittleEndian.Uint32(b[4:8]),
		blockAlign: binary.LittleEndian.Uint16(b[12:14]),
		bits:       binary.LittleEndian.Uint16(b[14:16]),
	}
	if f.tag == wavTagExtensible {
		// cbSize(2) validBits(2) channelMask(4) subFormat GUID(16)
		if len(b) < 40 {
			return f, fmt.Errorf("%w: WAVE_FORMAT_EXTENSIBLE fmt chunk of %d bytes, need 40", ErrBadWAV, len(b))
		}
		guid := b[24:40]
		if !bytes.Equal(guid[2:], wavGUIDTail[:]) {
			return f, &WAVFormatError{Tag: f.tag, Channels: f.channels, SampleRate: f.rate, Bits: f.bits,
				Reason: "extensible sub-format is not a WAVE format tag"}
		}
		f.tag = binary.LittleEndian.Uint16(guid[0:2])
		if vb := binary.LittleEndian.Uint16(b[18:20]); vb != 0 && vb != f.bits {
			return f, &WAVFormatError{Tag: f.tag, Channels: f.channels, SampleRate: f.rate, Bits: f.bits,
				Reason: fmt.Sprintf("%d valid bits in %d-bit containers", vb, f.bits)}
		}
	}
	fe := &WAVFormatError{Tag: f.tag, Channels: f.channels, SampleRate: f.rate, Bits: f.bits}
	switch f.tag {
	case wavTagPCM:
		if f.bits != 16 {
			fe.Reason = "PCM must be 16-bit"
			return f, fe
		}
	case wavTagMuLaw, wavTagALaw:
		if f.bits != 8 {
			fe.Reason = "G.711 must be 8 bits per sample"
			return f, fe
		}
	default:
		fe.Reason = "only PCM16, µ-law and A-law are supported"
		return f, fe
	}
	if f.channels != 1 {
		fe.Reason = "must be mono"
		return f, fe
	}
	if f.rate != SampleRate {
		fe.Reason = "sample rate must be 8000 Hz"
		return f, fe
	}
	if want := f.bits / 8; f.blockAlign != want {
		return f, fmt.Errorf("%w: block align %d, want %d", ErrBadWAV, f.blockAlign, want)
	}
	return f, nil
}

// wavGUIDTail is bytes 2..15 of KSDATAFORMAT_SUBTYPE_* GUIDs (00000000-0000-0010-8000-00aa00389b71
// with the format tag in the first two bytes).
var wavGUIDTail = [14]byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71}

func readWAVData(r io.Reader, f wavFmt, size uint32) ([]int16, error) {
	var buf bytes.Buffer
	if size == wavUnknownSize {
		// Header never patched (a streaming writer that did not finish): read to EOF.
		n, err := io.Copy(&buf, io.LimitReader(r, MaxWAVDataBytes+1))
		if err != nil {
			return nil, fmt.Errorf("%w: reading data: %w", ErrBadWAV, err)
		}
		if n > MaxWAVDataBytes {
			return nil, fmt.Errorf("%w: data longer than %d bytes", ErrBadWAV, MaxWAVDataBytes)
		}
	} else {
		if size > MaxWAVDataBytes {
			return nil, fmt.Errorf("%w: data chunk of %d bytes exceeds the %d-byte limit", ErrBadWAV, size, MaxWAVDataBytes)
		}
		// Copy rather than allocate size up front: a lying header costs nothing.
		if _, err := io.CopyN(&buf, r, int64(size)); err != nil {
			return nil, fmt.Errorf("%w: data chunk truncated (%d of %d bytes): %w", ErrBadWAV, buf.Len(), size, err)
		}
	}
	data := buf.Bytes()
	switch f.tag {
	case wavTagPCM:
		out := make([]int16, len(data)/2)
		for i := range out {
			out[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
		}
		return out, nil
	case wavTagMuLaw:
		return PCMU.Decode(make([]int16, 0, len(data)), data), nil
	default: // A-law; parseWAVFmt admits nothing else
		return PCMA.Decode(make([]int16, 0, len(data)), data), nil
	}
}

// EncodeWAV writes a complete PCM16 8 kHz WAV file. samples are interleaved when
// channels is 2 (left, right, left, ...).
func EncodeWAV(w io.Writer, samples []int16, channels int) error {
	if channels != 1 && channels != 2 {
		return fmt.Errorf("wav: %d channels: only mono and stereo are written", channels)
	}
	n := int64(len(samples)) * 2
	if n > math.MaxUint32-36 {
		return fmt.Errorf("wav: %d bytes of data is too large for a WAV file", n)
	}
	hdr := wavHeader(channels, uint32(n))
	if _, err := w.Write(hdr[:]); err != nil {
		return fmt.Errorf("wav: writing header: %w", err)
	}
	buf := make([]byte, 0, 4096)
	for len(samples) > 0 {
		k := min(len(samples), 2048)
		buf = appendPCM16LE(buf[:0], samples[:k])
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("wav: writing data: %w", err)
		}
		samples = samples[k:]
	}
	return nil
}

func wavHeader(channels int, dataBytes uint32) [44]byte {
	var h [44]byte
	copy(h[0:4], "RIFF")
	riff := uint32(wavUnknownSize)
	if dataBytes != wavUnknownSize {
		riff = 36 + dataBytes
	}
	binary.LittleEndian.PutUint32(h[4:8], riff)
	copy(h[8:12], "WAVE")
	copy(h[12:16], "fmt ")
	binary.LittleEndian.PutUint32(h[16:20], 16)
	binary.LittleEndian.PutUint16(h[20:22], wavTagPCM)
	binary.LittleEndian.PutUint16(h[22:24], uint16(channels))
	binary.LittleEndian.PutUint32(h[24:28], SampleRate)
	binary.LittleEndian.PutUint32(h[28:32], uint32(SampleRate*2*channels))
	binary.LittleEndian.PutUint16(h[32:34], uint16(2*channels))
	binary.LittleEndian.PutUint16(h[34:36], 16)
	copy(h[36:40], "data")
	binary.LittleEndian.PutUint32(h[40:44], dataBytes)
	return h
}

func appendPCM16LE(dst []byte, s []int16) []byte {
	for _, x := range s {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(x))
	}
	return dst
}

// WAVWriter streams a PCM16 8 kHz mono or stereo WAV file. Until Close the header carries
// the "unknown size" marker (0xFFFFFFFF), which DecodeWAV (and sox) read to EOF, so a file
// left behind by a crash is still readable; Close seeks back and writes the real sizes.
// A WAVWriter is not safe for concurrent use.
type WAVWriter struct {
	ws       io.WriteSeeker
	channels int
	start    int64 // offset of the RIFF header in ws
	data     int64 // data bytes written
	buf      []byte
	closed   bool
}

// NewWAVWriter writes a provisional header at the current position of ws.
func NewWAVWriter(ws io.WriteSeeker, channels int) (*WAVWriter, error) {
	if channels != 1 && channels != 2 {
		return nil, fmt.Errorf("wav: %d channels: only mono and stereo are written", channels)
	}
	start, err := ws.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("wav: locating header: %w", err)
	}
	hdr := wavHeader(channels, wavUnknownSize)
	if _, err := ws.Write(hdr[:]); err != nil {
		return nil, fmt.Errorf("wav: writing header: %w", err)
	}
	return &WAVWriter{ws: ws, channels: channels, start: start}, nil
}

// Channels returns 1 or 2.
func (w *WAVWriter) Channels() int { return w.channels }

// DataBytes returns the number of audio bytes written so far.
func (w *WAVWriter) DataBytes() int64 { return w.data }

// Write appends samples (interleaved for stereo). A stereo write must hold whole frames.
func (w *WAVWriter) Write(samples []int16) error {
	if w.closed {
		return errors.New("wav: write after Close")
	}
	if len(samples)%w.channels != 0 {
		return fmt.Errorf("wav: %d samples is not a whole number of %d-channel frames", len(samples), w.channels)
	}
	if w.data+int64(len(samples))*2 > math.MaxUint32-36-1 {
		return errors.New("wav: file would exceed the 4 GiB WAV limit")
	}
	w.buf = appendPCM16LE(w.buf[:0], samples)
	n, err := w.ws.Write(w.buf)
	w.data += int64(n)
	if err != nil {
		return fmt.Errorf("wav: writing data: %w", err)
	}
	return nil
}

// WriteStereo interleaves left and right into a stereo file. If one side is shorter it
// is padded with silence. It fails on a mono writer.
func (w *WAVWriter) WriteStereo(left, right []int16) error {
	if w.channels != 2 {
		return errors.New("wav: WriteStereo on a mono writer")
	}
	if w.closed {
		return errors.New("wav: write after Close")
	}
	n := max(len(left), len(right))
	if w.data+int64(n)*4 > math.MaxUint32-36-1 {
		return errors.New("wav: file would exceed the 4 GiB WAV limit")
	}
	w.buf = w.buf[:0]
	for i := range n {
		var l, r int16
		if i < len(left) {
			l = left[i]
		}
		if i < len(right) {
			r = right[i]
		}
		w.buf = binary.LittleEndian.AppendUint16(w.buf, uint16(l))
		w.buf = binary.LittleEndian.AppendUint16(w.buf, uint16(r))
	}
	k, err := w.ws.Write(w.buf)
	w.data += int64(k)
	if err != nil {
		return fmt.Errorf("wav: writing data: %w", err)
	}
	return nil
}

// Close patches the RIFF and data sizes and leaves ws positioned at the end of the file.
// It does not close ws. Calling Close twice is a no-op.
func (w *WAVWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	end := w.start + 44 + w.data
	if w.data&1 == 1 { // cannot happen with 16-bit samples, kept for safety
		if _, err := w.ws.Write([]byte{0}); err != nil {
			return fmt.Errorf("wav: writing pad byte: %w", err)
		}
		end++
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(36+w.data))
	if err := w.patch(w.start+4, b[:]); err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(b[:], uint32(w.data))
	if err := w.patch(w.start+40, b[:]); err != nil {
		return err
	}
	if _, err := w.ws.Seek(end, io.SeekStart); err != nil {
		return fmt.Errorf("wav: seeking to end: %w", err)
	}
	return nil
}

func (w *WAVWriter) patch(off int64, b []byte) error {
	if _, err := w.ws.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("wav: seeking to patch header: %w", err)
	}
	if _, err := w.ws.Write(b); err != nil {
		return fmt.Errorf("wav: patching header: %w", err)
	}
	return nil
}
