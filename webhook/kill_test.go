package webhook

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/careline/careline/internal/testenv"
	"github.com/careline/careline/store"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestMain lets the test binary act as a delivering node that the parent kills.
func TestMain(m *testing.M) {
	if os.Getenv("WEBHOOK_CHILD_DB") != "" {
		runChild()
		return
	}
	os.Exit(m.Run())
}

func runChild() {
	pool, err := pgxpool.New(context.Background(), os.Getenv("WEBHOOK_CHILD_DB"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	key, _ := ParseSecret(testSecret)
	ep := &Endpoint{Name: "pms", URL: os.Getenv("WEBHOOK_CHILD_URL"), Key: key, Events: Types(), Timeout: time.Second}
	d := NewDeliverer(pool, []*Endpoint{ep}, Options{Workers: 4, Poll: 20 * time.Millisecond, Lease: time.Second})
	_ = d.Run(context.Background()) // until SIGKILL
}

// A node SIGKILLed while POSTs are in flight loses nothing: the rows it claimed are
// due again after their lease and another node delivers every one; each webhook id
// reaches the receiver, duplicates only for requests that were in flight at the kill.
func TestSIGKILLMidDeliveryLosesNothing(t *testing.T) {
	t.Parallel()
	dbURL := testenv.PostgresURL(t)
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := store.Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond) // slow receiver: the kill lands mid-delivery
		mu.Lock()
		got[r.Header.Get(HeaderID)]++
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	eps := []*Endpoint{endpoint(t, srv.URL)}
	eps[0].Timeout = time.Second
	l := openLog(t, t.TempDir(), pool, eps)
	const n = 200
	for range n {
		if err := l.Append(store.Event{InteractionID: store.NewID(), Type: AppointmentConfirmed}); err != nil {
			t.Fatal(err)
		}
	}
	drainLog(t, l)
	l.Close()

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), "WEBHOOK_CHILD_DB="+dbURL, "WEBHOOK_CHILD_URL="+srv.URL)
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	count := func() (distinct, total int) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range got {
			distinct++
			total += c
		}
		return
	}
	waitFor(t, 20*time.Second, "the child's first deliveries", func() bool { d, _ := count(); return d >= 20 })
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	before, _ := count()
	if before >= n {
		t.Fatalf("the child delivered everything (%d) before the kill; slow the receiver", before)
	}
	var claimed int
	_ = pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_deliveries WHERE state = 'pending' AND attempts > 0`).Scan(&claimed)
	t.Logf("killed after %d deliveries; %d rows claimed and unfinished", before, claimed)

	d := NewDeliverer(pool, eps, Options{Poll: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = d.Run(ctx) }()
	var left int
	waitFor(t, 30*time.Second, "every row delivered after the kill", func() bool {
		_ = pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_deliveries WHERE state <> 'delivered'`).Scan(&left)
		return left == 0
	})
	distinct, total := count()
	if left != 0 || distinct != n {
		t.Fatalf("%d rows not delivered, %d distinct ids", left, distinct)
	}
	if total-distinct > 4 { // at most the child's in-flight requests (4 workers)
		t.Fatalf("%d duplicates; want only the requests in flight at the kill", total-distinct)
	}
	t.Logf("%d ids delivered, %d duplicates (requests in flight at the kill)", distinct, total-distinct)
}
