package routing_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/careline/careline/routing"
	"github.com/careline/careline/routing/routingtest"
	"github.com/google/uuid"
)

type nullConn struct{}

func (nullConn) Offer(ctx context.Context, _ routing.Offer) (routing.OfferResult, error) {
	<-ctx.Done()
	return routing.OfferResult{}, ctx.Err()
}

// BenchmarkRoutingPass measures one routing pass (command + dispatch + announcements)
// with 200 callers waiting and 50 agents, none of them eligible: the worst case, every
// caller checked against every agent.
func BenchmarkRoutingPass(b *testing.B) {
	var agents []agentDef
	for i := range 50 {
		agents = append(agents, agentDef{id: fmt.Sprintf("a%02d", i), skills: "coordinator: 1", langs: "es"})
	}
	cfg := configFor(b, agents)
	clock := routingtest.NewFakeClock(t0)
	r, err := routing.New(cfg, nullConn{}, &fakePresence{off: map[string]bool{}}, routing.WithClock(clock))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.Run(ctx) }()
	for _, a := range agents {
		if err := r.Login(ctx, a.id); err != nil {
			b.Fatal(err)
		}
	}
	for range 200 { // English callers in rx: no Spanish-only coordinator fits
		if _, err := r.Enqueue(ctx, routing.Caller{InteractionID: uuid.New(), Queue: "rx", Language: "en"}); err != nil {
			b.Fatal(err)
		}
	}
	clock.Advance(time.Second)
	b.ResetTimer()
	for range b.N {
		if err := r.Sync(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
