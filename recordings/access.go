package recordings

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/careline/careline/recordings/container"
)

// Status of a recording row.
const (
	StatusRecording = "recording" // being written (or its writer died and recovery has not run)
	StatusComplete  = "complete"
	StatusTruncated = "truncated" // the writer died; the readable prefix was sealed by recovery
	StatusMissing   = "missing"   // the file was not found by recovery
	StatusDeleted   = "deleted"
)

// Info is a recording's metadata row.
type Info struct {
	ID             uuid.UUID
	InteractionID  uuid.UUID
	Kind           Kind
	Legs           []string
	Channels       int
	Queue          string
	Campaign       string
	Language       string
	Box            string
	Status         string
	Node           string
	StartedAt      time.Time
	EndedAt        time.Time // zero while recording
	Duration       time.Duration
	AudioBytes     int64
	Size           int64
	SHA256         string
	KeyID          string
	Path           string // relative to the store directory
	RetentionUntil time.Time
	LegalHold      bool
	DeletedAt      time.Time
}

// Get reads a recording's metadata row.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (Info, error) {
	ctx, cancel := s.dbCtx(ctx)
	defer cancel()
	var (
		in                   Info
		iid                  pgtype.UUID
		kind                 string
		q, c, l, b, sum      pgtype.Text
		ended, deleted       pgtype.Timestamptz
		dur, audio, size     pgtype.Int8
		channels             int16
		legs                 []string
		status, node, key, p string
	)
	err := s.pool.QueryRow(ctx, `SELECT interaction_id, kind, legs, channels, queue, campaign, language, box, status,
			node, started_at, ended_at, duration_ms, audio_bytes, size_bytes, checksum_sha256, key_id, path,
			retention_until, legal_hold, deleted_at
		FROM recordings WHERE id = $1`, id).Scan(&iid, &kind, &legs, &channels, &q, &c, &l, &b, &status, &node,
		&in.StartedAt, &ended, &dur, &audio, &size, &sum, &key, &p, &in.RetentionUntil, &in.LegalHold, &deleted)
	if errors.Is(err, pgx.ErrNoRows) {
		return in, ErrNotFound
	}
	if err != nil {
		return in, fmt.Errorf("recordings: read metadata: %w", err)
	}
	in.ID, in.Kind, in.Legs, in.Channels = id, Kind(kind), legs, int(channels)
	if iid.Valid {
		in.InteractionID = iid.Bytes
	}
	in.Queue, in.Campaign, in.Language, in.Box, in.SHA256 = q.String, c.String, l.String, b.String, sum.String
	in.Status, in.Node, in.KeyID, in.Path = status, node, key, p
	in.EndedAt, in.DeletedAt = ended.Time, deleted.Time
	in.Duration, in.AudioBytes, in.Size = time.Duration(dur.Int64)*time.Millisecond, audio.Int64, size.Int64
	return in, nil
}

// AccessOptions say who is reading a recording, from where and why; they go to the
// audit row.
type AccessOptions struct {
	Actor   string // user id ("local:<os user>" for the export command)
	Role    Role
	Remote  string // remote address, or "local"
	Action  string // ActionPlay (default) or ActionExport
	Purpose string // optional free text from the user (no PHI)
}

