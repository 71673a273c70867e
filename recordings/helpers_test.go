package recordings

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/careline/careline/internal/testenv"
	"github.com/careline/careline/media"
	"github.com/careline/careline/recordings/container"
	"github.com/careline/careline/store"
)

// fakeClock is a settable clock shared by a test and the store.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 2, 15, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func testKeyring(t testing.TB) *container.Keyring {
	t.Helper()
	kr, err := container.NewKeyring("k1", map[string][]byte{"k1": bytes.Repeat([]byte{0x42}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// env is a store on a fresh database with a real interaction log shipping to it.
type env struct {
	t      testing.TB
	pool   *pgxpool.Pool
	events *store.Log
	s      *Store
	clock  *fakeClock
	dir    string
	reg    *prometheus.Registry
	logBuf *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t testing.TB, opts ...Option) *env {
	t.Helper()
	pool := testenv.Postgres(t)
	ctx := context.Background()
	if _, err := store.Migrate(ctx, pool); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	e := &env{t: t, pool: pool, clock: newClock(), dir: t.TempDir(), reg: prometheus.NewRegistry(), logBuf: &syncBuffer{}}
	log := slog.New(slog.NewJSONHandler(e.logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ev, err := store.Open(store.Options{Dir: t.TempDir(), Pool: pool, Projectors: []store.Projector{Projector(log)}})
	if err != nil {
		t.Fatal(err)
	}
	ev.Start(ctx)
	t.Cleanup(func() { ev.Close() })
	e.events = ev
	base := []Option{WithClock(e.clock.Now), WithNodeID("test-node"), WithLogger(log), WithMetrics(NewMetrics(e.reg))}
	s, err := New(e.dir, testKeyring(t), pool, ev, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	e.s = s
	return e
}

// drain waits until every event is in Postgres (rows projected).
func (e *env) drain() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.events.Drain(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// decrypt reads a recording's file directly (no audit) and splits its channels.
func (e *env) decrypt(id uuid.UUID) (left, right []int16, final bool) {
	e.t.Helper()
	e.drain()
	in, err := e.s.Get(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(e.dir, in.Path))
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	cr, err := container.NewReader(f, e.s.keys, container.ReaderOptions{ExpectID: id})
	if err != nil {
		e.t.Fatal(err)
	}
	b, err := io.ReadAll(cr)
	if err != nil {
		e.t.Fatalf("decrypt: %v", err)
	}
	return splitPCM(b, cr.Info().Channels)
}

func splitPCM(b []byte, channels int) (left, right []int16, final bool) {
	for i := 0; i+2*channels <= len(b); i += 2 * channels {
		left = append(left, int16(binary.LittleEndian.Uint16(b[i:])))
		if channels == 2 {
			right = append(right, int16(binary.LittleEndian.Uint16(b[i+2:])))
		}
	}
	return left, right, true
}

func (e *env) fileOf(id uuid.UUID) string {
	e.t.Helper()
	in, err := e.s.Get(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return filepath.Join(e.dir, in.Path)
}

// stream produces the RTP frames of one direction.
type stream struct {
	pcm  []int16 // the whole signal, 160 samples per frame
	ssrc uint32
	ts   uint32 // timestamp of frame 0
	seq  uint16
}

func (s *stream) frame(k int) media.Frame {
	return media.Frame{Samples: s.pcm[k*160 : (k+1)*160], Codec: media.PCMU, PayloadType: 0,
		SequenceNumber: s.seq + uint16(k), Timestamp: s.ts + uint32(k*160), SSRC: s.ssrc}
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func pcmBytes(s []int16) []byte {
	b := make([]byte, 0, 2*len(s))
	for _, v := range s {
		b = binary.LittleEndian.AppendUint16(b, uint16(v))
	}
	return b
}

// metricValue returns the value of a gauge or counter with exactly these labels.
func metricValue(t testing.TB, e *env, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
