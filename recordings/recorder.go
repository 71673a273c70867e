package recordings

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/careline/careline/media"
	"github.com/careline/careline/recordings/container"
)

const nsPerSample = int64(time.Second) / container.SampleRate

// Result describes a finished recording.
type Result struct {
	ID         uuid.UUID
	Duration   time.Duration
	AudioBytes int64  // PCM bytes (the WAV data chunk)
	Size       int64  // encrypted file bytes
	SHA256     string // hex, of the encrypted file
	KeyID      string
	Stats      RecorderStats
}

// RecorderStats count what happened to the frames a recorder was given.
type RecorderStats struct {
	Frames       int64 // frames received on both taps
	Late         int64 // frames (or parts) that arrived after their place was written
	Paused       int64 // frames discarded while paused
	Resyncs      int64 // re-anchorings to arrival time (SSRC change, timestamp jump)
	LostSamples  int64 // sample frames replaced by silence because the disk stalled
	PausedTotal  time.Duration
	WriteErrored bool
}

// block is audio on its way to the writer goroutine: silence sample frames, then pcm.
type block struct {
	silence int64
	pcm     []byte
	ack     chan struct{} // closed once everything queued before it is written (tests)
}

// track places one direction's frames on the recording timeline by RTP timestamp.
type track struct {
	started bool
	ssrc    uint32
	refTS   uint32 // timestamp of the latest in-order frame
	refPos  int64  // its position (sample frames from the start of the recording)
	end     int64  // end of the furthest frame placed
}

// place returns the position of a frame of n samples with timestamp ts from ssrc that
// arrived when the clock said arrival. A new stream (first frame, new SSRC) and a
// stream whose timestamps stray more than resync from the clock are anchored at
// arrival (butting against what came before if they would overlap it slightly).
func (t *track) place(ssrc, ts uint32, n, arrival, resync int64) (pos int64, anchored bool) {
	if t.started && ssrc == t.ssrc {
		d := int64(int32(ts - t.refTS)) // wraps at 2^32
		pos = t.refPos + d
		if d <= 0 {
			// A late, reordered or duplicate frame goes where its timestamp says (and is
			// dropped if that place has already been written).
			return pos, false
		}
		if resync < 0 || (pos-arrival <= resync && arrival-pos <= resync) {
			t.refTS, t.refPos = ts, pos
			t.end = max(t.end, pos+n)
			return pos, false
		}
		// Timestamps have jumped away from the clock (a sender that froze its clock
		// over a hold, or reset it): trust the arrival time.
	}
	pos = max(arrival, 0)
	if t.started && pos < t.end && (resync < 0 || t.end-pos <= resync) {
		pos = t.end
	}
	t.started, t.ssrc, t.refTS, t.refPos = true, ssrc, ts, pos
	t.end = max(t.end, pos+n)
	return pos, true
}

// Recorder writes one recording: stereo (left = patient, right = agent) or mono, 8 kHz
// PCM16, sealed in chunks into the encrypted container as it goes. Frames from the two
// taps are placed by RTP timestamp, so gaps (hold, loss) become silence and the
// channels stay aligned; late, reordered and duplicate frames land where they belong
// while they are within the jitter window. Taps may be called from two goroutines.
// Disk writes happen on the recorder's own goroutine: a slow disk never delays RTP.
type Recorder struct {
	s        *Store
	id       uuid.UUID
	meta     Meta
	channels int
	t0       time.Time
	file     recordingFile
	cw       *container.Writer

	mu        sync.Mutex
	tracks    [2]track
	buf       []int16 // interleaved sample frames for positions [base, base+capFrames)
	base      int64
	hi        int64 // end of the furthest written position
	capFrames int64
	window    int64
	chunk     int64
	resync    int64
	paused    bool
	pausedAt  time.Time
	lost      int64 // sample frames dropped since the last queued block
	closed    bool
	stats     RecorderStats
	warned    bool

	q         chan block
	free      chan []byte
	done      chan struct{}
	result    Result
	err       error
	stopAfter func() bool
}

// recordingFile is what a recorder writes to (an *os.File).
type recordingFile interface {
	Write(p []byte) (int, error)
	Sync() error
	Close() error
}