// Open gives an authorised reader the recording as a WAV stream (8 kHz PCM16, stereo
// for calls, mono for voicemail). Before any file is touched it writes a granted audit
// row synchronously; if that write fails, Open fails with ErrAudit. It then
// authenticates the whole file (every chunk's GCM tag, the final chunk, the length and
// the file checksum) before returning, so tampering is an ErrIntegrity here rather
// than a broken stream; the stream itself releases each chunk only after its tag is
// verified again. Denials, unknown and deleted recordings are audited too.
// Close the Playback: it writes the closing audit row (completed or aborted).
func (s *Store) Open(ctx context.Context, id uuid.UUID, opts AccessOptions) (*Playback, error) {
	if opts.Action == "" {
		opts.Action = ActionPlay
	}
	entry := AuditEntry{Actor: opts.Actor, Role: opts.Role, RecordingID: id, Action: opts.Action, Remote: opts.Remote, Purpose: opts.Purpose}
	refuse := func(outcome string, err error) (*Playback, error) {
		entry.Outcome = outcome
		s.m.accessed(opts.Role, outcome)
		if aerr := s.audit(ctx, entry); aerr != nil {
			s.log.Error("recordings: audit row not written", "recording", id, "outcome", outcome, "err", aerr)
		}
		return nil, err
	}
	if opts.Actor == "" || !opts.Role.canRead() {
		return refuse(OutcomeDenied, ErrDenied)
	}
	in, err := s.Get(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return refuse(OutcomeNotFound, ErrNotFound)
	case err != nil:
		s.m.accessed(opts.Role, "audit_failed")
		return nil, fmt.Errorf("%w: %w", ErrAudit, err)
	}
	entry.InteractionID = in.InteractionID
	switch in.Status {
	case StatusDeleted, StatusMissing:
		return refuse(OutcomeGone, ErrDeleted)
	case StatusRecording:
		return refuse(OutcomeInProgress, ErrInProgress)
	}
	entry.Outcome = OutcomeGranted
	if err := s.audit(ctx, entry); err != nil {
		s.m.accessed(opts.Role, "audit_failed")
		s.log.Error("recordings: access refused because the audit row could not be written", "recording", id, "err", err)
		return nil, err
	}
	fail := func(err error) (*Playback, error) {
		s.m.integrityFails.Inc()
		s.log.Error("recordings: recording failed its integrity check", "recording", id, "err", err)
		return refuse(OutcomeIntegrityError, fmt.Errorf("%w: %w", ErrIntegrity, err))
	}
	path, err := s.abs(in.Path)
	if err != nil {
		return fail(err)
	}
	if err := s.verify(path, in); err != nil {
		return fail(err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fail(err)
	}
	cr, err := container.NewReader(f, s.keys, container.ReaderOptions{ExpectID: id})
	if err != nil {
		f.Close()
		return fail(err)
	}
	s.m.accessed(opts.Role, OutcomeGranted)
	hdr := wavHeader(in.Channels, in.AudioBytes)
	return &Playback{Info: in, s: s, entry: entry, f: f, cr: cr, hdr: hdr[:], remaining: in.AudioBytes}, nil
}

// verify authenticates a whole file against its metadata row without releasing audio.
func (s *Store) verify(path string, in Info) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	tee := io.TeeReader(f, h)
	cr, err := container.NewReader(tee, s.keys, container.ReaderOptions{ExpectID: in.ID})
	if err != nil {
		return err
	}
	n, rerr := io.Copy(io.Discard, cr)
	if _, err := io.Copy(h, f); err != nil { // hash what the reader did not consume
		return err
	}
	switch {
	case in.Status == StatusComplete && rerr != nil:
		return rerr
	case in.Status == StatusTruncated && rerr == nil:
		return fmt.Errorf("recording marked truncated has a final chunk")
	case n != in.AudioBytes:
		return fmt.Errorf("%d bytes of audio, metadata says %d: %w", n, in.AudioBytes, rerr)
	case in.Channels != cr.Info().Channels:
		return fmt.Errorf("file has %d channels, metadata says %d", cr.Info().Channels, in.Channels)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != in.SHA256 {
		return fmt.Errorf("file checksum %s does not match the metadata", sum[:12])
	}
	return nil
}

// Playback is a recording being read as a WAV stream. Read returns only authenticated
// audio; a chunk that fails authentication ends the stream with an ErrIntegrity error.
type Playback struct {
	Info      Info
	s         *Store
	entry     AuditEntry
	f         *os.File
	cr        *container.Reader
	hdr       []byte
	remaining int64
	delivered int64
	endErr    error
	eof       bool
	closed    bool
}

// Size is the length of the WAV stream in bytes.
func (p *Playback) Size() int64 { return int64(len(wavHeader(1, 0))) + p.Info.AudioBytes }

// Read implements io.Reader.
func (p *Playback) Read(b []byte) (int, error) {
	if p.endErr != nil {
		return 0, p.endErr
	}
	if len(p.hdr) > 0 {
		n := copy(b, p.hdr)
		p.hdr = p.hdr[n:]
		p.delivered += int64(n)
		return n, nil
	}
	if p.remaining == 0 {
		if p.Info.Status == StatusComplete && !p.eof {
			var one [1]byte
			if n, err := p.cr.Read(one[:]); n > 0 || !errors.Is(err, io.EOF) {
				return 0, p.integrity(fmt.Errorf("end of recording: %v", err))
			}
		}
		p.eof = true
		return 0, io.EOF
	}
	if int64(len(b)) > p.remaining {
		b = b[:p.remaining]
	}
	n, err := p.cr.Read(b)
	p.remaining -= int64(n)
	p.delivered += int64(n)
	if err != nil {
		return n, p.integrity(err)
	}
	return n, nil
}

func (p *Playback) integrity(err error) error {
	p.s.m.integrityFails.Inc()
	p.s.log.Error("recordings: recording failed authentication while streaming", "recording", p.Info.ID, "err", err)
	p.endErr = fmt.Errorf("%w: %w", ErrIntegrity, err)
	return p.endErr
}

// Close releases the file and writes the closing audit row: completed when the whole
// stream was read, integrity_error or aborted otherwise.
func (p *Playback) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	ferr := p.f.Close()
	e := p.entry
	e.Detail = map[string]any{"bytes": p.delivered}
	switch {
	case p.eof:
		e.Outcome = OutcomeCompleted
	case p.endErr != nil:
		e.Outcome = OutcomeIntegrityError
	default:
		e.Outcome = OutcomeAborted
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.s.dbLimit)
	defer cancel()
	if err := p.s.audit(ctx, e); err != nil {
		p.s.log.Error("recordings: closing audit row not written", "recording", p.Info.ID, "err", err)
		return err
	}
	return ferr
}

