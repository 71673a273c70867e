package routing_test

import (
	"context"
	"testing"
	"time"

	"github.com/careline/careline/internal/testenv"
	"github.com/careline/careline/routing"
	"github.com/careline/careline/store"
	"github.com/google/uuid"
)

// The projector runs inside the real shipper against a private database.
func TestAgentStateProjector(t *testing.T) {
	t.Parallel()
	pool := testenv.Postgres(t)
	l, err := store.Open(store.Options{Dir: t.TempDir(), Pool: pool, Projectors: []store.Projector{routing.AgentStateProjector{}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l.Start(ctx)
	defer l.Close()

	// Drive a router against the real log: login, offer, answer, hang up.
	h := newHarness(t, coordinators[:1], routing.WithEventLog(l))
	h.login("a1")
	c := h.enqueue("coord")
	h.expectOffer("a1", c).answer()
	until[routing.Connected](t, c)
	if err := c.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(store.Event{Type: "queue.other", At: t0}); err != nil { // ignored by the projector
		t.Fatal(err)
	}
	if err := l.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, `SELECT agent_id, from_state, to_state, reason, queue, interaction_id, at
		FROM agent_state_changes ORDER BY at, event_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var agent, from, to, reason, queue string
		var iid *uuid.UUID
		var at time.Time
		if err := rows.Scan(&agent, &from, &to, &reason, &queue, &iid, &at); err != nil {
			t.Fatal(err)
		}
		call := "-"
		if iid != nil {
			call = "call"
			if *iid != c.ID {
				t.Errorf("interaction %s, want %s", iid, c.ID)
			}
		}
		if !at.Equal(t0) {
			t.Errorf("at %s", at)
		}
		got = append(got, agent+":"+from+">"+to+"/"+reason+"@"+queue+"#"+call)
	}
	want := []string{"a1:logged_out>ready/login@#-", "a1:ready>offered/@coord#call", "a1:offered>on_call/answered@coord#call",
		"a1:on_call>wrap_up/call_ended@coord#call"}
	if len(got) != len(want) {
		t.Fatalf("rows %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row %d: %s, want %s (all %v)", i, got[i], want[i], got)
		}
	}
}

// A restart in miniature: one router accepts two callbacks and finishes one; the
// interaction log (real shipper, real PostgreSQL) then lists the other as pending with
// its number and place, and a second router places it.
func TestPendingCallbacksSurviveRestart(t *testing.T) {
	t.Parallel()
	pool := testenv.Postgres(t)
	l, err := store.Open(store.Options{Dir: t.TempDir(), Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l.Start(ctx)
	defer l.Close()

	h, cb, _, _ := callbackHarness(t, coordinators[:1], routing.WithEventLog(l))
	a := h.enqueue("coord")
	h.advance(time.Second)
	b := h.enqueue("coord", spanish)
	if err := a.RequestCallback(h.ctx, "+15555550131"); err != nil {
		t.Fatal(err)
	}
	if err := b.RequestCallback(h.ctx, "+15555550132"); err != nil {
		t.Fatal(err)
	}
	h.login("a1")
	first := cb.next(t)
	if first.For != a.ID {
		t.Fatalf("first callback for %s, want a", first.For)
	}
	first.connect()
	if err := l.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	var pending []routing.PendingCallback
	for deadline := time.Now().Add(10 * time.Second); ; {
		if pending, err = routing.PendingCallbacks(ctx, pool, t0.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		if len(pending) == 1 || time.Now().After(deadline) {
			break
		}
		_ = l.Drain(ctx)
	}
	if len(pending) != 1 {
		t.Fatalf("pending callbacks %+v, want only b's", pending)
	}
	p := pending[0]
	if p.InteractionID != b.ID || p.Number != "+15555550132" || p.Queue != "coord" || p.Language != "es" ||
		!p.EnqueuedAt.Equal(t0.Add(time.Second)) || !p.Expires.After(t0) {
		t.Fatalf("pending %+v", p)
	}

	// The next run of the node.
	h2, cb2, _, _ := callbackHarness(t, coordinators[:1])
	if err := h2.r.RestoreCallback(h2.ctx, p); err != nil {
		t.Fatal(err)
	}
	h2.login("a1")
	if req := cb2.next(t); req.For != b.ID || req.Number != "+15555550132" {
		t.Fatalf("restored callback placed as %+v", req.CallbackRequest)
	}
}
