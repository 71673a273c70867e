package recordings

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careline/careline/recordings/container"
	"github.com/careline/careline/store"
)

// Kind says what a recording is.
type Kind string

// Recording kinds.
const (
	KindCall       Kind = "call"        // stereo: left = patient, right = agent
	KindVoicemail  Kind = "voicemail"   // mono (the caller)
	KindIVRMessage Kind = "ivr_message" // mono (a message left in an IVR flow)
)

func (k Kind) valid() bool { return k == KindCall || k == KindVoicemail || k == KindIVRMessage }

// Channels returns 2 for calls and 1 for voicemail and IVR messages.
func (k Kind) Channels() int {
	if k == KindCall {
		return 2
	}
	return 1
}

// Errors.
var (
	ErrNotFound       = errors.New("recordings: no such recording")
	ErrDeleted        = errors.New("recordings: recording was deleted")
	ErrInProgress     = errors.New("recordings: recording is still being written")
	ErrIntegrity      = errors.New("recordings: recording failed its integrity check")
	ErrAudit          = errors.New("recordings: access audit could not be written")
	ErrDenied         = errors.New("recordings: access denied")
	ErrLegalHold      = errors.New("recordings: recording is under legal hold")
	ErrRecorderClosed = errors.New("recordings: recorder closed")
	ErrNoChannel      = errors.New("recordings: recording has no such channel")
)

// EventLog is where lifecycle events go (store.Log). The recordings table is kept from
// these events by Projector, so Start never waits on Postgres.
type EventLog interface {
	Append(ev store.Event) error
}

// Meta describes a recording being started. Nothing in it may be PHI: it goes to the
// interaction log and to Postgres columns that are not meant for PHI.
type Meta struct {
	InteractionID uuid.UUID
	Legs          []string // leg ids of the call (for tracing), not phone numbers
	Kind          Kind     // default call
	Queue         string   // configured queue name, if any
	Campaign      string   // configured campaign name, if any
	Language      string
	Box           string // voicemail box (configured name)
	RetentionDays int    // 0: the store's default
}

// Store keeps encrypted recordings on local disk, their metadata and access audit in
// Postgres, and enforces retention and legal hold.
type Store struct {
	dir     string
	keys    *container.Keyring
	pool    *pgxpool.Pool
	events  EventLog
	log     *slog.Logger
	m       *Metrics
	now     func() time.Time
	node    string
	chunk   time.Duration
	days    int
	jitter  time.Duration
	resync  time.Duration
	queue   int
	dbLimit time.Duration

	mu            sync.Mutex
	byRecording   map[uuid.UUID]*Recorder
	byInteraction map[uuid.UUID]*Recorder
}

// Option configures a Store.
type Option func(*Store)

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// WithMetrics sets the metrics (default: unregistered).
func WithMetrics(m *Metrics) Option { return func(s *Store) { s.m = m } }

// WithClock sets the clock used for start times, arrival-time anchoring, retention
// dates and audit rows (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithNodeID names this engine instance; recovery only touches recordings this node
// wrote (default: the host name).
func WithNodeID(id string) Option { return func(s *Store) { s.node = id } }

// WithChunk sets how much audio is sealed per chunk: at most this much is lost if the
// process dies (default 1s).
func WithChunk(d time.Duration) Option { return func(s *Store) { s.chunk = d } }

// WithRetentionDays sets the default retention (default 90 days).
func WithRetentionDays(days int) Option { return func(s *Store) { s.days = days } }

// WithJitterWindow sets how long audio waits in memory for late or reordered frames
// before it is written (default 500ms).
func WithJitterWindow(d time.Duration) Option { return func(s *Store) { s.jitter = d } }

// WithResync sets how far a stream's RTP timestamps may stray from its arrival time
// before the stream is re-anchored to the clock (default: the jitter window; negative:
// never).
func WithResync(d time.Duration) Option { return func(s *Store) { s.resync = d } }

// WithWriteQueue sets how many blocks (about one chunk each) may wait for the disk
// before audio is dropped rather than delay the RTP receive path (default 16).
func WithWriteQueue(n int) Option { return func(s *Store) { s.queue = n } }

