package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/careline/careline/internal/testenv"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func countRows(t *testing.T, pool *pgxpool.Pool, q string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func drain(t *testing.T, l *Log, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := l.Drain(ctx); err != nil {
		t.Fatalf("drain: %v (health %+v)", err, l.Health())
	}
}

// Issue test 1: 10,000 events appended while PostgreSQL is stopped all arrive exactly
// once after it starts.
func TestEventsAppendedWhilePostgresDownArriveExactlyOnce(t *testing.T) {
	t.Parallel()
	pg := testenv.NewPGCluster(t)
	pg.Stop()

	pool, err := pgxpool.New(context.Background(), pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	dir := t.TempDir()
	l := openTest(t, dir, func(o *Options) { o.Pool = pool; o.RetryMax = 100 * time.Millisecond })
	l.Start(context.Background())

	const n = 10000
	iid := NewID()
	for i := range n {
		ev := Event{InteractionID: iid, Type: "test.outage", Detail: map[string]any{"i": i}}
		if i == 0 {
			now := time.Now()
			ev.Interaction = &InteractionPatch{Kind: "call", Direction: "inbound", StartedAt: &now}
		}
		if err := l.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	if l.Backlog() != n {
		t.Fatalf("backlog %d want %d", l.Backlog(), n)
	}
	waitFor(t, 10*time.Second, func() bool { return l.Health().Postgres == "down" })
	if h := l.Health(); !h.Writable || h.Backlog != n {
		t.Fatalf("health while down: %+v", h)
	}

	pg.Start()
	drain(t, l, 60*time.Second)
	if got := countRows(t, pool, "SELECT count(*) FROM interaction_events WHERE type='test.outage'"); got != n {
		t.Fatalf("rows %d want %d", got, n)
	}
	if got := countRows(t, pool, "SELECT count(DISTINCT (detail->>'i')::int) FROM interaction_events"); got != n {
		t.Fatalf("distinct events %d want %d", got, n)
	}
	if got := countRows(t, pool, "SELECT count(*) FROM interactions WHERE id=$1 AND direction='inbound'", iid); got != 1 {
		t.Fatalf("interaction row missing")
	}

	// A replay from scratch (checkpoint lost) inserts nothing twice.
	l.Close()
	os.Remove(filepath.Join(dir, "checkpoint"))
	l2 := openTest(t, dir, func(o *Options) { o.Pool = pool })
	l2.Start(context.Background())
	drain(t, l2, 60*time.Second)
	if got := countRows(t, pool, "SELECT count(*) FROM interaction_events"); got != n {
		t.Fatalf("after replay rows %d want %d", got, n)
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestHelperWriterProcess is the child for the SIGKILL test: it appends events forever
// and prints each id once Append has returned (acknowledged to the caller).
func TestHelperWriterProcess(t *testing.T) {
	dir := os.Getenv("CARELINE_OUTBOX_WRITER_DIR")
	if dir == "" {
		return // only runs as a child of TestKilledWriterLosesNoAcknowledgedEvent
	}
	l, err := Open(Options{Dir: dir, SegmentSize: 1 << 18})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	w := bufio.NewWriterSize(os.Stdout, 0)
	for i := 0; ; i++ {
		id := NewID()
		if err := l.Append(Event{ID: id, Type: "test.kill", Detail: map[string]any{"i": i}}); err != nil {
			fmt.Println("ERR", err)
			os.Exit(2)
		}
		fmt.Fprintf(w, "%s\n", id)
	}
}

// Issue test 2: a writer killed with SIGKILL mid-append loses no acknowledged event,
// and each arrives in Postgres exactly once.
func TestKilledWriterLosesNoAcknowledgedEvent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriterProcess$", "-test.v=false")
	cmd.Env = append(os.Environ(), "CARELINE_OUTBOX_WRITER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []uuid.UUID
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "ERR") {
			t.Fatalf("writer: %s", line)
		}
		id, err := uuid.Parse(line)
		if err != nil {
			continue // a torn stdout line at the kill
		}
		acked = append(acked, id)
		if len(acked) == 20000 {
			cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	cmd.Wait()
	if len(acked) < 20000 {
		t.Fatalf("writer acknowledged only %d events", len(acked))
	}

	pool := testenv.Postgres(t)
	l := openTest(t, dir, func(o *Options) { o.Pool = pool })
	l.Start(context.Background())
	drain(t, l, 60*time.Second)
	ctx := context.Background()
	total := countRows(t, pool, "SELECT count(*) FROM interaction_events")
	if int64(total) < int64(len(acked)) {
		t.Fatalf("postgres has %d events, writer acknowledged %d", total, len(acked))
	}
	ids := make([]string, len(acked))
	for i, id := range acked {
		ids[i] = id.String()
	}
	var found int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM interaction_events WHERE id = ANY($1::uuid[])", ids).Scan(&found); err != nil {
		t.Fatal(err)
	}
	if found != len(acked) {
		t.Fatalf("%d of %d acknowledged events are in postgres", found, len(acked))
	}
	t.Logf("acknowledged %d, stored %d (the difference was written but not yet printed at the kill), torn tails %d",
		len(acked), total, len(l.TornTails()))
}

type countingProjector struct{ n atomic.Int64 }

func (p *countingProjector) Name() string { return "counting" }
func (p *countingProjector) Project(ctx context.Context, tx pgx.Tx, evs []Event) error {
	p.n.Add(int64(len(evs)))
	return nil
}

func TestInteractionPatchesAndProjectorsApplyOnce(t *testing.T) {
	t.Parallel()
	pool := testenv.Postgres(t)
	dir := t.TempDir()
	proj := &countingProjector{}
	l := openTest(t, dir, func(o *Options) { o.Pool = pool; o.Projectors = []Projector{proj} })
	l.Start(context.Background())
	iid := NewID()
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	t1, t2 := t0.Add(5*time.Second), t0.Add(90*time.Second)
	evs := []Event{
		{InteractionID: iid, Type: "call.started", Interaction: &InteractionPatch{Kind: "call", Direction: "inbound", StartedAt: &t0, DID: "9999", RemoteParty: "+15055550143"}},
		{InteractionID: iid, Type: "ivr.language", Interaction: &InteractionPatch{Language: "es"}},
		{InteractionID: iid, Type: "call.answered", Interaction: &InteractionPatch{AnsweredAt: &t1}},
		{InteractionID: iid, Type: "call.ended", Interaction: &InteractionPatch{EndedAt: &t2, EndReason: "remote_bye"}},
	}
	for _, ev := range evs {
		if err := l.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	drain(t, l, 30*time.Second)
	var dir2, lang, reason, did string
	var st, an, en time.Time
	err := pool.QueryRow(context.Background(), `SELECT direction, language, end_reason, did, started_at, answered_at, ended_at
		FROM interactions WHERE id=$1`, iid).Scan(&dir2, &lang, &reason, &did, &st, &an, &en)
	if err != nil {
		t.Fatal(err)
	}
	if dir2 != "inbound" || lang != "es" || reason != "remote_bye" || did != "9999" || !st.Equal(t0) || !an.Equal(t1) || !en.Equal(t2) {
		t.Fatalf("interaction row: %s %s %s %s %v %v %v", dir2, lang, reason, did, st, an, en)
	}
	if proj.n.Load() != 4 {
		t.Fatalf("projector saw %d events", proj.n.Load())
	}
	// Replay everything: the projector must not see the events again.
	l.Close()
	os.Remove(filepath.Join(dir, "checkpoint"))
	l2 := openTest(t, dir, func(o *Options) { o.Pool = pool; o.Projectors = []Projector{proj} })
	l2.Start(context.Background())
	drain(t, l2, 30*time.Second)
	if proj.n.Load() != 4 {
		t.Fatalf("projector re-applied on replay: %d", proj.n.Load())
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	pool := testenv.Postgres(t)
	ctx := context.Background()
	first, err := Migrate(ctx, pool)
	if err != nil || len(first) == 0 {
		t.Fatalf("first migrate: %v %v", first, err)
	}
	again, err := Migrate(ctx, pool)
	if err != nil || len(again) != 0 {
		t.Fatalf("second migrate applied %v, err %v", again, err)
	}
}
