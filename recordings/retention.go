package recordings

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/careline/careline/recordings/container"
)

// Deletion reasons (careline_recordings_deleted_total{reason}, recordings.deleted_reason).
const (
	ReasonRetention = "retention"
	ReasonManual    = "manual"
)

// RetentionReport says what one retention run did.
type RetentionReport struct {
	Deleted int // recordings deleted
	Held    int // expired recordings kept because of a legal hold
	Failed  int // deletions that failed (retried on the next run)
}

// RunRetention deletes every recording whose retention date is at or before now and
// that is not under legal hold: its wrapped data key is overwritten, the file removed,
// the row marked deleted, an audit row and a recording.deleted event written. Rows
// still being written are left alone.
func (s *Store) RunRetention(ctx context.Context, now time.Time) (RetentionReport, error) {
	var rep RetentionReport
	qctx, cancel := s.dbCtx(ctx)
	var held int
	err := s.pool.QueryRow(qctx, `SELECT count(*) FROM recordings
		WHERE deleted_at IS NULL AND legal_hold AND retention_until <= $1`, now).Scan(&held)
	cancel()
	if err != nil {
		return rep, fmt.Errorf("recordings: retention: %w", err)
	}
	rep.Held = held
	for ctx.Err() == nil {
		qctx, cancel := s.dbCtx(ctx)
		rows, err := s.pool.Query(qctx, `SELECT id FROM recordings
			WHERE deleted_at IS NULL AND NOT legal_hold AND retention_until <= $1 AND status <> 'recording'
			ORDER BY retention_until LIMIT 200`, now)
		if err != nil {
			cancel()
			return rep, fmt.Errorf("recordings: retention: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		cancel()
		if err != nil {
			return rep, fmt.Errorf("recordings: retention: %w", err)
		}
		progress := false
		for _, id := range ids {
			err := s.delete(ctx, id, DeleteOptions{Actor: "system:retention", Role: RoleSystem, Reason: ReasonRetention, NotAfter: now})
			switch {
			case err == nil:
				rep.Deleted++
				progress = true
			case errors.Is(err, ErrLegalHold), errors.Is(err, ErrDeleted), errors.Is(err, errNotExpired), errors.Is(err, ErrNotFound):
				// changed under us; nothing to do
			default:
				rep.Failed++
				s.log.Error("recordings: retention could not delete a recording", "recording", id, "err", err)
			}
		}
		if len(ids) < 200 || !progress {
			break
		}
	}
	if rep.Deleted > 0 || rep.Failed > 0 {
		s.log.Info("recordings: retention run", "deleted", rep.Deleted, "held", rep.Held, "failed", rep.Failed)
	}
	return rep, ctx.Err()
}

// DeleteOptions say who deletes a recording and why.
type DeleteOptions struct {
	Actor  string
	Role   Role
	Reason string // ReasonRetention, ReasonManual
	// NotAfter, when set, refuses the deletion unless the retention date is at or
	// before it (the retention job's re-check under the row lock).
	NotAfter time.Time
}

// Delete removes a recording now (e.g. on a documented request), unless it is under
// legal hold (ErrLegalHold). The deletion is audited and logged like a retention one.
func (s *Store) Delete(ctx context.Context, id uuid.UUID, opts DeleteOptions) error {
	if opts.Reason == "" {
		opts.Reason = ReasonManual
	}
	if opts.Actor == "" || (opts.Role != RoleAdmin && opts.Role != RoleSystem) {
		return ErrDenied
	}
	err := s.delete(ctx, id, opts)
	if errors.Is(err, ErrLegalHold) {
		if aerr := s.audit(ctx, AuditEntry{Actor: opts.Actor, Role: opts.Role, RecordingID: id, Action: ActionDelete,
			Outcome: OutcomeRefused, Detail: map[string]any{"reason": opts.Reason, "why": "legal_hold"}}); aerr != nil {
			s.log.Error("recordings: audit row not written", "recording", id, "err", aerr)
		}
	}
	return err
}

func (s *Store) delete(ctx context.Context, id uuid.UUID, opts DeleteOptions) error {
	ctx, cancel := s.dbCtx(ctx)
	defer cancel()
	var interaction uuid.UUID
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var (
			rel     string
			hold    bool
			status  string
			until   time.Time
			iid     *uuid.UUID
			deleted *time.Time
		)
		err := tx.QueryRow(ctx, `SELECT path, legal_hold, status, retention_until, interaction_id, deleted_at
			FROM recordings WHERE id = $1 FOR UPDATE`, id).Scan(&rel, &hold, &status, &until, &iid, &deleted)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if iid != nil {
			interaction = *iid
		}
		entry := AuditEntry{Actor: opts.Actor, Role: opts.Role, RecordingID: id, InteractionID: interaction,
			Action: ActionDelete, Detail: map[string]any{"reason": opts.Reason}}
		switch {
		case deleted != nil:
			return ErrDeleted
		case hold:
			return ErrLegalHold
		case status == StatusRecording:
			return ErrInProgress
		case !opts.NotAfter.IsZero() && until.After(opts.NotAfter):
			return errNotExpired
		}
		path, err := s.abs(rel)
		if err != nil {
			return err
		}
		if err := shred(path); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE recordings SET status = 'deleted', deleted_at = $2, deleted_reason = $3
			WHERE id = $1`, id, s.now(), opts.Reason); err != nil {
			return err
		}
		entry.Outcome = OutcomeDone
		return s.auditTx(ctx, tx, entry)
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrDeleted) || errors.Is(err, ErrInProgress) ||
			errors.Is(err, ErrLegalHold) || errors.Is(err, errNotExpired) {
			return err
		}
		return fmt.Errorf("recordings: delete %s: %w", id, err)
	}
	s.m.deleted.WithLabelValues(deletedReason(opts.Reason)).Inc()
	s.event(interaction, EventDeleted, s.now(), map[string]any{"recording_id": id.String(), "reason": opts.Reason, "by": opts.Actor})
	s.log.Info("recording deleted", "recording", id, "reason", opts.Reason)
	return nil
}

// errNotExpired: the retention date moved after the job listed the recording.
var errNotExpired = errors.New("recordings: retention date not reached")

// shred destroys the wrapped key in the file, then removes it. A file already gone is
// fine (a previous attempt removed it and then failed to commit).
func shred(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open for deletion: %w", err)
	}
	derr := container.DestroyKey(f)
	f.Close()
	if derr != nil && !errors.Is(derr, container.ErrNotContainer) && !errors.Is(derr, container.ErrCorrupt) {
		return derr
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// HoldOptions say who changes a legal hold and why.
type HoldOptions struct {
	Actor  string
	Role   Role
	Reason string // e.g. a matter or ticket number (no PHI)
}

// SetLegalHold sets (hold = true) or clears a legal hold. A held recording is never
// deleted, whatever its retention date. The change is audited.
func (s *Store) SetLegalHold(ctx context.Context, id uuid.UUID, hold bool, opts HoldOptions) error {
	if opts.Actor == "" || (opts.Role != RoleAdmin && opts.Role != RoleAuditor && opts.Role != RoleSystem) {
		return ErrDenied
	}
	ctx, cancel := s.dbCtx(ctx)
	defer cancel()
	action := ActionLegalHoldClear
	if hold {
		action = ActionLegalHoldSet
	}
	var interaction uuid.UUID
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var iid *uuid.UUID
		var deleted *time.Time
		err := tx.QueryRow(ctx, `SELECT interaction_id, deleted_at FROM recordings WHERE id = $1 FOR UPDATE`, id).Scan(&iid, &deleted)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if deleted != nil {
			return ErrDeleted
		}
		if iid != nil {
			interaction = *iid
		}
		if hold {
			_, err = tx.Exec(ctx, `UPDATE recordings SET legal_hold = true, legal_hold_reason = $2, legal_hold_by = $3,
				legal_hold_at = $4 WHERE id = $1`, id, opts.Reason, opts.Actor, s.now())
		} else {
			_, err = tx.Exec(ctx, `UPDATE recordings SET legal_hold = false, legal_hold_reason = NULL, legal_hold_by = NULL,
				legal_hold_at = NULL WHERE id = $1`, id)
		}
		if err != nil {
			return err
		}
		return s.auditTx(ctx, tx, AuditEntry{Actor: opts.Actor, Role: opts.Role, RecordingID: id, InteractionID: interaction,
			Action: action, Outcome: OutcomeDone, Purpose: opts.Reason})
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrDeleted) {
			return err
		}
		return fmt.Errorf("recordings: legal hold %s: %w", id, err)
	}
	s.event(interaction, EventLegalHold, s.now(), map[string]any{"recording_id": id.String(), "hold": hold, "by": opts.Actor})
	return nil
}

// Recover settles recordings this node left in state "recording" that no live
// Recorder owns (the process died, or a write failed): each file is read as far as it
// authenticates and its row gets the readable length and the file checksum, status
// "complete" (final chunk present) or "truncated"; a missing file becomes "missing".
// Run it at start-up (RunMaintenance does, then periodically). Node ids must be
// unique per engine instance sharing a database.
func (s *Store) Recover(ctx context.Context) (int, error) {
	qctx, cancel := s.dbCtx(ctx)
	rows, err := s.pool.Query(qctx, `SELECT id, path, started_at FROM recordings WHERE status = 'recording' AND node = $1`, s.node)
	if err != nil {
		cancel()
		return 0, fmt.Errorf("recordings: recover: %w", err)
	}
	type open struct {
		id      uuid.UUID
		path    string
		started time.Time
	}
	var list []open
	for rows.Next() {
		var o open
		if err := rows.Scan(&o.id, &o.path, &o.started); err != nil {
			rows.Close()
			cancel()
			return 0, fmt.Errorf("recordings: recover: %w", err)
		}
		list = append(list, o)
	}
	rows.Close()
	err = rows.Err()
	cancel()
	if err != nil {
		return 0, fmt.Errorf("recordings: recover: %w", err)
	}
	n := 0
	for _, o := range list {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		if s.isActive(o.id) {
			continue
		}
		if err := s.recoverOne(ctx, o.id, o.path, o.started); err != nil {
			s.log.Error("recordings: recovery failed", "recording", o.id, "err", err)
			continue
		}
		n++
	}
	return n, nil
}

func (s *Store) recoverOne(ctx context.Context, id uuid.UUID, rel string, started time.Time) error {
	path, err := s.abs(rel)
	if err != nil {
		return err
	}
	status, audio, size, sum, channels, why, err := s.scan(path, id)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, container.ErrNotContainer), errors.Is(err, container.ErrCorrupt),
		errors.Is(err, container.ErrTruncated):
		status, why = StatusMissing, err.Error() // no usable audio
	case err != nil:
		return err // e.g. a master key missing from the keyring: fix the configuration, not the row
	}
	dur := time.Duration(0)
	if channels > 0 {
		dur = time.Duration(audio / int64(2*channels) * nsPerSample)
	}
	ctx, cancel := s.dbCtx(ctx)
	defer cancel()
	var sumArg any
	if sum != "" {
		sumArg = sum
	}
	tag, err := s.pool.Exec(ctx, `UPDATE recordings SET status = $2, ended_at = $3, duration_ms = $4, audio_bytes = $5,
			size_bytes = $6, checksum_sha256 = $7
		WHERE id = $1 AND status = 'recording'`, id, status, started.Add(dur), dur.Milliseconds(), audio, size, sumArg)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 1 {
		s.event(uuid.Nil, EventRecovered, s.now(), map[string]any{"recording_id": id.String(), "status": status,
			"duration_ms": dur.Milliseconds(), "tail": why})
		s.log.Warn("recordings: recovered an unfinished recording", "recording", id, "status", status,
			"duration", dur.Round(time.Millisecond), "tail", why)
	}
	return nil
}

// scan reads a container file as far as it authenticates.
func (s *Store) scan(path string, id uuid.UUID) (status string, audio, size int64, sum string, channels int, why string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, 0, "", 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	cr, err := container.NewReader(io.TeeReader(f, h), s.keys, container.ReaderOptions{ExpectID: id})
	if err != nil {
		return "", 0, 0, "", 0, "", err
	}
	audio, rerr := io.Copy(io.Discard, cr)
	if _, err := io.Copy(h, f); err != nil {
		return "", 0, 0, "", 0, "", err
	}
	st, err := f.Stat()
	if err != nil {
		return "", 0, 0, "", 0, "", err
	}
	status = StatusComplete
	if rerr != nil {
		status, why = StatusTruncated, rerr.Error()
	}
	return status, audio, st.Size(), hex.EncodeToString(h.Sum(nil)), cr.Info().Channels, why, nil
}

// RunMaintenance recovers unfinished recordings, then runs retention every interval
// (and recovery with it) until ctx ends.
func (s *Store) RunMaintenance(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.Recover(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("recordings: recovery", "err", err)
		}
		if _, err := s.RunRetention(ctx, s.now()); err != nil && ctx.Err() == nil {
			s.log.Error("recordings: retention", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
