package redisstore_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/careline/careline/internal/testenv"
	"github.com/careline/careline/routing"
	"github.com/careline/careline/routing/redisstore"
	"github.com/careline/careline/routing/routingtest"
	"github.com/redis/go-redis/v9"
)

// miniClient starts a private in-process Redis. miniredis interprets Lua in Go and
// serialises every command, so under -race with dozens of concurrent scripts it cannot
// keep the production 200 ms read timeout (real Redis does, below).
func miniClient(t *testing.T) *redis.Client {
	t.Helper()
	m := miniredis.RunT(t)
	opts, err := redisstore.ClientOptions("redis://" + m.Addr())
	if err != nil {
		t.Fatal(err)
	}
	opts.ReadTimeout, opts.WriteTimeout, opts.PoolTimeout = 10*time.Second, 10*time.Second, 10*time.Second
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// realClient connects to the test redis-server; keys live under a unique prefix that
// is deleted at cleanup.
func realClient(t *testing.T) (*redis.Client, string) {
	t.Helper()
	url, prefix := testenv.RedisURL(t)
	c, err := redisstore.NewClient(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		_ = c.Close()
	})
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis at %s: %v (`make test` starts it)", url, err)
	}
	return c, prefix
}

func TestContractMiniredis(t *testing.T) {
	t.Parallel()
	routingtest.StoreContract(t, func(t *testing.T) routing.Store { return redisstore.New(miniClient(t), "careline:") })
}

func TestContractRedis(t *testing.T) {
	t.Parallel()
	routingtest.StoreContract(t, func(t *testing.T) routing.Store {
		c, prefix := realClient(t)
		return redisstore.New(c, prefix)
	})
}

func TestBindings(t *testing.T) {
	t.Parallel()
	for name, mk := range map[string]func(t *testing.T) (*redis.Client, string){
		"miniredis": func(t *testing.T) (*redis.Client, string) { return miniClient(t), "careline:" },
		"redis":     realClient,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, prefix := mk(t)
			now := time.Now()
			clock := func() time.Time { return now }
			b := redisstore.NewBindings(c, prefix, clock)
			ctx := context.Background()
			val := func(s string) []byte { v, _ := json.Marshal(map[string]string{"contact": s}); return v }
			if err := b.Put(ctx, "1001", "uri:a", val("a"), now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			now = now.Add(time.Second)
			if err := b.Put(ctx, "1001", "inst:b", val("b"), now.Add(2*time.Minute)); err != nil {
				t.Fatal(err)
			}
			if err := b.Put(ctx, "1002", "uri:c", val("c"), now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if err := b.Put(ctx, "1001", "uri:x", []byte("not json"), now.Add(time.Minute)); err == nil {
				t.Fatal("non-JSON value accepted")
			}
			list := func(aor string) []string {
				t.Helper()
				bs, err := b.List(ctx, aor)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, v := range bs {
					var m map[string]string
					if err := json.Unmarshal(v, &m); err != nil {
						t.Fatal(err)
					}
					out = append(out, m["contact"])
				}
				return out
			}
			if got := list("1001"); len(got) != 2 || got[0] != "b" || got[1] != "a" {
				t.Fatalf("list: %v (want newest first)", got)
			}
			if !b.Registered(ctx, "1001") || b.Registered(ctx, "1003") {
				t.Fatal("presence")
			}
			now = now.Add(90 * time.Second) // a and c expired
			if got := list("1001"); len(got) != 1 || got[0] != "b" {
				t.Fatalf("after expiry: %v", got)
			}
			if b.Registered(ctx, "1002") {
				t.Fatal("expired binding counts as registered")
			}
			if err := b.Remove(ctx, "1001", "inst:b"); err != nil {
				t.Fatal(err)
			}
			if got := list("1001"); len(got) != 0 {
				t.Fatalf("after remove: %v", got)
			}
			if err := b.Put(ctx, "1001", "uri:a", val("a"), now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if err := b.RemoveAll(ctx, "1001"); err != nil {
				t.Fatal(err)
			}
			if b.Registered(ctx, "1001") {
				t.Fatal("registered after RemoveAll")
			}
		})
	}
}