func newRecorder(s *Store, id uuid.UUID, meta Meta, t0 time.Time, f recordingFile, cw *container.Writer, channels int) *Recorder {
	window := max(int64(s.jitter/time.Duration(nsPerSample)), 0)
	chunk := max(int64(s.chunk/time.Duration(nsPerSample)), 160)
	resync := int64(s.resync / time.Duration(nsPerSample))
	if s.resync < 0 {
		resync = -1
	}
	capFrames := window + 2*chunk
	r := &Recorder{s: s, id: id, meta: meta, channels: channels, t0: t0, file: f, cw: cw,
		buf: make([]int16, capFrames*int64(channels)), capFrames: capFrames, window: window, chunk: chunk, resync: resync,
		q: make(chan block, s.queue), free: make(chan []byte, 4), done: make(chan struct{})}
	go r.writeLoop()
	return r
}

// ID returns the recording id.
func (r *Recorder) ID() uuid.UUID { return r.id }

// Meta returns what the recording was started with.
func (r *Recorder) Meta() Meta { return r.meta }

// String names the recorder.
func (r *Recorder) String() string { return fmt.Sprintf("recording %s (%s)", r.id, r.meta.Kind) }

// Left is the patient's tap (the only one of a mono recording).
func (r *Recorder) Left() media.FrameSink { return tap{r, 0} }

// Right is the agent's tap. On a mono recording it refuses frames with ErrNoChannel.
func (r *Recorder) Right() media.FrameSink { return tap{r, 1} }

type tap struct {
	r  *Recorder
	ch int
}

func (t tap) WriteFrame(f media.Frame) error { return t.r.writeFrame(t.ch, f) }

func (t tap) String() string {
	side := "left/patient"
	if t.ch == 1 {
		side = "right/agent"
	}
	return fmt.Sprintf("recorder tap %s of %s", side, t.r.id)
}

// pos converts a clock reading to a position on the timeline.
func (r *Recorder) pos(t time.Time) int64 { return int64(t.Sub(r.t0)) / nsPerSample }

func (r *Recorder) writeFrame(ch int, f media.Frame) error {
	if ch >= r.channels {
		return ErrNoChannel
	}
	n := int64(len(f.Samples))
	if n == 0 {
		return nil
	}
	now := r.s.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrRecorderClosed
	}
	r.stats.Frames++
	wasStarted := r.tracks[ch].started
	pos, anchored := r.tracks[ch].place(f.SSRC, f.Timestamp, n, r.pos(now)-n, r.resync)
	if anchored && wasStarted {
		r.stats.Resyncs++
		r.s.m.resyncs.Inc()
	}
	if r.paused {
		r.stats.Paused++
		return nil
	}
	r.put(ch, pos, f.Samples)
	return nil
}

// put writes samples of channel ch at pos and emits whatever left the jitter window.
func (r *Recorder) put(ch int, pos int64, samples []int16) {
	if end := pos + int64(len(samples)); end <= r.base {
		r.stats.Late++
		r.s.m.framesDropped.WithLabelValues("late").Inc()
		return
	}
	if pos < r.base {
		samples = samples[r.base-pos:]
		pos = r.base
		r.stats.Late++
	}
	end := pos + int64(len(samples))
	if end > r.base+r.capFrames {
		r.emitUpTo(end - r.capFrames)
	}
	c := int64(r.channels)
	i := (pos-r.base)*c + int64(ch)
	for _, v := range samples {
		r.buf[i] = v
		i += c
	}
	r.hi = max(r.hi, end)
	if r.hi-r.base >= r.window+r.chunk {
		r.emitUpTo(r.hi - r.window)
	}
}

// emitUpTo queues every position before to for writing.
func (r *Recorder) emitUpTo(to int64) {
	if to <= r.base {
		return
	}
	c := int64(r.channels)
	if n := min(to, r.hi) - r.base; n > 0 {
		b := r.getBuf(int(n * c * 2))
		for i, v := range r.buf[:n*c] {
			binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
		}
		copy(r.buf, r.buf[n*c:])
		clear(r.buf[int64(len(r.buf))-n*c:])
		r.base += n
		r.enqueue(block{pcm: b})
	}
	if to > r.base {
		r.enqueue(block{silence: to - r.base})
		r.base = to
	}
	r.hi = max(r.hi, r.base)
}

