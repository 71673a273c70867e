package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careline/careline/config"
	"github.com/careline/careline/routing"
	"github.com/careline/careline/routing/redisstore"
	"github.com/careline/careline/store"
	"github.com/redis/go-redis/v9"
)

func twoNodeConfig(t *testing.T, agents int) *config.Config {
	t.Helper()
	var b strings.Builder
	b.WriteString(`version: 1
site: {name: T, timezone: America/Chicago, languages: [en]}
sip:
  listen: [{network: udp, addr: "127.0.0.1:0"}]
skills:
  coordinator: {}
routing:
  wrap_up: 1ms
queues:
  q:
    require: {coordinator: 1}
    max_wait: 10m
agents:
`)
	for i := range agents {
		fmt.Fprintf(&b, "  a%02d:\n    sip: {user: \"%d\", ha1: \"0123456789abcdef0123456789abcdef\"}\n    skills: {coordinator: %d}\n",
			i, 1001+i, 1+i%5)
	}
	c, is := config.Parse("two.yaml", []byte(b.String()), config.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }})
	if len(is) > 0 {
		t.Fatal(is)
	}
	return c
}

// exclusiveConn is the Connector of every node: it fails the test if an agent is
// offered a call while it is still ringing or talking for another one.
type exclusiveConn struct {
	t       *testing.T
	mu      sync.Mutex
	busy    map[string]string // agent → interaction
	offers  atomic.Int64
	rejects atomic.Int64
	ready   func(agent string)
	readies sync.WaitGroup
}

func (c *exclusiveConn) Offer(ctx context.Context, o routing.Offer) (routing.OfferResult, error) {
	n := c.offers.Add(1)
	c.mu.Lock()
	if other := c.busy[o.Agent.ID]; other != "" {
		c.t.Errorf("agent %s offered %s while busy with %s", o.Agent.ID, o.InteractionID, other)
	}
	c.busy[o.Agent.ID] = o.InteractionID.String()
	c.mu.Unlock()
	if n%7 == 0 { // now and then the agent declines, then makes itself ready again
		c.free(o.Agent.ID)
		c.rejects.Add(1)
		c.readies.Add(1)
		go func() { defer c.readies.Done(); c.ready(o.Agent.ID) }()
		return routing.OfferResult{Outcome: routing.Rejected}, nil
	}
	return routing.OfferResult{Outcome: routing.Answered}, nil
}

func (c *exclusiveConn) free(agent string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.busy, agent)
}

type everyoneRegistered struct{}

func (everyoneRegistered) Registered(context.Context, string) bool { return true }

// Two Routers (two careline nodes) share one Redis; callers arrive on both; each agent
// must never be offered a second call while it rings or talks.
func TestTwoNodesNeverDoubleOffer(t *testing.T) {
	t.Parallel()
	for name, mk := range map[string]func(t *testing.T) (func() *redis.Client, string){
		"redis": func(t *testing.T) (func() *redis.Client, string) {
			_, prefix := realClient(t)
			return func() *redis.Client { c, _ := realClient(t); return c }, prefix
		},
		"miniredis": func(t *testing.T) (func() *redis.Client, string) {
			addr := miniClient(t).Options().Addr
			return func() *redis.Client {
				opts, _ := redisstore.ClientOptions("redis://" + addr)
				opts.ReadTimeout, opts.WriteTimeout, opts.PoolTimeout = 10*time.Second, 10*time.Second, 10*time.Second
				return redis.NewClient(opts)
			}, "careline:"
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			newClient, prefix := mk(t)
			const agents, perNode = 6, 30
			cfg := twoNodeConfig(t, agents)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			conn := &exclusiveConn{t: t, busy: map[string]string{}}
			var nodes []*routing.Router
			runCtx, stop := context.WithCancel(ctx)
			var wg sync.WaitGroup
			defer func() { stop(); wg.Wait() }()
			for i := range 2 {
				c := newClient()
				t.Cleanup(func() { _ = c.Close() })
				r, err := routing.New(cfg, conn, everyoneRegistered{}, routing.WithStore(redisstore.New(c, prefix)),
					routing.WithNodeID(fmt.Sprintf("node%d", i)), routing.WithPollInterval(50*time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}
				nodes = append(nodes, r)
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := r.Run(runCtx); !errors.Is(err, context.Canceled) {
						t.Errorf("node %d: %v", i, err)
					}
				}()
			}
			conn.ready = func(agent string) {
				// The rejecting node moves the agent to away(rejected) when it gets the
				// result; until then the agent is still offered.
				for ctx.Err() == nil {
					err := nodes[0].Ready(ctx, agent)
					var te *routing.TransitionError
					if !errors.As(err, &te) || te.From != routing.Offered {
						if err != nil && !errors.Is(err, context.Canceled) {
							t.Errorf("ready %s: %v", agent, err)
						}
						return
					}
					_ = nodes[0].Sync(ctx)
					_ = nodes[1].Sync(ctx)
				}
			}
			for i := range agents {
				if err := nodes[i%2].Login(ctx, fmt.Sprintf("a%02d", i)); err != nil {
					t.Fatal(err)
				}
			}
			// Callers arrive on both nodes at once; each hangs up as soon as it is connected.
			var connected atomic.Int64
			var callers sync.WaitGroup
			for i := range 2 * perNode {
				callers.Add(1)
				go func() {
					defer callers.Done()
					r := nodes[i%2]
					tk, err := r.Enqueue(ctx, routing.Caller{InteractionID: store.NewID(), Queue: "q", Language: "en"})
					if err != nil {
						t.Error(err)
						return
					}
					for u := range tk.Updates() {
						if c, ok := u.(routing.Connected); ok {
							connected.Add(1)
							conn.free(c.Agent.ID) // before Hangup: the agent may be offered again at once
							if err := tk.Hangup(ctx); err != nil {
								t.Error(err)
							}
						}
					}
				}()
			}
			callers.Wait()
			conn.readies.Wait()
			if connected.Load() != 2*perNode {
				t.Fatalf("%d of %d callers connected", connected.Load(), 2*perNode)
			}
			if conn.offers.Load() != 2*perNode+conn.rejects.Load() {
				t.Fatalf("%d offers for %d answers and %d rejects", conn.offers.Load(), 2*perNode, conn.rejects.Load())
			}
			t.Logf("%d offers, %d rejected", conn.offers.Load(), conn.rejects.Load())
		})
	}
}