// Export writes recording id as a WAV file to out for the local admin command, audited
// like any access (actor = the local OS user).
func (s *Store) Export(ctx context.Context, id uuid.UUID, out io.Writer, actor string) error {
	pb, err := s.Open(ctx, id, AccessOptions{Actor: "local:" + actor, Role: RoleAdmin, Remote: "local", Action: ActionExport})
	if err != nil {
		return err
	}
	_, cerr := io.Copy(out, pb)
	if err := pb.Close(); cerr == nil {
		cerr = err
	}
	return cerr
}

// wavHeader is the 44-byte header of a PCM16 8 kHz WAV with dataBytes of audio.
func wavHeader(channels int, dataBytes int64) [44]byte {
	var h [44]byte
	copy(h[0:4], "RIFF")
	binary.LittleEndian.PutUint32(h[4:8], uint32(36+dataBytes))
	copy(h[8:12], "WAVE")
	copy(h[12:16], "fmt ")
	binary.LittleEndian.PutUint32(h[16:20], 16)
	binary.LittleEndian.PutUint16(h[20:22], 1)
	binary.LittleEndian.PutUint16(h[22:24], uint16(channels))
	binary.LittleEndian.PutUint32(h[24:28], container.SampleRate)
	binary.LittleEndian.PutUint32(h[28:32], uint32(container.SampleRate*2*channels))
	binary.LittleEndian.PutUint16(h[32:34], uint16(2*channels))
	binary.LittleEndian.PutUint16(h[34:36], 16)
	copy(h[36:40], "data")
	binary.LittleEndian.PutUint32(h[40:44], uint32(dataBytes))
	return h
}
