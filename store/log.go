package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// Projector turns newly stored events into rows of other tables (agent state changes,
// dial attempts, ...) inside the shipper's transaction. It sees each event exactly once:
// only events whose insert into interaction_events was new.
type Projector interface {
	Name() string
	Project(ctx context.Context, tx pgx.Tx, events []Event) error
}

// Options configures Open.
type Options struct {
	Dir           string
	SegmentSize   int64
	MaxBytes      int64
	FsyncBatch    int
	FsyncInterval time.Duration
	ShipBatch     int
	// Pool is the Postgres pool to ship to; nil keeps everything in the outbox.
	Pool       *pgxpool.Pool
	Projectors []Projector
	Logger     *slog.Logger
	Metrics    *Metrics
	// RetryMax caps the shipper's backoff while Postgres is unreachable (default 5s).
	RetryMax time.Duration
	// Now stamps events appended without a time (default time.Now).
	Now func() time.Time
}

// Log is the interaction log: a local durable outbox shipped to Postgres.
type Log struct {
	opts    Options
	ob      *outbox
	log     *slog.Logger
	m       *Metrics
	torn    []TornTail
	shipped atomic.Int64
	wake    chan struct{}

	pgState   atomic.Value // string: up, down, not configured, starting
	lastErr   atomic.Value // string
	writable  atomic.Bool
	shipDone  chan struct{}
	cancel    context.CancelFunc
	closeOnce sync.Once
	migrated  bool
}

