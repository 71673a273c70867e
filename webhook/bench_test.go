package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/careline/careline/store"
)

// BenchmarkDeliveryThroughput appends b.N refill events to the interaction log (real
// outbox, real PostgreSQL, the projector in the shipper's transaction) with a deliverer
// running against a local receiver, and reports deliveries per second and the delay
// from the event's time to its arrival at the receiver (median, p99).
//
//	go test ./webhook -run '^$' -bench DeliveryThroughput -benchtime 5000x
func BenchmarkDeliveryThroughput(b *testing.B) { benchDelivery(b, 0) }

// BenchmarkDeliveryDelayPaced is the same at 100 events per second (a busy site), so
// the delay is not a queue of a burst.
func BenchmarkDeliveryDelayPaced(b *testing.B) { benchDelivery(b, 10*time.Millisecond) }

func benchDelivery(b *testing.B, every time.Duration) {
	pool := migrated(b)
	var mu sync.Mutex
	var delays []time.Duration
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body Body
		_ = json.Unmarshal(raw, &body)
		mu.Lock()
		delays = append(delays, time.Since(body.Timestamp))
		if len(delays) == b.N {
			close(done)
		}
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	eps := []*Endpoint{endpoint(b, srv.URL)}
	l := openLog(b, b.TempDir(), pool, eps)
	defer l.Close()
	d := NewDeliverer(pool, eps, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = d.Run(ctx) }()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := l.Append(store.Event{InteractionID: store.NewID(), Type: RefillRequested,
			Detail: map[string]any{"flow": "refill", "node": "requested"}}); err != nil {
			b.Fatal(err)
		}
		if every > 0 {
			time.Sleep(every)
		}
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d delivered", len(delays), b.N)
	}
	el := time.Since(start)
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(delays)
	b.ReportMetric(float64(b.N)/el.Seconds(), "deliveries/s")
	b.ReportMetric(float64(delays[len(delays)/2].Milliseconds()), "median_ms")
	b.ReportMetric(float64(delays[len(delays)*99/100].Milliseconds()), "p99_ms")
}