func (r *Recorder) getBuf(n int) []byte {
	select {
	case b := <-r.free:
		if cap(b) >= n {
			return b[:n]
		}
	default:
	}
	return make([]byte, n, max(n, int(r.chunk)*r.channels*2))
}

func (r *Recorder) putBuf(b []byte) {
	clear(b)
	select {
	case r.free <- b[:0]:
	default:
	}
}

// enqueue hands a block to the writer without blocking; if the disk has fallen behind
// the block is dropped and becomes silence in front of the next one that fits.
func (r *Recorder) enqueue(b block) {
	b.silence += r.lost
	select {
	case r.q <- b:
		r.lost = 0
	default:
		pcmFrames := int64(len(b.pcm) / (2 * r.channels))
		r.lost = b.silence + pcmFrames
		r.stats.LostSamples += pcmFrames
		if b.pcm != nil {
			r.putBuf(b.pcm)
		}
		r.s.m.framesDropped.WithLabelValues("disk_stall").Inc()
		if !r.warned {
			r.warned = true
			r.s.log.Error("recordings: disk is not keeping up; audio replaced by silence", "recording", r.id)
		}
	}
}

// written waits until every block queued so far has been handed to the container
// (full chunks sealed and written). Used by tests.
func (r *Recorder) written(ctx context.Context) error {
	ack := make(chan struct{})
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrRecorderClosed
	}
	select { // under the lock, so Close cannot close the queue meanwhile
	case r.q <- block{ack: ack}:
	case <-ctx.Done():
		r.mu.Unlock()
		return ctx.Err()
	}
	r.mu.Unlock()
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Pause stops recording audio (e.g. while a patient reads a card number): frames that
// arrive while paused are discarded and the span becomes silence. by names who asked
// (a user id or "ivr"); it goes to the interaction log, with the offset in the file.
func (r *Recorder) Pause(by string) error { return r.setPaused(true, by) }

// Resume starts recording audio again after Pause.
func (r *Recorder) Resume(by string) error { return r.setPaused(false, by) }

// Paused reports whether the recording is paused.
func (r *Recorder) Paused() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.paused
}

func (r *Recorder) setPaused(p bool, by string) error {
	now := r.s.now()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrRecorderClosed
	}
	if r.paused == p {
		r.mu.Unlock()
		return nil
	}
	r.paused = p
	typ := EventPaused
	detail := map[string]any{"recording_id": r.id.String(), "offset_ms": max(r.pos(now), 0) / 8, "by": by}
	if p {
		r.pausedAt = now
	} else {
		typ = EventResumed
		d := now.Sub(r.pausedAt)
		r.stats.PausedTotal += d
		detail["paused_ms"] = d.Milliseconds()
	}
	r.mu.Unlock()
	r.s.event(r.meta.InteractionID, typ, now, detail)
	return nil
}

// ConsentNoticePlayed logs that the "this call may be recorded" notice (prompt id) was
// played to the patient.
func (r *Recorder) ConsentNoticePlayed(prompt string) {
	now := r.s.now()
	r.s.event(r.meta.InteractionID, EventConsent, now, map[string]any{"recording_id": r.id.String(),
		"prompt": prompt, "offset_ms": max(r.pos(now), 0) / 8})
}

// Stats returns the frame counters so far.
func (r *Recorder) Stats() RecorderStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Close writes what is buffered, seals the final chunk, syncs the file and returns the
// recording's metadata (also logged as recording.stopped). Later calls return the same
// result. If ctx ends first, Close returns its error and the recording is finished in
// the background (without audio that had not reached the writer yet).
func (r *Recorder) Close(ctx context.Context) (Result, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return r.wait(ctx)
	}
	r.closed = true
	if r.paused {
		r.stats.PausedTotal += r.s.now().Sub(r.pausedAt)
	}
	final := r.finalBlockLocked()
	stop := r.stopAfter
	r.mu.Unlock()
	if stop != nil {
		stop()
	}
	// Only Close sends once closed is set, so the queue can be closed after this send.
	if final.silence > 0 || len(final.pcm) > 0 {
		select {
		case r.q <- final:
		case <-ctx.Done():
			r.s.log.Error("recordings: close timed out; the last buffered audio is dropped", "recording", r.id)
		}
	}
	close(r.q)
	return r.wait(ctx)
}