// WithDBTimeout bounds each Postgres statement (default 2s).
func WithDBTimeout(d time.Duration) Option { return func(s *Store) { s.dbLimit = d } }

// New returns a Store writing under dir (created 0700 if missing). pool is used for
// metadata reads and updates and the synchronous access audit; events receives the
// lifecycle events from which Projector creates metadata rows.
func New(dir string, keys *container.Keyring, pool *pgxpool.Pool, events EventLog, opts ...Option) (*Store, error) {
	if dir == "" {
		return nil, errors.New("recordings: no directory")
	}
	if keys == nil {
		return nil, errors.New("recordings: no keyring: recordings are never stored unencrypted")
	}
	if pool == nil || events == nil {
		return nil, errors.New("recordings: a Postgres pool and an event log are required")
	}
	s := &Store{dir: dir, keys: keys, pool: pool, events: events, now: time.Now, chunk: time.Second, days: 90,
		jitter: 500 * time.Millisecond, queue: 16, dbLimit: 2 * time.Second,
		byRecording: map[uuid.UUID]*Recorder{}, byInteraction: map[uuid.UUID]*Recorder{}}
	for _, o := range opts {
		o(s)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.m == nil {
		s.m = NewMetrics(nil)
	}
	if s.node == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "careline"
		}
		s.node = h
	}
	if s.chunk < 20*time.Millisecond || s.chunk > time.Minute {
		return nil, fmt.Errorf("recordings: chunk %s out of range (20ms..1m)", s.chunk)
	}
	if s.days < 1 {
		return nil, fmt.Errorf("recordings: retention of %d days", s.days)
	}
	if s.resync == 0 {
		s.resync = s.jitter
	}
	if s.queue < 1 {
		s.queue = 1
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("recordings: directory: %w", err)
	}
	return s, nil
}

// String describes the store.
func (s *Store) String() string { return fmt.Sprintf("recordings(%s, %s)", s.dir, s.keys) }

// Keyring returns the store's keyring.
func (s *Store) Keyring() *container.Keyring { return s.keys }

func (s *Store) dbCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.dbLimit)
}

// relPath is where a new recording goes: <yyyy>/<mm>/<dd>/<id>.clrec (UTC date).
func relPath(id uuid.UUID, t time.Time) string {
	t = t.UTC()
	return filepath.Join(t.Format("2006"), t.Format("01"), t.Format("02"), id.String()+".clrec")
}

// abs resolves a stored relative path inside the store directory, refusing paths that
// would escape it.
func (s *Store) abs(rel string) (string, error) {
	clean := filepath.Clean(rel)
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("recordings: stored path %q escapes the recordings directory", rel)
	}
	return filepath.Join(s.dir, clean), nil
}

// create makes the file of a new recording (0600, never overwriting) and its container.
func (s *Store) create(id uuid.UUID, started time.Time, channels int, chunk time.Duration) (*os.File, *container.Writer, string, error) {
	rel := relPath(id, started)
	p, _ := s.abs(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, nil, "", fmt.Errorf("recordings: directory: %w", err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, nil, "", fmt.Errorf("recordings: create file: %w", err)
	}
	chunkBytes := int(chunk/(time.Second/container.SampleRate)) * 2 * channels
	cw, err := container.NewWriter(f, s.keys, container.WriterOptions{ID: id, Channels: channels, ChunkBytes: chunkBytes})
	if err != nil {
		f.Close()
		os.Remove(p)
		return nil, nil, "", err
	}
	return f, cw, rel, nil
}

// Start begins a recording: it creates the encrypted file, appends recording.started
// (from which the metadata row is made) and returns the Recorder to feed through its
// taps. ctx bounds the recording: when it ends the recording is closed as by Close.
// A call recording is registered as the active recording of its interaction.
func (s *Store) Start(ctx context.Context, meta Meta) (*Recorder, error) {
	if meta.Kind == "" {
		meta.Kind = KindCall
	}
	if !meta.Kind.valid() {
		return nil, fmt.Errorf("recordings: unknown kind %q", meta.Kind)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	id := store.NewID()
	started := s.now()
	channels := meta.Kind.Channels()
	f, cw, rel, err := s.create(id, started, channels, s.chunk)
	if err != nil {
		return nil, err
	}
	if err := s.appendStarted(id, meta, channels, started, rel, cw.Info().KeyID); err != nil {
		f.Close()
		os.Remove(filepath.Join(s.dir, rel))
		return nil, err
	}
	r := newRecorder(s, id, meta, started, f, cw, channels)
	s.mu.Lock()
	s.byRecording[id] = r
	if meta.Kind == KindCall && meta.InteractionID != uuid.Nil {
		s.byInteraction[meta.InteractionID] = r
	}
	s.mu.Unlock()
	s.m.active.Inc()
	s.m.started.WithLabelValues(string(meta.Kind)).Inc()
	stop := context.AfterFunc(ctx, func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := r.Close(cctx); err != nil {
			s.log.Error("recordings: closing a recording when its context ended", "recording", id, "err", err)
		}
	})
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		stop()
	} else {
		r.stopAfter = stop
		r.mu.Unlock()
	}
	s.log.Info("recording started", "recording", id, "interaction", meta.InteractionID, "kind", meta.Kind, "key", cw.Info().KeyID)
	return r, nil
}

