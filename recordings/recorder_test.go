package recordings

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/careline/careline/media/dsp"
	"github.com/careline/careline/recordings/container"
	"github.com/careline/careline/store"
)

const tick = 20 * time.Millisecond

func tone(freq float64, seconds float64) []int16 {
	return dsp.Tone(freq, time.Duration(seconds*float64(time.Second)), 8000, 0.4)
}

func zero(s []int16) bool { return !slices.ContainsFunc(s, func(v int16) bool { return v != 0 }) }

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.2f, want %.2f ± %.2f", what, got, want, tol)
	}
}

// TestRecorderStereo feeds a 440 Hz patient and a 1000 Hz agent as RTP frames for 8 s:
// the patient's timestamps wrap, two of its frames arrive swapped, one twice, and 200 ms
// of its packets are lost; the agent is on hold (no packets) from 3 s to 5 s. The file
// must hold each tone in its channel, sample-exact where packets came, silence where
// they did not, with both channels on one timeline.
func TestRecorderStereo(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	iid := uuid.New()
	rec, err := e.s.Start(ctx(t), Meta{InteractionID: iid, Legs: []string{"leg-a", "leg-b"}, Queue: "pharmacy", Language: "es"})
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := e.s.Active(iid); !ok || r != rec {
		t.Fatal("recording not registered as active for its interaction")
	}
	patient := &stream{pcm: tone(440, 8), ssrc: 0x1111, ts: math.MaxUint32 - 160*200 + 1}
	agent := &stream{pcm: tone(1000, 8), ssrc: 0x2222, ts: 12345}
	left, right := rec.Left(), rec.Right()
	for k := range 400 {
		e.clock.Advance(tick)
		switch {
		case k == 50: // held back: arrives after 51
		case k == 51:
			_ = left.WriteFrame(patient.frame(51))
			_ = left.WriteFrame(patient.frame(50))
		case k == 60:
			_ = left.WriteFrame(patient.frame(60))
			_ = left.WriteFrame(patient.frame(60)) // duplicate
		case k >= 100 && k < 110: // lost
		default:
			_ = left.WriteFrame(patient.frame(k))
		}
		if k < 150 || k >= 250 {
			_ = right.WriteFrame(agent.frame(k))
		}
	}
	res, err := rec.Close(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.s.Active(iid); ok {
		t.Fatal("closed recording still active")
	}
	near(t, "duration (s)", res.Duration.Seconds(), 8, 8*0.05)
	if res.Stats.Resyncs != 0 || res.Stats.Late != 0 {
		t.Errorf("stats %+v: no resync or late frame expected", res.Stats)
	}

	l, r, _ := e.decrypt(rec.ID())
	if len(l) != 64000 || len(r) != 64000 {
		t.Fatalf("%d/%d samples, want 64000", len(l), len(r))
	}
	// Sample-exact placement (reordered and duplicate frames included) and silence gaps.
	if !slices.Equal(l[:16000], patient.pcm[:16000]) || !slices.Equal(l[17600:], patient.pcm[17600:]) || !zero(l[16000:17600]) {
		t.Error("left channel is not the patient's audio with a 200 ms gap at 2.0 s")
	}
	if !slices.Equal(r[:24000], agent.pcm[:24000]) || !slices.Equal(r[40000:], agent.pcm[40000:]) || !zero(r[24000:40000]) {
		t.Error("right channel is not the agent's audio with silence for the 3 s to 5 s hold")
	}
	near(t, "left frequency", dsp.DominantFrequency(l[:16000], 8000), 440, 3)
	near(t, "right frequency", dsp.DominantFrequency(r[:24000], 8000), 1000, 3)
	near(t, "right frequency after hold", dsp.DominantFrequency(r[40000:], 8000), 1000, 3)
	if p := dsp.GoertzelPower(l[:16000], 1000, 8000); p > 1e-4 {
		t.Errorf("agent tone leaks into the left channel: %g", p)
	}
	// The file at rest: no RIFF, no plaintext.
	file, err := os.ReadFile(e.fileOf(rec.ID()))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(file, []byte("RIFF")) {
		t.Error("recording file contains RIFF")
	}
	raw := pcmBytes(patient.pcm)
	for off := 0; off+32 <= len(raw); off += 3200 {
		if bytes.Contains(file, raw[off:off+32]) {
			t.Fatalf("plaintext PCM of the patient tone found in the file (source offset %d)", off)
		}
	}
	// Metadata from the events.
	in, err := e.s.Get(ctx(t), rec.ID())
	if err != nil {
		t.Fatal(err)
	}
	if in.Status != StatusComplete || in.Kind != KindCall || in.Channels != 2 || in.InteractionID != iid ||
		in.Duration != 8*time.Second || in.AudioBytes != 256000 || in.Size != int64(len(file)) || in.SHA256 != res.SHA256 ||
		in.KeyID != "k1" || !slices.Equal(in.Legs, []string{"leg-a", "leg-b"}) || in.Queue != "pharmacy" || in.Language != "es" ||
		!in.RetentionUntil.Equal(in.StartedAt.AddDate(0, 0, 90)) {
		t.Errorf("metadata row: %+v", in)
	}
	var recID string
	if err := e.pool.QueryRow(ctx(t), "SELECT recording_id FROM interactions WHERE id = $1", iid).Scan(&recID); err != nil || recID != rec.ID().String() {
		t.Errorf("interaction recording_id = %q, %v", recID, err)
	}
}

// TestRecorderPause: a 1 kHz agent tone and a 440 Hz patient tone; paused from 2 s to
// 4 s: both tones are absent from that span, the duration is kept, and the pause and
// resume are events with their offsets.
func TestRecorderPause(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	iid := uuid.New()
	rec, err := e.s.Start(ctx(t), Meta{InteractionID: iid})
	if err != nil {
		t.Fatal(err)
	}
	patient := &stream{pcm: tone(440, 6), ssrc: 1, ts: 1000}
	agent := &stream{pcm: tone(1000, 6), ssrc: 2, ts: 99}
	rec.ConsentNoticePlayed("common/call_recorded")
	for k := range 300 {
		switch k {
		case 100:
			if err := rec.Pause("sup1"); err != nil {
				t.Fatal(err)
			}
		case 200:
			if err := rec.Resume("sup1"); err != nil {
				t.Fatal(err)
			}
		}
		e.clock.Advance(tick)
		_ = rec.Left().WriteFrame(patient.frame(k))
		_ = rec.Right().WriteFrame(agent.frame(k))
	}
	res, err := rec.Close(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.Duration != 6*time.Second || res.Stats.Paused != 200 || res.Stats.PausedTotal != 2*time.Second {
		t.Errorf("result %+v", res)
	}
	l, r, _ := e.decrypt(rec.ID())
	if !zero(l[16000:32000]) || !zero(r[16000:32000]) {
		t.Error("audio recorded while paused")
	}
	if p := dsp.GoertzelPower(r[16000:32000], 1000, 8000); p != 0 {
		t.Errorf("1 kHz power in the paused span: %g", p)
	}
	if !slices.Equal(r[:16000], agent.pcm[:16000]) || !slices.Equal(r[32000:], agent.pcm[32000:]) ||
		!slices.Equal(l[32000:], patient.pcm[32000:]) {
		t.Error("audio outside the pause is not intact")
	}
	type ev struct {
		typ    string
		offset float64
		by     string
	}
	rows, err := e.pool.Query(ctx(t), `SELECT type, (detail->>'offset_ms')::float, detail->>'by' FROM interaction_events
		WHERE interaction_id = $1 AND type IN ('recording.paused', 'recording.resumed') ORDER BY at`, iid)
	if err != nil {
		t.Fatal(err)
	}
	var got []ev
	for rows.Next() {
		var x ev
		if err := rows.Scan(&x.typ, &x.offset, &x.by); err != nil {
			t.Fatal(err)
		}
		got = append(got, x)
	}
	if want := []ev{{EventPaused, 2000, "sup1"}, {EventResumed, 4000, "sup1"}}; !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	var prompt string
	if err := e.pool.QueryRow(ctx(t), `SELECT detail->>'prompt' FROM interaction_events
		WHERE interaction_id = $1 AND type = 'recording.consent_notice'`, iid).Scan(&prompt); err != nil || prompt != "common/call_recorded" {
		t.Errorf("consent notice event: %q %v", prompt, err)
	}
}

// TestRecorderStreamChanges: the patient's stream changes SSRC (and timestamp base) at
// 2 s and must continue seamlessly; the agent goes silent from 1 s to 3 s and resumes
// with timestamps that did not advance (a sender that froze its clock on hold): its
// audio must land at 3 s by arrival time, not at 1 s; a frame 1 s late is dropped.
func TestRecorderStreamChanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rec, err := e.s.Start(ctx(t), Meta{InteractionID: uuid.New()})
	if err != nil {
		t.Fatal(err)
	}
	pcm := tone(440, 4)
	a := &stream{pcm: pcm, ssrc: 0xA, ts: 5000}
	c := &stream{pcm: pcm, ssrc: 0xC, ts: 0x7FFFFFF0}
	agentPCM := tone(1000, 4)
	agent := &stream{pcm: agentPCM, ssrc: 0xB, ts: 777}
	for k := range 200 {
		e.clock.Advance(tick)
		switch {
		case k == 30: // held back 1 s
		case k < 100:
			_ = rec.Left().WriteFrame(a.frame(k))
		default:
			_ = rec.Left().WriteFrame(c.frame(k))
		}
		if k == 80 {
			_ = rec.Left().WriteFrame(a.frame(30))
		}
		switch {
		case k < 50:
			_ = rec.Right().WriteFrame(agent.frame(k))
		case k >= 150:
			f := agent.frame(k)
			f.Timestamp = agent.ts + uint32((k-100)*160) // continues from frame 50
			_ = rec.Right().WriteFrame(f)
		}
	}
	res, err := rec.Close(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.Resyncs != 2 || res.Stats.Late != 1 {
		t.Errorf("stats %+v: want 2 resyncs (new SSRC, frozen timestamps) and 1 late frame", res.Stats)
	}
	l, r, _ := e.decrypt(rec.ID())
	if !slices.Equal(l[:4800], pcm[:4800]) || !zero(l[4800:4960]) || !slices.Equal(l[4960:32000], pcm[4960:32000]) {
		t.Error("left channel: SSRC change not seamless or late frame not dropped")
	}
	if !slices.Equal(r[:8000], agentPCM[:8000]) || !zero(r[8000:24000]) || !slices.Equal(r[24000:32000], agentPCM[24000:32000]) {
		t.Error("right channel: audio after the frozen-clock hold is not at 3 s")
	}
}

// TestRecorderConcurrentTaps drives both taps from their own goroutines (as two media
// sessions would) with pause/resume from a third; run with -race. Which frames fall in
// a pause is up to the scheduler, so this checks counts and safety, not content.
func TestRecorderConcurrentTaps(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rec, err := e.s.Start(ctx(t), Meta{InteractionID: uuid.New()})
	if err != nil {
		t.Fatal(err)
	}
	streams := []*stream{{pcm: tone(440, 4), ssrc: 1}, {pcm: tone(1000, 4), ssrc: 2}}
	var wg sync.WaitGroup
	start := make([]chan int, 2)
	for i := range 2 {
		start[i] = make(chan int)
		sink := rec.Left()
		if i == 1 {
			sink = rec.Right()
		}
		wg.Go(func() {
			for k := range start[i] {
				_ = sink.WriteFrame(streams[i].frame(k))
			}
		})
	}
	var pw sync.WaitGroup
	pw.Go(func() {
		for range 20 {
			_ = rec.Pause("t")
			_ = rec.Resume("t")
		}
	})
	for k := range 200 {
		e.clock.Advance(tick)
		start[0] <- k
		start[1] <- k
	}
	close(start[0])
	close(start[1])
	wg.Wait()
	pw.Wait()
	res, err := rec.Close(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	// What was kept depends on how the pauses fell; what was kept must be in place.
	if res.Stats.Frames != 400 || res.Stats.Late != 0 || res.Duration > 4020*time.Millisecond {
		t.Errorf("result %+v", res)
	}
	if res.Stats.Paused == 0 {
		l, r, _ := e.decrypt(rec.ID())
		near(t, "left frequency", dsp.DominantFrequency(l, 8000), 440, 3)
		near(t, "right frequency", dsp.DominantFrequency(r, 8000), 1000, 3)
	}
	if _, err := rec.Close(ctx(t)); err != nil {
		t.Fatal("second Close:", err)
	}
	if err := rec.Left().WriteFrame(streams[0].frame(0)); !errors.Is(err, ErrRecorderClosed) {
		t.Errorf("write after close: %v", err)
	}
}

// TestRecorderClosesWithContext: ending the Start context finishes the recording.
func TestRecorderClosesWithContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, cancel := context.WithCancel(context.Background())
	rec, err := e.s.Start(c, Meta{InteractionID: uuid.New()})
	if err != nil {
		t.Fatal(err)
	}
	s := &stream{pcm: tone(440, 1), ssrc: 1}
	for k := range 50 {
		e.clock.Advance(tick)
		_ = rec.Left().WriteFrame(s.frame(k))
	}
	cancel()
	res, err := rec.Close(ctx(t)) // waits for the close the context started
	if err != nil || res.Duration != time.Second {
		t.Fatalf("%+v %v", res, err)
	}
	e.drain()
	in, err := e.s.Get(ctx(t), rec.ID())
	if err != nil || in.Status != StatusComplete {
		t.Fatalf("%+v %v", in, err)
	}
	if got := metricValue(t, e, "careline_recordings_active", nil); got != 0 {
		t.Errorf("active gauge %v", got)
	}
}

func TestMonoRecordingRefusesRightTap(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rec, err := e.s.Start(ctx(t), Meta{Kind: KindIVRMessage, InteractionID: uuid.New()})
	if err != nil {
		t.Fatal(err)
	}
	s := &stream{pcm: tone(440, 1), ssrc: 1}
	if err := rec.Right().WriteFrame(s.frame(0)); !errors.Is(err, ErrNoChannel) {
		t.Fatalf("right tap of a mono recording: %v", err)
	}
	for k := range 50 {
		e.clock.Advance(tick)
		if err := rec.Left().WriteFrame(s.frame(k)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rec.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
	l, r, _ := e.decrypt(rec.ID())
	if r != nil || !slices.Equal(l, s.pcm) {
		t.Fatalf("mono recording: %d left, %d right samples", len(l), len(r))
	}
	if _, ok := e.s.Active(rec.Meta().InteractionID); ok {
		t.Error("IVR message registered as the interaction's active call recording")
	}
	var n int
	_ = e.pool.QueryRow(ctx(t), "SELECT count(*) FROM interaction_events WHERE type = $1", store.Event{Type: EventStarted}.Type).Scan(&n)
	if n != 1 {
		t.Errorf("%d started events", n)
	}
}

// gatedFile is a recording file whose writes block while the test holds gate.
type gatedFile struct {
	gate sync.Mutex
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (g *gatedFile) Write(p []byte) (int, error) {
	g.gate.Lock()
	defer g.gate.Unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.buf.Write(p)
}
func (g *gatedFile) Sync() error  { return nil }
func (g *gatedFile) Close() error { return nil }

// TestRecorderDiskStall: while the disk blocks, the RTP path never waits: blocks that
// do not fit in the write queue are dropped and become silence of the same length, so
// everything after the stall stays on the timeline.
func TestRecorderDiskStall(t *testing.T) {
	t.Parallel()
	e := newEnv(t, WithWriteQueue(1))
	id := uuid.New()
	g := &gatedFile{}
	cw, err := container.NewWriter(g, e.s.keys, container.WriterOptions{ID: id, Channels: 2, ChunkBytes: 32000})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(e.s, id, Meta{InteractionID: uuid.New()}, e.clock.Now(), g, cw, 2)
	e.s.mu.Lock()
	e.s.byRecording[id] = rec
	e.s.mu.Unlock()
	e.s.m.active.Inc()
	p := &stream{pcm: tone(440, 10), ssrc: 1}
	a := &stream{pcm: tone(1000, 10), ssrc: 2}
	feed := func(from, to int) {
		for k := from; k < to; k++ {
			e.clock.Advance(tick)
			_ = rec.Left().WriteFrame(p.frame(k))
			_ = rec.Right().WriteFrame(a.frame(k))
		}
	}
	g.gate.Lock() // the disk stalls
	feed(0, 300)
	g.gate.Unlock()
	feed(300, 500)
	res, err := rec.Close(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.Duration != 10*time.Second || res.Stats.LostSamples == 0 || res.Stats.LostSamples%8000 != 0 {
		t.Fatalf("result %+v", res)
	}
	g.mu.Lock()
	file := bytes.Clone(g.buf.Bytes())
	g.mu.Unlock()
	cr, err := container.NewReader(bytes.NewReader(file), e.s.keys, container.ReaderOptions{ExpectID: id})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(cr)
	if err != nil {
		t.Fatal(err)
	}
	l, r, _ := splitPCM(raw, 2)
	silent := int64(0)
	for s := 0; s < 80000; s += 8000 { // each emitted block is one second
		switch {
		case zero(l[s:s+8000]) && zero(r[s:s+8000]):
			silent += 8000
		case !slices.Equal(l[s:s+8000], p.pcm[s:s+8000]) || !slices.Equal(r[s:s+8000], a.pcm[s:s+8000]):
			t.Fatalf("second %d is neither intact nor silence", s/8000)
		}
	}
	if silent != res.Stats.LostSamples {
		t.Errorf("%d silent samples, %d reported lost", silent, res.Stats.LostSamples)
	}
	if n := metricValue(t, e, "careline_recordings_frames_dropped_total", map[string]string{"reason": "disk_stall"}); n == 0 {
		t.Error("disk_stall drops not counted")
	}
}

func TestStoreCloseFinishesRecordings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var ids []uuid.UUID
	s := &stream{pcm: tone(440, 1), ssrc: 1}
	for range 3 {
		rec, err := e.s.Start(ctx(t), Meta{InteractionID: uuid.New()})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.ID())
		for k := range 25 {
			_ = rec.Left().WriteFrame(s.frame(k))
		}
	}
	if err := e.s.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
	e.drain()
	for _, id := range ids {
		if in, err := e.s.Get(ctx(t), id); err != nil || in.Status != StatusComplete || in.AudioBytes == 0 {
			t.Errorf("%s: %+v %v", id, in, err)
		}
	}
	if n := metricValue(t, e, "careline_recordings_active", nil); n != 0 {
		t.Errorf("active %v", n)
	}
}