// Open opens the outbox (repairing a torn tail), counts what is not yet shipped, and
// starts the flusher. Call Start to begin shipping.
func Open(opts Options) (*Log, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.SegmentSize == 0 {
		opts.SegmentSize = 16 << 20
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = 2 << 30
	}
	if opts.FsyncBatch == 0 {
		opts.FsyncBatch = 512
	}
	if opts.FsyncInterval == 0 {
		opts.FsyncInterval = 10 * time.Millisecond
	}
	if opts.ShipBatch == 0 {
		opts.ShipBatch = 1000
	}
	if opts.RetryMax == 0 {
		opts.RetryMax = 5 * time.Second
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ob, torn, err := openOutbox(outboxOptions{Dir: opts.Dir, SegmentSize: opts.SegmentSize, MaxBytes: opts.MaxBytes,
		FsyncBatch: opts.FsyncBatch, FsyncInterval: opts.FsyncInterval, Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	l := &Log{opts: opts, ob: ob, log: opts.Logger, m: opts.Metrics, torn: torn,
		wake: make(chan struct{}, 1), shipDone: make(chan struct{})}
	l.writable.Store(true)
	l.lastErr.Store("")
	if opts.Pool == nil {
		l.pgState.Store("not configured")
	} else {
		l.pgState.Store("starting")
	}
	for _, t := range torn {
		l.m.tornTails.Inc()
		l.log.Warn("outbox: torn tail found and set aside; intact records kept",
			"segment", t.Segment, "offset", t.Offset, "bytes", t.Bytes, "reason", t.Reason)
	}
	start, err := l.loadCheckpoint()
	if err != nil {
		ob.close()
		return nil, err
	}
	n, err := l.countFrom(start)
	if err != nil {
		ob.close()
		return nil, err
	}
	ob.appended.Store(n)
	ob.notify = l.kick
	l.updateBacklog()
	if n > 0 {
		l.log.Info("outbox: unshipped events found; they will be replayed", "events", n)
	}
	return l, nil
}

// TornTails reports what Open found unusable at the end of the outbox.
func (l *Log) TornTails() []TornTail { return l.torn }

// Append records ev without waiting on Postgres. It assigns ev.ID (UUIDv7) and ev.At
// when unset. When Append returns nil the event survives a crash of this process.
func (l *Log) Append(ev Event) error {
	if ev.ID == [16]byte{} {
		ev.ID = NewID()
	}
	if ev.At.IsZero() {
		ev.At = l.opts.Now()
	}
	ev.Type = cleanText(ev.Type)
	b, err := encodeEvent(&ev)
	if err != nil {
		l.m.appendErrors.Inc()
		return err
	}
	if err := l.ob.append(b); err != nil {
		l.m.appendErrors.Inc()
		if !errors.Is(err, ErrOutboxFull) && !errors.Is(err, ErrClosed) {
			l.writable.Store(false)
			l.lastErr.Store(err.Error())
		}
		return err
	}
	l.writable.Store(true)
	l.m.appended.Inc()
	l.updateBacklog()
	return nil
}

// Sync waits until every event appended before the call is fsynced to disk.
func (l *Log) Sync(ctx context.Context) error { return l.ob.waitDurable(ctx.Done()) }

// Backlog returns the number of events not yet shipped to Postgres.
func (l *Log) Backlog() int64 { return l.ob.appended.Load() - l.shipped.Load() }

func (l *Log) updateBacklog() { l.m.backlog.Set(float64(l.Backlog())) }

func (l *Log) kick() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Health describes the log for /readyz.
type Health struct {
	Writable  bool   `json:"writable"`
	Postgres  string `json:"postgres"` // up, down, starting, not configured
	Backlog   int64  `json:"backlog"`
	LastError string `json:"last_error,omitempty"`
}

// Health reports the log's state.
func (l *Log) Health() Health {
	return Health{Writable: l.writable.Load(), Postgres: l.pgState.Load().(string), Backlog: l.Backlog(),
		LastError: l.lastErr.Load().(string)}
}

// Start runs the shipper until Close or ctx ends.
func (l *Log) Start(ctx context.Context) {
	ctx, l.cancel = context.WithCancel(ctx)
	if l.opts.Pool == nil {
		close(l.shipDone)
		return
	}
	go l.shipLoop(ctx)
}

// Drain waits (up to ctx) until the backlog is shipped. It is used on shutdown and by
// tests; with Postgres down it returns ctx's error.
func (l *Log) Drain(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for l.Backlog() > 0 {
		l.kick()
		select {
		case <-ctx.Done():
			return fmt.Errorf("store: drain with %d events left: %w", l.Backlog(), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Close stops the shipper and flushes the outbox to disk.
func (l *Log) Close() error {
	var err error
	l.closeOnce.Do(func() {
		if l.cancel != nil {
			l.cancel()
			<-l.shipDone
		}
		err = l.ob.close()
	})
	return err
}

// ---- shipper ----

func (l *Log) checkpointPath() string { return filepath.Join(l.opts.Dir, "checkpoint") }

func (l *Log) loadCheckpoint() (position, error) {
	b, err := os.ReadFile(l.checkpointPath())
	if errors.Is(err, os.ErrNotExist) {
		ids, err := listSegments(l.opts.Dir)
		if err != nil || len(ids) == 0 {
			return position{}, err
		}
		return position{Seg: ids[0]}, nil
	}
	if err != nil {
		return position{}, fmt.Errorf("store: read checkpoint: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return position{}, fmt.Errorf("store: corrupt checkpoint %q", string(b))
	}
	seg, err1 := strconv.ParseUint(f[0], 10, 64)
	off, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return position{}, fmt.Errorf("store: corrupt checkpoint %q", string(b))
	}
	return position{Seg: seg, Off: off}, nil
}

func (l *Log) saveCheckpoint(p position) error {
	tmp := l.checkpointPath() + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("store: write checkpoint: %w", err)
	}
	if _, err := fmt.Fprintf(f, "%d %d\n", p.Seg, p.Off); err != nil {
		f.Close()
		return fmt.Errorf("store: write checkpoint: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("store: sync checkpoint: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("store: close checkpoint: %w", err)
	}
	if err := os.Rename(tmp, l.checkpointPath()); err != nil {
		return fmt.Errorf("store: rename checkpoint: %w", err)
	}
	return nil
}

// countFrom counts records from p to the end of the outbox.
func (l *Log) countFrom(p position) (int64, error) {
	var n int64
	for {
		recs, next, _, err := l.readBatch(p, 1<<30, true)
		if err != nil {
			return 0, err
		}
		n += int64(len(recs))
		if next == p {
			return n, nil
		}
		p = next
	}
}

// readBatch reads up to max events from p, never past the published end. It moves to
// the next segment when a sealed one is exhausted. With countOnly it returns nil events
// of the right length. It also returns the segments it finished.
func (l *Log) readBatch(p position, max int, countOnly bool) ([]shipEvent, position, []uint64, error) {
	var out []shipEvent
	var finished []uint64
	end := *l.ob.end.Load()
	for len(out) < max {
		if end.less(p) || p == end {
			break
		}
		path := filepath.Join(l.opts.Dir, segName(p.Seg))
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			nxt, ok, err := l.nextSegment(p.Seg)
			if err != nil || !ok {
				return out, p, finished, err
			}
			p = position{Seg: nxt}
			continue
		}
		if err != nil {
			return out, p, finished, fmt.Errorf("store: open segment for shipping: %w", err)
		}
		size := end.Off
		if p.Seg < end.Seg {
			st, err := f.Stat()
			if err != nil {
				f.Close()
				return out, p, finished, fmt.Errorf("store: stat segment: %w", err)
			}
			size = st.Size()
		}
		r := &segReader{f: f}
		for len(out) < max && p.Off < size {
			payload, n, err := r.readAt(p.Off, size)
			if err != nil {
				// Corruption inside a sealed segment (not a torn tail, which Open repairs):
				// keep the bytes aside, report, and go on with the next segment.
				aside := fmt.Sprintf("%s.corrupt-%d", path, p.Off)
				_ = copyTail(f, p.Off, aside)
				l.m.tornTails.Inc()
				l.log.Error("outbox: corrupt record; rest of segment set aside", "segment", segName(p.Seg),
					"offset", p.Off, "kept_as", filepath.Base(aside), "reason", err.Error())
				p.Off = size
				break
			}
			if countOnly {
				out = append(out, shipEvent{})
			} else {
				ev, err := decodeShipEvent(payload)
				if err != nil {
					l.deadLetter(payload, err)
				} else {
					out = append(out, ev)
				}
			}
			p.Off += n
		}
		f.Close()
		if p.Off >= size && p.Seg < end.Seg {
			finished = append(finished, p.Seg)
			nxt, ok, err := l.nextSegment(p.Seg)
			if err != nil {
				return out, p, finished, err
			}
			if !ok {
				break
			}
			p = position{Seg: nxt}
			continue
		}
		if p.Seg == end.Seg {
			break
		}
	}
	return out, p, finished, nil
}

func (l *Log) nextSegment(after uint64) (uint64, bool, error) {
	ids, err := listSegments(l.opts.Dir)
	if err != nil {
		return 0, false, err
	}
	for _, id := range ids {
		if id > after {
			return id, true, nil
		}
	}
	return 0, false, nil
}

func (l *Log) deadLetter(payload []byte, cause error) {
	l.m.deadLettered.Inc()
	l.log.Error("outbox: event cannot be stored; kept in deadletter file", "reason", cause.Error())
	f, err := os.OpenFile(filepath.Join(l.opts.Dir, "deadletter.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		l.log.Error("outbox: cannot open deadletter file", "err", err)
		return
	}
	defer f.Close()
	_, _ = f.Write(append(append([]byte(nil), payload...), '\n'))
	_ = f.Sync()
}

func (l *Log) setDown(err error) {
	if l.pgState.Load() != "down" {
		l.log.Warn("postgres unavailable; events stay in the outbox", "err", err.Error())
	}
	l.pgState.Store("down")
	l.lastErr.Store(err.Error())
	l.m.pgUp.Set(0)
	l.m.shipErrors.Inc()
}

func (l *Log) setUp() {
	if l.pgState.Load() != "up" {
		l.log.Info("postgres reachable; shipping events", "backlog", l.Backlog())
	}
	l.pgState.Store("up")
	l.m.pgUp.Set(1)
}

func (l *Log) shipLoop(ctx context.Context) {
	defer close(l.shipDone)
	pos, err := l.loadCheckpoint()
	if err != nil {
		l.log.Error("outbox: cannot read checkpoint; replaying from the first segment", "err", err)
		pos = position{}
	}
	backoff := 50 * time.Millisecond
	idle := time.NewTicker(time.Second)
	defer idle.Stop()
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	for ctx.Err() == nil {
		if !l.migrated {
			mctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, err := Migrate(mctx, l.opts.Pool)
			cancel()
			if err != nil {
				l.setDown(err)
				if !wait(backoff) {
					return
				}
				backoff = min(backoff*2, l.opts.RetryMax)
				continue
			}
			l.migrated = true
		}
		events, next, finished, err := l.readBatch(pos, l.opts.ShipBatch, false)
		if err != nil {
			l.log.Error("outbox: read failed", "err", err)
			if !wait(time.Second) {
				return
			}
			continue
		}
		if len(events) > 0 {
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := l.insert(sctx, events)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				l.setDown(err)
				if !wait(backoff) {
					return
				}
				backoff = min(backoff*2, l.opts.RetryMax)
				continue
			}
			l.setUp()
			backoff = 50 * time.Millisecond
		}
		if next != pos {
			l.shipped.Add(int64(len(events)))
			l.m.shipped.Add(float64(len(events)))
			if err := l.saveCheckpoint(next); err != nil {
				l.log.Error("outbox: checkpoint not saved (events may be re-sent; ids make that harmless)", "err", err)
			}
			for _, id := range finished {
				if err := l.ob.removeSegment(id); err != nil {
					l.log.Error("outbox: shipped segment not removed", "err", err)
				}
			}
			pos = next
			l.updateBacklog()
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		case <-idle.C:
		}
	}
}

// insert stores a batch in one transaction. A batch rejected for its data (not for the
// connection) is retried event by event so that one bad event is set aside, not the
// whole batch.
func (l *Log) insert(ctx context.Context, events []shipEvent) error {
	err := pgx.BeginFunc(ctx, l.opts.Pool, func(tx pgx.Tx) error { return l.insertTx(ctx, tx, events) })
	if err == nil || !isDataError(err) {
		return err
	}
	for _, ev := range events {
		one := []shipEvent{ev}
		if err := pgx.BeginFunc(ctx, l.opts.Pool, func(tx pgx.Tx) error { return l.insertTx(ctx, tx, one) }); err != nil {
			if !isDataError(err) {
				return err
			}
			b, _ := marshalClean(ev)
			l.deadLetter(b, err)
		}
	}
	return nil
}

func isDataError(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	class := pe.Code[:2]
	return class == "22" || class == "23" || class == "42"
}

func pgUUID(id [16]byte) pgtype.UUID { return pgtype.UUID{Bytes: id, Valid: id != [16]byte{}} }

func pgText(s string) pgtype.Text { return pgtype.Text{String: cleanText(s), Valid: s != ""} }

func pgTime(t *time.Time) pgtype.Timestamptz {
	if t == nil {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: *t, Valid: true}
}

func (l *Log) insertTx(ctx context.Context, tx pgx.Tx, events []shipEvent) error {
	n := len(events)
	ids, iids := make([]pgtype.UUID, n), make([]pgtype.UUID, n)
	types, details := make([]string, n), make([]string, n)
	ats := make([]time.Time, n)
	for i, ev := range events {
		ids[i], iids[i] = pgUUID(ev.ID), pgUUID(ev.InteractionID)
		types[i], ats[i] = cleanText(ev.Type), ev.At
		details[i] = "{}"
		if len(ev.Detail) > 0 && string(ev.Detail) != "null" {
			details[i] = string(ev.Detail)
		}
	}
	rows, err := tx.Query(ctx, `INSERT INTO interaction_events (id, interaction_id, type, at, detail)
		SELECT i, ii, t, a, d::jsonb FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::text[]) AS u(i, ii, t, a, d)
		ON CONFLICT (id) DO NOTHING RETURNING id`, ids, iids, types, ats, details)
	if err != nil {
		return fmt.Errorf("store: insert events: %w", err)
	}
	fresh := map[[16]byte]bool{}
	for rows.Next() {
		var id pgtype.UUID
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("store: insert events: %w", err)
		}
		fresh[id.Bytes] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: insert events: %w", err)
	}
	if len(fresh) == 0 {
		return nil
	}
	newEvents := make([]shipEvent, 0, len(fresh))
	for _, ev := range events {
		if fresh[ev.ID] {
			newEvents = append(newEvents, ev)
		}
	}
	if err := upsertInteractions(ctx, tx, newEvents); err != nil {
		return err
	}
	if len(l.opts.Projectors) == 0 {
		return nil
	}
	full := make([]Event, len(newEvents))
	for i, se := range newEvents {
		ev, err := se.event()
		if err != nil {
			return err
		}
		full[i] = ev
	}
	for _, p := range l.opts.Projectors {
		if err := p.Project(ctx, tx, full); err != nil {
			return fmt.Errorf("store: projector %s: %w", p.Name(), err)
		}
	}
	return nil
}

// upsertInteractions merges the patches of a batch per interaction (in event order)
// and upserts them: start/answer/end keep the first value seen; other fields the last.
func upsertInteractions(ctx context.Context, tx pgx.Tx, events []shipEvent) error {
	type agg struct {
		id [16]byte
		p  InteractionPatch
	}
	var order []*agg
	byID := map[[16]byte]*agg{}
	for _, ev := range events {
		if ev.Interaction == nil || ev.InteractionID == [16]byte{} {
			continue
		}
		a := byID[ev.InteractionID]
		if a == nil {
			a = &agg{id: ev.InteractionID}
			byID[ev.InteractionID] = a
			order = append(order, a)
		}
		mergePatch(&a.p, ev.Interaction)
	}
	if len(order) == 0 {
		return nil
	}
	n := len(order)
	ids := make([]pgtype.UUID, n)
	cols := make([][]pgtype.Text, 13)
	for i := range cols {
		cols[i] = make([]pgtype.Text, n)
	}
	st, an, en := make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
	for i, a := range order {
		p := a.p
		ids[i] = pgUUID(a.id)
		for j, v := range []string{p.Kind, p.Direction, p.EndReason, p.Language, p.Queue, p.AgentID, p.Disposition,
			p.DID, p.Trunk, p.RemoteParty, p.Campaign, p.RecordingID, p.CallbackNumber} {
			cols[j][i] = pgText(v)
		}
		st[i], an[i], en[i] = pgTime(p.StartedAt), pgTime(p.AnsweredAt), pgTime(p.EndedAt)
	}
	_, err := tx.Exec(ctx, `INSERT INTO interactions (id, kind, direction, end_reason, language, queue, agent_id,
			disposition, did, trunk, remote_party, campaign, recording_id, callback_number, started_at, answered_at, ended_at)
		SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::timestamptz[],
			$16::timestamptz[], $17::timestamptz[])
		ON CONFLICT (id) DO UPDATE SET
			kind = COALESCE(EXCLUDED.kind, interactions.kind),
			direction = COALESCE(EXCLUDED.direction, interactions.direction),
			end_reason = COALESCE(EXCLUDED.end_reason, interactions.end_reason),
			language = COALESCE(EXCLUDED.language, interactions.language),
			queue = COALESCE(EXCLUDED.queue, interactions.queue),
			agent_id = COALESCE(EXCLUDED.agent_id, interactions.agent_id),
			disposition = COALESCE(EXCLUDED.disposition, interactions.disposition),
			did = COALESCE(EXCLUDED.did, interactions.did),
			trunk = COALESCE(EXCLUDED.trunk, interactions.trunk),
			remote_party = COALESCE(EXCLUDED.remote_party, interactions.remote_party),
			campaign = COALESCE(EXCLUDED.campaign, interactions.campaign),
			recording_id = COALESCE(EXCLUDED.recording_id, interactions.recording_id),
			callback_number = COALESCE(EXCLUDED.callback_number, interactions.callback_number),
			started_at = COALESCE(interactions.started_at, EXCLUDED.started_at),
			answered_at = COALESCE(interactions.answered_at, EXCLUDED.answered_at),
			ended_at = COALESCE(interactions.ended_at, EXCLUDED.ended_at),
			updated_at = now()`,
		ids, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], cols[8], cols[9], cols[10], cols[11], cols[12],
		st, an, en)
	if err != nil {
		return fmt.Errorf("store: upsert interactions: %w", err)
	}
	return nil
}

func mergePatch(dst, src *InteractionPatch) {
	setS := func(d *string, s string) {
		if s != "" {
			*d = s
		}
	}
	setT := func(d **time.Time, s *time.Time) {
		if *d == nil && s != nil {
			*d = s
		}
	}
	setS(&dst.Kind, src.Kind)
	setS(&dst.Direction, src.Direction)
	setS(&dst.EndReason, src.EndReason)
	setS(&dst.Language, src.Language)
	setS(&dst.Queue, src.Queue)
	setS(&dst.AgentID, src.AgentID)
	setS(&dst.Disposition, src.Disposition)
	setS(&dst.DID, src.DID)
	setS(&dst.Trunk, src.Trunk)
	setS(&dst.RemoteParty, src.RemoteParty)
	setS(&dst.Campaign, src.Campaign)
	setS(&dst.RecordingID, src.RecordingID)
	setS(&dst.CallbackNumber, src.CallbackNumber)
	setT(&dst.StartedAt, src.StartedAt)
	setT(&dst.AnsweredAt, src.AnsweredAt)
	setT(&dst.EndedAt, src.EndedAt)
}

// Metrics of the interaction log.
type Metrics struct {
	backlog      prometheus.Gauge
	appended     prometheus.Counter
	appendErrors prometheus.Counter
	shipped      prometheus.Counter
	shipErrors   prometheus.Counter
	deadLettered prometheus.Counter
	tornTails    prometheus.Counter
	pgUp         prometheus.Gauge
}

// NewMetrics registers the log's metrics with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{Name: "careline_store_outbox_events",
			Help: "Events in the local outbox not yet shipped to PostgreSQL."}),
		appended: prometheus.NewCounter(prometheus.CounterOpts{Name: "careline_store_events_appended_total",
			Help: "Events appended to the outbox."}),
		appendErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "careline_store_append_errors_total",
			Help: "Appends that failed (disk error or outbox full)."}),
		shipped: prometheus.NewCounter(prometheus.CounterOpts{Name: "careline_store_events_shipped_total",
			Help: "Events shipped from the outbox to PostgreSQL (replays included)."}),
		shipErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "careline_store_ship_errors_total",
			Help: "Failed attempts to ship a batch to PostgreSQL."}),
		deadLettered: prometheus.NewCounter(prometheus.CounterOpts{Name: "careline_store_deadlettered_events_total",
			Help: "Events PostgreSQL rejected for their data, kept in the outbox's deadletter file."}),
		tornTails: prometheus.NewCounter(prometheus.CounterOpts{Name: "careline_store_outbox_corrupt_tails_total",
			Help: "Torn or corrupt outbox tails found and set aside."}),
		pgUp: prometheus.NewGauge(prometheus.GaugeOpts{Name: "careline_store_postgres_up",
			Help: "1 when the last shipment to PostgreSQL succeeded."}),
	}
	if reg != nil {
		reg.MustRegister(m.backlog, m.appended, m.appendErrors, m.shipped, m.shipErrors, m.deadLettered, m.tornTails, m.pgUp)
	}
	return m
}