func (s *Store) retentionUntil(started time.Time, days int) time.Time {
	if days <= 0 {
		days = s.days
	}
	return started.AddDate(0, 0, days)
}

func (s *Store) appendStarted(id uuid.UUID, meta Meta, channels int, started time.Time, rel, keyID string) error {
	legs := meta.Legs
	if legs == nil {
		legs = []string{}
	}
	ev := store.Event{InteractionID: meta.InteractionID, Type: EventStarted, At: started,
		Detail: map[string]any{
			"recording_id": id.String(), "kind": string(meta.Kind), "legs": legs, "channels": channels,
			"queue": meta.Queue, "campaign": meta.Campaign, "language": meta.Language, "box": meta.Box,
			"node": s.node, "key_id": keyID, "path": filepath.ToSlash(rel),
			"started_at":      started.UTC().Format(time.RFC3339Nano),
			"retention_until": s.retentionUntil(started, meta.RetentionDays).UTC().Format(time.RFC3339Nano),
		}}
	if meta.InteractionID != uuid.Nil {
		ev.Interaction = &store.InteractionPatch{RecordingID: id.String()}
	}
	if err := s.events.Append(ev); err != nil {
		return fmt.Errorf("recordings: log recording start: %w", err)
	}
	return nil
}

// Close finishes every recording still being written (for shutdown, after calls have
// been given their drain time) and waits for them up to ctx.
func (s *Store) Close(ctx context.Context) error {
	s.mu.Lock()
	recs := make([]*Recorder, 0, len(s.byRecording))
	for _, r := range s.byRecording {
		recs = append(recs, r)
	}
	s.mu.Unlock()
	var errs []error
	for _, r := range recs {
		if _, err := r.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Active returns the call recording running for an interaction.
func (s *Store) Active(interaction uuid.UUID) (*Recorder, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.byInteraction[interaction]
	return r, ok
}

func (s *Store) isActive(id uuid.UUID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.byRecording[id]
	return ok
}

func (s *Store) unregister(r *Recorder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byRecording, r.id)
	if cur, ok := s.byInteraction[r.meta.InteractionID]; ok && cur == r {
		delete(s.byInteraction, r.meta.InteractionID)
	}
}

// event appends a lifecycle event; failures are logged (the recording goes on).
func (s *Store) event(interaction uuid.UUID, typ string, at time.Time, detail map[string]any) {
	if err := s.events.Append(store.Event{InteractionID: interaction, Type: typ, At: at, Detail: detail}); err != nil {
		s.log.Error("recordings: event not logged", "type", typ, "err", err)
	}
}

// Event types appended to the interaction log.
const (
	EventStarted    = "recording.started"
	EventPaused     = "recording.paused"
	EventResumed    = "recording.resumed"
	EventStopped    = "recording.stopped"
	EventFailed     = "recording.failed"
	EventDeleted    = "recording.deleted"
	EventConsent    = "recording.consent_notice"
	EventRecovered  = "recording.recovered"
	EventLegalHold  = "recording.legal_hold"
	EventAccessDeny = "recording.access_denied"
)
