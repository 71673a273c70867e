package app

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/careline/careline/routing"
	"github.com/careline/careline/routing/redisstore"
	"github.com/careline/careline/sip"
)

// redisBindings stores the registrar's bindings in Redis so that every careline node
// can reach every agent's phone.
type redisBindings struct {
	b   *redisstore.Bindings
	now func() time.Time
}

func (r redisBindings) Put(ctx context.Context, b sip.Binding, ttl time.Duration) error {
	v, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("engine: encode binding: %w", err)
	}
	return r.b.Put(ctx, b.AOR, b.Key(), v, r.now().Add(ttl))
}

func (r redisBindings) Remove(ctx context.Context, aor, key string) error {
	return r.b.Remove(ctx, aor, key)
}

func (r redisBindings) RemoveAll(ctx context.Context, aor string) error {
	return r.b.RemoveAll(ctx, aor)
}

func (r redisBindings) List(ctx context.Context, aor string) ([]sip.Binding, error) {
	raw, err := r.b.List(ctx, aor)
	if err != nil {
		return nil, err
	}
	out := make([]sip.Binding, 0, len(raw))
	for _, v := range raw {
		var b sip.Binding
		if json.Unmarshal(v, &b) == nil {
			out = append(out, b)
		}
	}
	return out, nil
}

// funcClock adapts the engine's clock function to routing.Clock; timers run on real
// durations.
type funcClock struct{ now func() time.Time }

func (c funcClock) Now() time.Time { return c.now() }

func (c funcClock) AfterFunc(d time.Duration, f func()) routing.Timer { return time.AfterFunc(d, f) }
