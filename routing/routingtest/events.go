package routingtest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/careline/careline/store"
)

// Events is a routing.EventLog that keeps events in memory and lets a test wait for one.
type Events struct {
	mu     sync.Mutex
	events []store.Event
	signal chan struct{}
}

// NewEvents returns an empty log.
func NewEvents() *Events { return &Events{signal: make(chan struct{})} }

// Append implements routing.EventLog.
func (e *Events) Append(ev store.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ev.ID == [16]byte{} {
		ev.ID = store.NewID()
	}
	e.events = append(e.events, ev)
	close(e.signal)
	e.signal = make(chan struct{})
	return nil
}

// All returns a copy of every event so far.
func (e *Events) All() []store.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]store.Event(nil), e.events...)
}

// Match returns the events of type typ whose Detail holds every key/value of want.
func (e *Events) Match(typ string, want map[string]any) []store.Event {
	var out []store.Event
	for _, ev := range e.All() {
		if matches(ev, typ, want) {
			out = append(out, ev)
		}
	}
	return out
}

func matches(ev store.Event, typ string, want map[string]any) bool {
	if ev.Type != typ {
		return false
	}
	for k, v := range want {
		if ev.Detail[k] != v {
			return false
		}
	}
	return true
}

// WaitFor blocks until the n-th (1-based) event of type typ matching want exists, and
// returns it; it fails the test after 10 s.
func (e *Events) WaitFor(t testing.TB, n int, typ string, want map[string]any) store.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		e.mu.Lock()
		sig := e.signal
		seen := 0
		for _, ev := range e.events {
			if matches(ev, typ, want) {
				seen++
				if seen == n {
					e.mu.Unlock()
					return ev
				}
			}
		}
		e.mu.Unlock()
		select {
		case <-sig:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for event #%d %s %v; have %d matching", n, typ, want, seen)
			return store.Event{}
		}
	}
}
