package phone

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/careline/careline/media"
)

// LoadWAV reads an 8 kHz mono WAV file (PCM16, µ-law or A-law) for Play. A file in
// another format is an error saying what was found (convert it with
// `sox in.wav -r 8000 -c 1 -b 16 out.wav`).
func LoadWAV(path string) (*media.Prompt, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("phone: %w", err)
	}
	defer f.Close()
	pcm, err := media.DecodeWAV(f)
	if err != nil {
		return nil, fmt.Errorf("phone: %s: %w", path, err)
	}
	id := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return media.NewPrompt(id, "", pcm), nil
}

// Tone is a sine of hz lasting d, for Play (about -10 dBFS).
func Tone(hz float64, d time.Duration) *media.Prompt { return media.Tone(hz, d) }

// maxGapFill bounds the silence a recording inserts for a jump in RTP timestamps.
const maxGapFill = 5 * media.SampleRate

// recorder is the FrameSink that writes what the call hears to a WAV file. Lost
// packets and pauses between talkspurts (RTP timestamp jumps up to 5 s) become silence,
// so the file keeps real time.
type recorder struct {
	mu      sync.Mutex
	f       *os.File
	w       *media.WAVWriter
	path    string
	haveTS  bool
	ssrc    uint32
	nextTS  uint32
	zeros   []int16
	err     error
	closed  bool
	samples int64
}

func (r *recorder) String() string { return "Recorder(" + filepath.Base(r.path) + ")" }

func (r *recorder) WriteFrame(f media.Frame) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.err != nil {
		return r.err
	}
	if r.haveTS && f.SSRC == r.ssrc {
		if gap := int(int32(f.Timestamp - r.nextTS)); gap > 0 && gap <= maxGapFill {
			if cap(r.zeros) < gap {
				r.zeros = make([]int16, gap)
			}
			r.write(r.zeros[:gap])
		}
	}
	r.write(f.Samples)
	r.haveTS, r.ssrc, r.nextTS = true, f.SSRC, f.Timestamp+uint32(len(f.Samples))
	return r.err
}

func (r *recorder) write(pcm []int16) {
	if err := r.w.Write(pcm); err != nil && r.err == nil {
		r.err = err
	}
	r.samples += int64(len(pcm))
}

func (r *recorder) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	return errors.Join(r.err, r.w.Close(), r.f.Close())
}

// Record writes what the call hears (decoded audio) to a new 8 kHz mono WAV file at
// path until StopRecording or the end of the call. A recording already running is
// stopped first.
func (c *Call) Record(path string) error {
	if c.ended() {
		return ErrCallEnded
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("phone: record: %w", err)
	}
	w, err := media.NewWAVWriter(f, 1)
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("phone: record: %w", err)
	}
	r := &recorder{f: f, w: w, path: path}
	c.mu.Lock()
	old := c.rec
	c.rec = r
	c.mu.Unlock()
	c.sess.SetSink(r)
	if old != nil {
		return old.close()
	}
	return nil
}

// Recorded is how much audio the current (or last) recording holds.
func (c *Call) Recorded() time.Duration {
	c.mu.Lock()
	r := c.rec
	c.mu.Unlock()
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return time.Duration(r.samples) * time.Second / media.SampleRate
}

// StopRecording finishes the WAV file (its header gets the real sizes). The call
// ending does it too.
func (c *Call) StopRecording() error {
	c.mu.Lock()
	r := c.rec
	c.mu.Unlock()
	if r == nil {
		return nil
	}
	if cur, ok := c.sess.Sink().(*recorder); ok && cur == r {
		c.sess.SetSink(nil)
	}
	return r.close()
}
