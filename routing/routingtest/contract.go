package routingtest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careline/careline/routing"
)

// StoreContract runs the behaviour every routing.Store must have. newStore returns a
// fresh, empty store each time it is called (isolated from other tests).
func StoreContract(t *testing.T, newStore func(t *testing.T) routing.Store) {
	t0 := time.Date(2026, 3, 2, 15, 4, 5, 123456789, time.UTC)
	ctx := context.Background()

	t.Run("InitAgents", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if err := s.InitAgents(ctx, []string{"b", "a"}, t0); err != nil {
			t.Fatal(err)
		}
		recs, err := s.Agents(ctx)
		if err != nil || len(recs) != 2 || recs[0].ID != "a" || recs[1].ID != "b" {
			t.Fatalf("agents %+v, %v", recs, err)
		}
		if r := recs[0]; r.State != routing.LoggedOut || !r.Since.Equal(t0) || r.Version == 0 {
			t.Fatalf("fresh record %+v", r)
		}
		// Init again must not reset an existing record.
		a := recs[0]
		a.State, a.Reason = routing.Ready, "login"
		if _, err := s.Swap(ctx, a); err != nil {
			t.Fatal(err)
		}
		if err := s.InitAgents(ctx, []string{"a", "c"}, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, err := s.Agent(ctx, "a")
		if err != nil || got.State != routing.Ready {
			t.Fatalf("re-init reset the record: %+v %v", got, err)
		}
		if _, err := s.Agent(ctx, "c"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Agent(ctx, "zz"); !errors.Is(err, routing.ErrUnknownAgent) {
			t.Fatalf("unknown agent: %v", err)
		}
	})

	t.Run("SwapIsCompareAndSet", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		must(t, s.InitAgents(ctx, []string{"a"}, t0))
		cur, _ := s.Agent(ctx, "a")
		next := cur
		next.State, next.Reason, next.Call, next.Queue, next.Node = routing.WrapUp, "call_ended", "call-1", "q1", "n1"
		next.Since, next.IdleSince, next.Until = t0.Add(time.Second), t0.Add(-time.Minute), t0.Add(20*time.Second)
		stored, err := s.Swap(ctx, next)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Version != cur.Version+1 {
			t.Fatalf("version %d after %d", stored.Version, cur.Version)
		}
		got, _ := s.Agent(ctx, "a")
		want := next
		want.Version = cur.Version + 1
		if !sameRecord(got, want) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
		}
		// A write based on the old version is refused and reports the current record.
		stale := cur
		stale.State = routing.Away
		got, err = s.Swap(ctx, stale)
		if !errors.Is(err, routing.ErrConflict) || got.Version != stored.Version || got.State != routing.WrapUp {
			t.Fatalf("stale swap: %+v %v", got, err)
		}
		if _, err := s.Swap(ctx, routing.AgentRecord{ID: "nope", Version: 1}); !errors.Is(err, routing.ErrUnknownAgent) {
			t.Fatalf("swap unknown: %v", err)
		}
	})

	t.Run("ClaimOnlyReadyAndUnclaimed", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		must(t, s.InitAgents(ctx, []string{"a"}, t0))
		c := routing.Claim{Call: "call-1", Queue: "q1", Node: "n1", Now: t0.Add(time.Second), Until: t0.Add(time.Minute)}
		if _, err := s.Claim(ctx, "a", c); !errors.Is(err, routing.ErrNotAvailable) {
			t.Fatalf("claimed a logged-out agent: %v", err)
		}
		cur, _ := s.Agent(ctx, "a")
		cur.State, cur.IdleSince = routing.Ready, t0
		cur, err := s.Swap(ctx, cur)
		must(t, err)
		rec, err := s.Claim(ctx, "a", c)
		if err != nil {
			t.Fatal(err)
		}
		if rec.State != routing.Offered || rec.Call != "call-1" || rec.Queue != "q1" || rec.Node != "n1" ||
			!rec.Since.Equal(c.Now) || !rec.Until.Equal(c.Until) || !rec.IdleSince.Equal(t0) || rec.Version <= cur.Version {
			t.Fatalf("claimed record %+v", rec)
		}
		got, _ := s.Agent(ctx, "a")
		if !sameRecord(got, rec) {
			t.Fatalf("stored %+v, returned %+v", got, rec)
		}
		c2 := c
		c2.Call = "call-2"
		if got, err := s.Claim(ctx, "a", c2); !errors.Is(err, routing.ErrNotAvailable) || got.Call != "call-1" {
			t.Fatalf("second claim: %+v %v", got, err)
		}
		// Ready but still carrying a call (inconsistent) is not claimable either.
		got.State = routing.Ready
		_, err = s.Swap(ctx, got)
		must(t, err)
		if _, err := s.Claim(ctx, "a", c2); !errors.Is(err, routing.ErrNotAvailable) {
			t.Fatalf("claimed an agent with a call: %v", err)
		}
		if _, err := s.Claim(ctx, "zz", c2); !errors.Is(err, routing.ErrUnknownAgent) {
			t.Fatalf("claim unknown: %v", err)
		}
	})

	t.Run("ConcurrentClaimsOneWinner", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ids := []string{"a", "b", "c", "d"}
		must(t, s.InitAgents(ctx, ids, t0))
		for round := range 5 {
			for _, id := range ids {
				cur, _ := s.Agent(ctx, id)
				cur.State, cur.Call = routing.Ready, ""
				_, err := s.Swap(ctx, cur)
				must(t, err)
			}
			var wins sync.Map
			var won atomic.Int64
			var wg sync.WaitGroup
			for g := range 24 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id := ids[g%len(ids)]
					call := fmt.Sprintf("r%d-call-%d", round, g)
					if _, err := s.Claim(ctx, id, routing.Claim{Call: call, Queue: "q", Node: "n", Now: t0, Until: t0}); err == nil {
						won.Add(1)
						if prev, dup := wins.LoadOrStore(id, call); dup {
							t.Errorf("agent %s claimed by %s and %s", id, prev, call)
						}
					} else if !errors.Is(err, routing.ErrNotAvailable) {
						t.Errorf("claim: %v", err)
					}
				}()
			}
			wg.Wait()
			if won.Load() != int64(len(ids)) {
				t.Fatalf("round %d: %d claims won, want %d", round, won.Load(), len(ids))
			}
			for _, id := range ids {
				rec, _ := s.Agent(ctx, id)
				w, _ := wins.Load(id)
				if rec.State != routing.Offered || rec.Call != w {
					t.Fatalf("agent %s: %+v, winner %v", id, rec, w)
				}
			}
		}
	})

	t.Run("ConcurrentSwapsLoseNothing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		must(t, s.InitAgents(ctx, []string{"a"}, t0))
		const n = 40
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					cur, err := s.Agent(ctx, "a")
					if err != nil {
						t.Error(err)
						return
					}
					k, _ := strconv.Atoi(cur.Reason)
					cur.Reason = strconv.Itoa(k + 1)
					if _, err := s.Swap(ctx, cur); err == nil {
						return
					} else if !errors.Is(err, routing.ErrConflict) {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if got, _ := s.Agent(ctx, "a"); got.Reason != strconv.Itoa(n) {
			t.Fatalf("counter %s, want %d", got.Reason, n)
		}
	})

	t.Run("EntriesOrderAndExpiry", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		exp := t0.Add(time.Minute)
		put := func(e routing.Entry) { t.Helper(); must(t, s.PutEntry(ctx, e)) }
		put(routing.Entry{ID: "n2", Queue: "q", Node: "x", EnqueuedAt: t0.Add(2 * time.Second), Expires: exp})
		put(routing.Entry{ID: "n1", Queue: "q", Node: "y", EnqueuedAt: t0.Add(1 * time.Second), Expires: exp})
		put(routing.Entry{ID: "u1", Queue: "q", Node: "x", Priority: 1, EnqueuedAt: t0.Add(3 * time.Second), Expires: exp})
		put(routing.Entry{ID: "n0b", Queue: "q", Node: "x", EnqueuedAt: t0, Seq: 7, Expires: exp})
		put(routing.Entry{ID: "n0a", Queue: "q", Node: "x", EnqueuedAt: t0, Seq: 8, Expires: exp, Callback: true})
		put(routing.Entry{ID: "n0c", Queue: "q", Node: "x", EnqueuedAt: t0, Seq: 8, Expires: exp})
		put(routing.Entry{ID: "old", Queue: "q", Node: "z", EnqueuedAt: t0, Expires: t0.Add(time.Second)})
		put(routing.Entry{ID: "other", Queue: "q2", Node: "x", EnqueuedAt: t0, Expires: exp})
		es, err := s.Entries(ctx, "q", t0.Add(2*time.Second))
		must(t, err)
		var ids []string
		for _, e := range es {
			ids = append(ids, e.ID)
		}
		if fmt.Sprint(ids) != "[u1 n0b n0a n0c n1 n2]" {
			t.Fatalf("order %v", ids)
		}
		if e := es[2]; !e.Callback || e.Node != "x" || !e.EnqueuedAt.Equal(t0) || !e.Expires.Equal(exp) || e.Queue != "q" || e.Seq != 8 {
			t.Fatalf("entry round trip %+v", e)
		}
		// Replace, remove (twice), and the expired entry is gone for good.
		put(routing.Entry{ID: "n2", Queue: "q", Node: "x", Priority: 1, EnqueuedAt: t0.Add(2 * time.Second), Expires: exp})
		must(t, s.RemoveEntry(ctx, "q", "n1"))
		must(t, s.RemoveEntry(ctx, "q", "n1"))
		es, err = s.Entries(ctx, "q", t0)
		must(t, err)
		ids = ids[:0]
		for _, e := range es {
			ids = append(ids, e.ID)
		}
		if fmt.Sprint(ids) != "[n2 u1 n0b n0a n0c]" {
			t.Fatalf("after replace/remove: %v", ids)
		}
		if es, _ := s.Entries(ctx, "empty", t0); len(es) != 0 {
			t.Fatalf("empty queue: %v", es)
		}
	})

	t.Run("SubscribeSeesChanges", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		ch := s.Subscribe(sctx) // active when it returns
		must(t, s.PutEntry(ctx, routing.Entry{ID: "x", Queue: "q", EnqueuedAt: t0, Expires: t0.Add(time.Hour)}))
		select {
		case <-ch:
		case <-sctx.Done():
			t.Fatal("no change notification")
		}
		must(t, s.InitAgents(ctx, []string{"a"}, t0))
		cur, _ := s.Agent(ctx, "a")
		cur.State = routing.Ready
		_, err := s.Swap(ctx, cur)
		must(t, err)
		select {
		case <-ch:
		case <-sctx.Done():
			t.Fatal("no change notification after swap")
		}
	})
}

func sameRecord(a, b routing.AgentRecord) bool {
	return a.ID == b.ID && a.State == b.State && a.Reason == b.Reason && a.Call == b.Call && a.Queue == b.Queue &&
		a.Node == b.Node && a.Since.Equal(b.Since) && a.IdleSince.Equal(b.IdleSince) && a.Until.Equal(b.Until) && a.Version == b.Version
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
