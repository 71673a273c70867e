package recordings

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careline/careline/internal/testenv"
	"github.com/careline/careline/media/dsp"
	"github.com/careline/careline/store"
)

const crashChildEnv = "CARELINE_RECORDINGS_CRASH_CHILD"

type crashSetup struct {
	DB, Outbox, Dir string
	Interaction     uuid.UUID
}

// TestCrashChild is the child half of TestEngineKilledMidRecording: an engine that
// records 5.5 s of a call, reports, and waits to be killed.
func TestCrashChild(t *testing.T) {
	raw := os.Getenv(crashChildEnv)
	if raw == "" {
		return // only runs as a child process
	}
	var cs crashSetup
	if err := json.Unmarshal([]byte(raw), &cs); err != nil {
		t.Fatal(err)
	}
	c := context.Background()
	ev, err := store.Open(store.Options{Dir: cs.Outbox}) // the outbox only: shipping is the parent's job
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(c, cs.DB)
	if err != nil {
		t.Fatal(err)
	}
	clock := newClock()
	s, err := New(cs.Dir, testKeyring(t), pool, ev, WithNodeID("crash-node"), WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.Start(c, Meta{InteractionID: cs.Interaction, Queue: "refills"})
	if err != nil {
		t.Fatal(err)
	}
	p := &stream{pcm: tone(440, 6), ssrc: 1}
	a := &stream{pcm: tone(1000, 6), ssrc: 2}
	for k := range 275 {
		clock.Advance(tick)
		_ = rec.Left().WriteFrame(p.frame(k))
		_ = rec.Right().WriteFrame(a.frame(k))
	}
	if err := rec.written(c); err != nil {
		t.Fatal(err)
	}
	if err := ev.Sync(c); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(os.NewFile(3, "progress"), "ready %s\n", rec.ID())
	_, _ = io.Copy(io.Discard, os.Stdin) // until killed
}

// TestEngineKilledMidRecording kills an engine (SIGKILL) in the middle of a call
// recording. After restart, the outbox replays recording.started, recovery finds the
// orphaned file, seals its row as truncated with the readable length and checksum, and
// the recording plays: every whole chunk that reached the disk, both channels intact.
func TestEngineKilledMidRecording(t *testing.T) {
	t.Parallel()
	pool := testenv.Postgres(t)
	if _, err := store.Migrate(ctx(t), pool); err != nil {
		t.Fatal(err)
	}
	cs := crashSetup{DB: pool.Config().ConnString(), Outbox: t.TempDir(), Dir: t.TempDir(), Interaction: uuid.New()}
	raw, _ := json.Marshal(cs)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, keep, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+string(raw))
	cmd.ExtraFiles = []*os.File{pw}
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	stdin.Close()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child: %v\n%s", err, stderr.String())
	}
	id := uuid.MustParse(strings.TrimSpace(strings.TrimPrefix(line, "ready ")))
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed: %v", cmd.ProcessState)
	}

	// Restart: the same outbox, now shipping with the recordings projector.
	ev, err := store.Open(store.Options{Dir: cs.Outbox, Pool: pool, Projectors: []store.Projector{Projector(nil)}})
	if err != nil {
		t.Fatal(err)
	}
	ev.Start(context.Background())
	defer ev.Close()
	dctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := ev.Drain(dctx); err != nil {
		t.Fatal(err)
	}
	s, err := New(cs.Dir, testKeyring(t), pool, ev, WithNodeID("crash-node"))
	if err != nil {
		t.Fatal(err)
	}
	if in, err := s.Get(ctx(t), id); err != nil || in.Status != StatusRecording || in.Queue != "refills" {
		t.Fatalf("row after replay: %+v %v", in, err)
	}
	other, _ := New(cs.Dir, testKeyring(t), pool, ev, WithNodeID("another-node"))
	if n, err := other.Recover(ctx(t)); err != nil || n != 0 {
		t.Fatalf("another node recovered %d: %v", n, err)
	}
	if n, err := s.Recover(ctx(t)); err != nil || n != 1 {
		t.Fatalf("recovered %d: %v", n, err)
	}
	if n, err := s.Recover(ctx(t)); err != nil || n != 0 {
		t.Fatalf("second recovery %d: %v", n, err)
	}
	in, err := s.Get(ctx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	// 5.5 s were fed; 5 s left the jitter window and were sealed in 1 s chunks.
	if in.Status != StatusTruncated || in.Duration != 5*time.Second || in.AudioBytes != 5*32000 || in.SHA256 == "" {
		t.Fatalf("recovered row %+v", in)
	}
	var out bytes.Buffer
	if err := s.Export(ctx(t), id, &out, "ops"); err != nil {
		t.Fatal(err)
	}
	ch, l, r := parseWAV(t, out.Bytes())
	if ch != 2 || len(l) != 40000 {
		t.Fatalf("%d channels, %d samples", ch, len(l))
	}
	near(t, "left", dsp.DominantFrequency(l, 8000), 440, 3)
	near(t, "right", dsp.DominantFrequency(r, 8000), 1000, 3)
	if err := ev.Drain(dctx); err != nil {
		t.Fatal(err)
	}
	var recovered int
	_ = pool.QueryRow(ctx(t), "SELECT count(*) FROM interaction_events WHERE type = 'recording.recovered' AND detail->>'status' = 'truncated'").Scan(&recovered)
	if recovered != 1 {
		t.Errorf("%d recording.recovered events", recovered)
	}
}