func (r *Recorder) wait(ctx context.Context) (Result, error) {
	select {
	case <-r.done:
		return r.result, r.err
	case <-ctx.Done():
		return Result{}, fmt.Errorf("recordings: close %s: %w", r.id, ctx.Err())
	}
}

// finalBlockLocked takes everything still buffered.
func (r *Recorder) finalBlockLocked() block {
	c := int64(r.channels)
	n := r.hi - r.base
	b := block{silence: r.lost}
	if n > 0 {
		b.pcm = make([]byte, n*c*2)
		for i, v := range r.buf[:n*c] {
			binary.LittleEndian.PutUint16(b.pcm[2*i:], uint16(v))
		}
	}
	clear(r.buf)
	r.base, r.lost = r.hi, 0
	return b
}

// writeLoop seals queued audio into the container until Close closes the queue, then
// finishes the file. It is the only goroutine that touches the file.
func (r *Recorder) writeLoop() {
	defer close(r.done)
	var werr error
	written := r.cw.Stats().Bytes
	r.s.m.bytes.Add(float64(written))
	for b := range r.q {
		if werr == nil && b.silence > 0 {
			werr = r.cw.WriteZeros(b.silence * int64(2*r.channels))
		}
		if werr == nil && len(b.pcm) > 0 {
			_, werr = r.cw.Write(b.pcm)
		}
		if b.pcm != nil {
			r.putBuf(b.pcm)
		}
		if n := r.cw.Stats().Bytes; n > written {
			r.s.m.bytes.Add(float64(n - written))
			written = n
		}
		if b.ack != nil {
			close(b.ack)
		}
	}
	r.finish(werr, written)
}

func (r *Recorder) finish(werr error, counted int64) {
	s := r.s
	defer s.m.active.Dec()
	defer s.unregister(r)
	err := werr
	if err == nil {
		err = r.cw.Close()
	}
	if err == nil {
		err = r.file.Sync()
	}
	if cerr := r.file.Close(); err == nil {
		err = cerr
	}
	st := r.cw.Stats()
	s.m.bytes.Add(float64(st.Bytes - counted))
	r.mu.Lock()
	stats := r.stats
	r.mu.Unlock()
	stats.WriteErrored = err != nil
	frames := st.PlainBytes / int64(2*r.channels)
	r.result = Result{ID: r.id, Duration: time.Duration(frames * nsPerSample), AudioBytes: st.PlainBytes, Size: st.Bytes,
		SHA256: hex.EncodeToString(st.SHA256[:]), KeyID: st.KeyID, Stats: stats}
	now := s.now()
	if err != nil {
		r.err = fmt.Errorf("recordings: write %s: %w", r.id, err)
		r.result.SHA256 = ""
		s.m.writeErrors.Inc()
		s.event(r.meta.InteractionID, EventFailed, now, map[string]any{"recording_id": r.id.String(), "error": err.Error()})
		s.log.Error("recording failed; its readable prefix is kept and settled by recovery", "recording", r.id, "err", err)
		return
	}
	s.event(r.meta.InteractionID, EventStopped, now, map[string]any{
		"recording_id": r.id.String(), "ended_at": now.UTC().Format(time.RFC3339Nano),
		"duration_ms": r.result.Duration.Milliseconds(), "audio_bytes": st.PlainBytes, "size_bytes": st.Bytes,
		"checksum_sha256": r.result.SHA256, "late_frames": stats.Late, "lost_samples": stats.LostSamples,
		"resyncs": stats.Resyncs, "paused_ms": stats.PausedTotal.Milliseconds()})
	s.log.Info("recording stopped", "recording", r.id, "duration", r.result.Duration.Round(time.Millisecond),
		"bytes", st.Bytes, "late_frames", stats.Late, "lost_samples", stats.LostSamples)
}
