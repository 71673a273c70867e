package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careline/careline/internal/testenv"
	"github.com/careline/careline/store"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// receiver is a real HTTP receiver that verifies signatures and counts ids.
type receiver struct {
	t    *testing.T
	key  []byte
	srv  *httptest.Server
	down atomic.Bool
	mu   sync.Mutex
	got  map[string]int
	body map[string]Body
	bad  int
}

func newReceiver(t *testing.T) *receiver {
	key, _ := ParseSecret(testSecret)
	r := &receiver{t: t, key: key, got: map[string]int{}, body: map[string]Body{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := Verify(r.key, req.Header, b, time.Now(), 5*time.Minute); err != nil {
			r.bad++
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var body Body
		if err := json.Unmarshal(b, &body); err != nil {
			r.bad++
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id := req.Header.Get(HeaderID)
		r.got[id]++
		r.body[id] = body
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) byType() map[string][]Body {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]Body{}
	for _, b := range r.body {
		out[b.Type] = append(out[b.Type], b)
	}
	return out
}

func (r *receiver) count() (distinct, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.got {
		distinct++
		total += n
	}
	return distinct, total
}

func waitFor(t *testing.T, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// seedAttempt creates a campaign contact and one dial attempt (its id is the
// interaction id of the attempt's events).
func seedAttempt(t *testing.T, pool *pgxpool.Pool, campaign, patient string) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	_, err := pool.Exec(ctx, `INSERT INTO campaigns (name, purpose) VALUES ($1, 'appointment') ON CONFLICT DO NOTHING`, campaign)
	if err != nil {
		t.Fatal(err)
	}
	var cid int64
	err = pool.QueryRow(ctx, `INSERT INTO campaign_contacts (campaign, patient_ref, phone, language, time_zones, tz_source,
		fields, appointment_at, dedupe_key) VALUES ($1, $2, '+13125550100', 'es', '{America/Chicago}', 'record',
		'{"provider": "Dr. Ruiz", "location": "Main St", "rx": "1234567"}', '2026-12-09T15:30:00Z', $2) RETURNING id`,
		campaign, patient).Scan(&cid)
	if err != nil {
		t.Fatal(err)
	}
	id := store.NewID()
	_, err = pool.Exec(ctx, `INSERT INTO contact_attempts (id, contact_id, campaign, phone, attempt_no, node, lease_until,
		started_at, local_date) VALUES ($1, $2, $3, '+13125550100', 1, 'n1', now(), now(), current_date)`, id, cid, campaign)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func migrated(t testing.TB) *pgxpool.Pool {
	pool := testenv.Postgres(t)
	if _, err := store.Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	return pool
}

func endpoint(t testing.TB, url string, fields ...string) *Endpoint {
	key, err := ParseSecret(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return &Endpoint{Name: "pms", URL: url, Key: key, Events: Types(), Fields: fields, Timeout: 2 * time.Second}
}

func openLog(t testing.TB, dir string, pool *pgxpool.Pool, eps []*Endpoint) *store.Log {
	l, err := store.Open(store.Options{Dir: dir, Pool: pool, Projectors: []store.Projector{Projector(eps, nil)},
		RetryMax: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	l.Start(context.Background())
	return l
}

func drainLog(t testing.TB, l *store.Log) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := l.Drain(ctx); err != nil {
		t.Fatal(err)
	}
}

// Events from the interaction log reach a receiver that is down for a while, each once
// by id, signed; an opt-out logged twice for one call is one webhook; a replayed outbox
// inserts nothing twice; payloads carry the patient reference and only the listed
// fields.
func TestDeliveriesSurviveAReceiverOutageAndArriveOnceByID(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	rcv := newReceiver(t)
	rcv.down.Store(true)
	eps := []*Endpoint{endpoint(t, rcv.srv.URL, "appointment_at", "provider")}
	dir := t.TempDir()
	l := openLog(t, dir, pool, eps)

	attempt := seedAttempt(t, pool, "appts", "MRN-1")
	inbound := store.NewID()
	t0 := time.Now().Add(-time.Minute)
	t1 := t0.Add(90 * time.Second)
	events := []store.Event{
		{InteractionID: attempt, Type: "appointment.cancelled", Detail: map[string]any{"flow": "appt", "node": "cancel", "value": "len:1"}},
		{InteractionID: attempt, Type: "dialer.opt_out", Detail: map[string]any{"flow": "appt", "node": "stop"}},
		{InteractionID: attempt, Type: "dialer.opt_out", Detail: map[string]any{"campaign": "appts", "source": "ivr_key"}},
		{InteractionID: inbound, Type: "call.started", Interaction: &store.InteractionPatch{Kind: "call", Direction: "inbound",
			StartedAt: &t0, RemoteParty: "+13125550111"}},
		{InteractionID: inbound, Type: "queue.callback", Detail: map[string]any{"queue": "pharmacy", "why": "patient", "position": 2}},
		{InteractionID: inbound, Type: "call.ended", Interaction: &store.InteractionPatch{EndedAt: &t1, Queue: "pharmacy",
			AgentID: "1001", Disposition: "resolved", EndReason: "caller_hangup"}},
		{InteractionID: inbound, Type: "ivr.node_exit", Detail: map[string]any{"node": "x"}}, // not a webhook
	}
	for i := range events {
		events[i].ID = store.NewID()
		if err := l.Append(events[i]); err != nil {
			t.Fatal(err)
		}
	}
	drainLog(t, l)
	// Rows are durable before any delivery: cancelled, one opt-out, callback, ended.
	var rows int
	_ = pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_deliveries`).Scan(&rows)
	if rows != 4 {
		t.Fatalf("%d delivery rows, want 4", rows)
	}

	reg := prometheus.NewRegistry()
	d := NewDeliverer(pool, eps, Options{Poll: 20 * time.Millisecond, BackoffMin: 50 * time.Millisecond,
		BackoffMax: 200 * time.Millisecond, Metrics: NewMetrics(reg)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	waitFor(t, 5*time.Second, "failed attempts while the receiver is down", func() bool {
		return testutil.ToFloat64(d.m.attempts.WithLabelValues("pms", "failed")) >= 8
	})
	rcv.down.Store(false)
	waitFor(t, 10*time.Second, "4 deliveries", func() bool { n, _ := rcv.count(); return n == 4 })

	// The outbox replayed from the start (checkpoint lost) inserts nothing twice.
	l.Close()
	l2 := openLog(t, t.TempDir(), pool, eps)
	for _, ev := range events {
		if err := l2.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	drainLog(t, l2)
	l2.Close()
	time.Sleep(300 * time.Millisecond)
	distinct, total := rcv.count()
	if distinct != 4 || total != 4 || rcv.bad != 0 {
		t.Fatalf("receiver got %d ids, %d requests, %d bad; want 4, 4, 0", distinct, total, rcv.bad)
	}
	by := rcv.byType()
	c := by[AppointmentCancelled]
	if len(c) != 1 || c[0].Data.PatientRef != "MRN-1" || c[0].Data.Campaign != "appts" ||
		c[0].Data.Fields["provider"] != "Dr. Ruiz" || c[0].Data.Fields["appointment_at"] != "2026-12-09T15:30:00Z" {
		t.Fatalf("cancelled payload: %+v", c)
	}
	if _, ok := c[0].Data.Fields["rx"]; ok {
		t.Fatalf("unlisted field sent: %+v", c[0].Data.Fields)
	}
	if _, ok := c[0].Data.Fields["phone"]; ok || c[0].Data.Detail["value"] != nil {
		t.Fatalf("phone or digits sent: %+v", c[0].Data)
	}
	if len(by[OptOutRecorded]) != 1 || len(by[CallbackRequested]) != 1 {
		t.Fatalf("opt-outs %d, callbacks %d; want 1 each", len(by[OptOutRecorded]), len(by[CallbackRequested]))
	}
	s := by[InteractionEnded]
	if len(s) != 1 || s[0].Data.Summary == nil {
		t.Fatalf("interaction.ended: %+v", s)
	}
	sum := s[0].Data.Summary
	if sum.Queue != "pharmacy" || sum.Agent != "1001" || sum.Disposition != "resolved" || sum.TotalSeconds == nil ||
		*sum.TotalSeconds != 90 {
		t.Fatalf("summary %+v", sum)
	}
	raw, _ := json.Marshal(by)
	if strings.Contains(string(raw), "+1312") {
		t.Fatalf("a phone number reached the payload: %s", raw)
	}
	if got := testutil.ToFloat64(d.m.attempts.WithLabelValues("pms", "delivered")); got != 4 {
		t.Fatalf("delivered metric %v", got)
	}
	if n := testutil.CollectAndCount(d.m.latency); n != 1 {
		t.Fatalf("latency series %d", n)
	}
	cancel()
	<-done
}

// A delivery that keeps failing past its retry period is dead-lettered, listed, and
// delivered after a replay with the same webhook id.
func TestDeadLetterAndReplay(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	rcv := newReceiver(t)
	rcv.down.Store(true)
	eps := []*Endpoint{endpoint(t, rcv.srv.URL)}
	l := openLog(t, t.TempDir(), pool, eps)
	ev := store.Event{ID: store.NewID(), InteractionID: seedAttempt(t, pool, "refills", "MRN-2"), Type: "refill.requested"}
	if err := l.Append(ev); err != nil {
		t.Fatal(err)
	}
	drainLog(t, l)
	l.Close()
	d := NewDeliverer(pool, eps, Options{BackoffMin: 20 * time.Millisecond, BackoffMax: 40 * time.Millisecond,
		RetryFor: 300 * time.Millisecond})
	ctx := context.Background()
	var dead []DeadLetter
	waitFor(t, 10*time.Second, "a dead letter", func() bool {
		if _, err := d.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		var err error
		dead, err = DeadLetters(ctx, pool, "pms")
		if err != nil {
			t.Fatal(err)
		}
		return len(dead) == 1
	})
	if dead[0].WebhookID != ev.ID.String() || dead[0].LastStatus == nil || *dead[0].LastStatus != 503 ||
		dead[0].Attempts < 3 || strings.Contains(dead[0].LastError, "127.0.0.1") {
		t.Fatalf("dead letter %+v", dead[0])
	}
	// Dead rows are not claimed again.
	if n, _ := d.RunOnce(ctx); n != 0 {
		t.Fatalf("claimed %d dead rows", n)
	}
	rcv.down.Store(false)
	n, err := Replay(ctx, pool, "", nil, time.Now())
	if err != nil || n != 1 {
		t.Fatalf("replay: %d %v", n, err)
	}
	if _, err := d.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if rcv.got[ev.ID.String()] != 1 {
		t.Fatalf("after replay the receiver got %v", rcv.got)
	}
	if dead, _ = DeadLetters(ctx, pool, ""); len(dead) != 0 {
		t.Fatalf("still dead: %+v", dead)
	}
}

// A node that claimed a row and died (its POST never finished) leaves it due again
// after the lease; the late result of the first node cannot overwrite the second's.
func TestLeaseExpiryRedeliversAndFencesTheStaleClaim(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	release := make(chan struct{})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			<-release // the first node's request hangs
			http.Error(w, "late", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	defer close(release)
	eps := []*Endpoint{endpoint(t, srv.URL)}
	eps[0].Timeout = 5 * time.Second
	l := openLog(t, t.TempDir(), pool, eps)
	if err := l.Append(store.Event{InteractionID: store.NewID(), Type: "voicemail.saved",
		Detail: map[string]any{"box": "pharmacy", "recording": "r-1"}}); err != nil {
		t.Fatal(err)
	}
	drainLog(t, l)
	l.Close()
	now := time.Now()
	clockA := func() time.Time { return now }
	a := NewDeliverer(pool, eps, Options{Lease: time.Second, Now: clockA})
	aDone := make(chan struct{})
	go func() { _, _ = a.RunOnce(context.Background()); close(aDone) }()
	waitFor(t, 5*time.Second, "the first claim", func() bool { return calls.Load() == 1 })
	later := now.Add(11 * time.Second) // past the lease (timeout + 5 s)
	b := NewDeliverer(pool, eps, Options{Lease: time.Second, Now: func() time.Time { return later }})
	if n, err := b.RunOnce(context.Background()); n != 1 || err != nil {
		t.Fatalf("second node claimed %d: %v", n, err)
	}
	release <- struct{}{}
	<-aDone
	var state string
	_ = pool.QueryRow(context.Background(), `SELECT state FROM webhook_deliveries`).Scan(&state)
	if state != "delivered" {
		t.Fatalf("state %s after the stale claim's failure; want delivered", state)
	}
}
