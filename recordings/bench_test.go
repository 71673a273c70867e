package recordings

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careline/careline/store"
)

type nopEvents struct{}

func (nopEvents) Append(store.Event) error { return nil }

// benchStore is a Store whose pool is never used (recording does not touch Postgres).
func benchStore(b *testing.B, clock *fakeClock) *Store {
	pool, err := pgxpool.New(context.Background(), "postgres://127.0.0.1:1/unused")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	s, err := New(b.TempDir(), testKeyring(b), pool, nopEvents{}, WithClock(clock.Now), WithWriteQueue(1<<16))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkRecorderWrite: one recording, a frame on each tap per op (20 ms of stereo
// call audio), encrypted and written to disk.
func BenchmarkRecorderWrite(b *testing.B) {
	clock := newClock()
	s := benchStore(b, clock)
	rec, err := s.Start(context.Background(), Meta{InteractionID: uuid.New()})
	if err != nil {
		b.Fatal(err)
	}
	p := &stream{pcm: tone(440, 10), ssrc: 1}
	a := &stream{pcm: tone(1000, 10), ssrc: 2}
	k := 0
	for b.Loop() {
		clock.Advance(tick)
		i := k % 500
		pf, af := p.frame(i), a.frame(i)
		pf.Timestamp, af.Timestamp = uint32(k*160), uint32(k*160)
		_ = rec.Left().WriteFrame(pf)
		_ = rec.Right().WriteFrame(af)
		k++
	}
	if _, err := rec.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "frames/s")
	b.ReportMetric(float64(b.N)*0.02/b.Elapsed().Seconds(), "x-realtime")
}

// BenchmarkRecorderParallel: one recording per goroutine, all at once; frames/s is the
// total across recordings.
func BenchmarkRecorderParallel(b *testing.B) {
	b.RunParallel(func(pb *testing.PB) {
		clock := newClock()
		s := benchStore(b, clock)
		rec, err := s.Start(context.Background(), Meta{InteractionID: uuid.New()})
		if err != nil {
			b.Error(err)
			return
		}
		p := &stream{pcm: tone(440, 10), ssrc: 1}
		k := 0
		for pb.Next() {
			clock.Advance(tick)
			f := p.frame(k % 500)
			f.Timestamp = uint32(k * 160)
			_ = rec.Left().WriteFrame(f)
			f.SSRC = 2
			_ = rec.Right().WriteFrame(f)
			k++
		}
		_, _ = rec.Close(context.Background())
	})
	b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "frames/s")
}
