package store

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/careline/careline/internal/testenv"
	"github.com/jackc/pgx/v5"
)

func benchEvent(i int) Event {
	return Event{InteractionID: NewID(), Type: "ivr.node_exit",
		Detail: map[string]any{"flow": "main", "node": "main_menu", "exit": "option:2", "i": i}}
}

// BenchmarkAppend measures Append latency (median and p99 as custom metrics) with the
// default fsync policy (every 10 ms or 512 records, off the caller's path).
func BenchmarkAppend(b *testing.B) { benchAppend(b, Options{Dir: b.TempDir()}) }

// BenchmarkAppendNoFsync is the same with the flusher effectively off: a diagnostic
// that shows what the fsync policy costs the appender's tail latency.
func BenchmarkAppendNoFsync(b *testing.B) {
	benchAppend(b, Options{Dir: b.TempDir(), FsyncInterval: time.Hour, FsyncBatch: 1 << 30})
}

func benchAppend(b *testing.B, o Options) {
	l, err := Open(o)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := l.Append(benchEvent(i)); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportLatency(b, lat)
}

func reportLatency(b *testing.B, lat []time.Duration) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkAppendParallel is Append from many goroutines (calls in parallel).
func BenchmarkAppendParallel(b *testing.B) {
	l, err := Open(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if err := l.Append(benchEvent(i)); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkShipToPostgres measures sustained events/s from the outbox into Postgres.
func BenchmarkShipToPostgres(b *testing.B) {
	pool := testenv.Postgres(b)
	if _, err := Migrate(context.Background(), pool); err != nil {
		b.Fatal(err)
	}
	const n = 100000
	for r := 0; r < b.N; r++ {
		l, err := Open(Options{Dir: b.TempDir(), Pool: pool, ShipBatch: 5000})
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < n; i++ {
			if err := l.Append(benchEvent(i)); err != nil {
				b.Fatal(err)
			}
		}
		t0 := time.Now()
		l.Start(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		if err := l.Drain(ctx); err != nil {
			b.Fatal(err)
		}
		cancel()
		el := time.Since(t0)
		b.ReportMetric(float64(n)/el.Seconds(), "events/s")
		l.Close()
	}
}

// BenchmarkAppendAnchorWrite is the floor under BenchmarkAppend: the same event
// marshalled and written to one file with write(2), no framing, no fsync, no rotation.
func BenchmarkAppendAnchorWrite(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "anchor"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		ev := benchEvent(i)
		ev.ID, ev.At = NewID(), t0
		p, err := json.Marshal(ev)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Write(p); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportLatency(b, lat)
}

// BenchmarkShipAnchorCopy is the ceiling over BenchmarkShipToPostgres: the same
// number of events sent with COPY into a table shaped like interaction_events, from
// memory, with no outbox, no idempotence and no projections.
func BenchmarkShipAnchorCopy(b *testing.B) {
	pool := testenv.Postgres(b)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE anchor_events (id uuid PRIMARY KEY, interaction_id uuid,
		type text NOT NULL, at timestamptz NOT NULL, detail jsonb NOT NULL DEFAULT '{}', shipped_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		b.Fatal(err)
	}
	const n = 100000
	for r := 0; r < b.N; r++ {
		rows := make([][]any, n)
		for i := range rows {
			ev := benchEvent(i)
			d, err := json.Marshal(ev.Detail)
			if err != nil {
				b.Fatal(err)
			}
			rows[i] = []any{NewID(), ev.InteractionID, ev.Type, time.Now(), string(d)}
		}
		t0 := time.Now()
		for i := 0; i < n; i += 5000 {
			if _, err := pool.CopyFrom(ctx, pgx.Identifier{"anchor_events"}, []string{"id", "interaction_id", "type", "at", "detail"},
				pgx.CopyFromRows(rows[i:i+5000])); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)/time.Since(t0).Seconds(), "events/s")
	}
}
