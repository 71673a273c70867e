package recordings

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Audit actions and outcomes (recording_access_log.action / .outcome).
const (
	ActionPlay           = "play"
	ActionExport         = "export"
	ActionDelete         = "delete"
	ActionLegalHoldSet   = "legal_hold_set"
	ActionLegalHoldClear = "legal_hold_clear"

	OutcomeGranted        = "granted"         // access allowed; bytes may follow
	OutcomeDenied         = "denied"          // authenticated but not allowed
	OutcomeNotFound       = "not_found"       // no such recording
	OutcomeGone           = "gone"            // deleted (or its file is missing)
	OutcomeInProgress     = "in_progress"     // still being written
	OutcomeIntegrityError = "integrity_error" // failed authentication or checksum
	OutcomeCompleted      = "completed"       // every byte delivered
	OutcomeAborted        = "aborted"         // delivery stopped early (client went away)
	OutcomeDone           = "done"            // a deletion or hold change took effect
	OutcomeRefused        = "refused"         // e.g. deletion refused under legal hold
)

// auditLockID serialises audit inserts so that the hash chain is linear.
const auditLockID = 0x636c7261756474 // "clraudt"

// AuditEntry is one row of recording_access_log. It holds ids and words, never PHI.
type AuditEntry struct {
	Actor         string
	Role          Role
	RecordingID   uuid.UUID
	InteractionID uuid.UUID
	Action        string
	Outcome       string
	Remote        string
	Purpose       string
	Detail        map[string]any
}

// AuditRow is a stored audit row.
type AuditRow struct {
	ID int64
	At time.Time
	AuditEntry
	PrevHash, RowHash []byte
}

// ErrAuditChain reports a recording_access_log row whose hash does not match.
var ErrAuditChain = errors.New("recordings: audit log hash chain broken")

// audit writes one audit row synchronously. When it returns nil the row is committed.
func (s *Store) audit(ctx context.Context, e AuditEntry) error {
	ctx, cancel := s.dbCtx(ctx)
	defer cancel()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.auditTx(ctx, tx, e) })
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAudit, err)
	}
	return nil
}

// auditTx appends an audit row inside tx, chained to the previous row.
func (s *Store) auditTx(ctx context.Context, tx pgx.Tx, e AuditEntry) error {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(auditLockID)); err != nil {
		return err
	}
	prev := make([]byte, sha256.Size)
	err := tx.QueryRow(ctx, "SELECT row_hash FROM recording_access_log ORDER BY id DESC LIMIT 1").Scan(&prev)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	var id int64
	if err := tx.QueryRow(ctx, "SELECT nextval('recording_access_log_id_seq')").Scan(&id); err != nil {
		return err
	}
	row := AuditRow{ID: id, At: s.now().UTC().Truncate(time.Microsecond), AuditEntry: e, PrevHash: prev}
	det, err := row.detailJSON()
	if err != nil {
		return err
	}
	row.RowHash = row.hash(det)
	_, err = tx.Exec(ctx, `INSERT INTO recording_access_log (id, at, actor, role, recording_id, interaction_id,
			action, outcome, remote_addr, purpose, detail, prev_hash, row_hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		row.ID, row.At, e.Actor, string(e.Role), pgUUID(e.RecordingID), pgUUID(e.InteractionID), e.Action, e.Outcome,
		e.Remote, e.Purpose, det, row.PrevHash, row.RowHash)
	return err
}

func pgUUID(id uuid.UUID) pgtype.UUID { return pgtype.UUID{Bytes: id, Valid: id != uuid.Nil} }

func (r *AuditRow) detailJSON() (string, error) {
	if len(r.Detail) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(r.Detail)
	if err != nil {
		return "", fmt.Errorf("recordings: audit detail: %w", err)
	}
	return string(b), nil
}

// hash is SHA-256 over the previous hash and the row's fields, each length-prefixed.
func (r *AuditRow) hash(detail string) []byte {
	h := sha256.New()
	field := func(b []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	id := func(u uuid.UUID) []byte {
		if u == uuid.Nil {
			return nil
		}
		return u[:]
	}
	field([]byte("careline recording audit v1"))
	field(r.PrevHash)
	field([]byte(strconv.FormatInt(r.ID, 10)))
	field([]byte(r.At.UTC().Format("2006-01-02T15:04:05.000000Z")))
	for _, s := range []string{r.Actor, string(r.Role)} {
		field([]byte(s))
	}
	field(id(r.RecordingID))
	field(id(r.InteractionID))
	for _, s := range []string{r.Action, r.Outcome, r.Remote, r.Purpose, detail} {
		field([]byte(s))
	}
	return h.Sum(nil)
}

// VerifyAuditLog walks recording_access_log in order and recomputes the hash chain.
// It returns the number of rows checked, or an error wrapping ErrAuditChain that names
// the first row that was altered, removed or inserted out of chain.
func (s *Store) VerifyAuditLog(ctx context.Context) (int, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, at, actor, role, recording_id, interaction_id, action, outcome,
			remote_addr, purpose, detail, prev_hash, row_hash
		FROM recording_access_log ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("recordings: read audit log: %w", err)
	}
	defer rows.Close()
	prev := make([]byte, sha256.Size)
	n := 0
	for rows.Next() {
		var (
			r        AuditRow
			role     string
			rid, iid pgtype.UUID
			det      string
		)
		if err := rows.Scan(&r.ID, &r.At, &r.Actor, &role, &rid, &iid, &r.Action, &r.Outcome, &r.Remote, &r.Purpose,
			&det, &r.PrevHash, &r.RowHash); err != nil {
			return n, fmt.Errorf("recordings: read audit log: %w", err)
		}
		r.Role = Role(role)
		if rid.Valid {
			r.RecordingID = rid.Bytes
		}
		if iid.Valid {
			r.InteractionID = iid.Bytes
		}
		if !bytes.Equal(r.PrevHash, prev) {
			return n, fmt.Errorf("%w at row %d: it does not follow the previous row (a row was removed or inserted)", ErrAuditChain, r.ID)
		}
		if !bytes.Equal(r.hash(det), r.RowHash) {
			return n, fmt.Errorf("%w at row %d: its contents were altered", ErrAuditChain, r.ID)
		}
		prev = r.RowHash
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("recordings: read audit log: %w", err)
	}
	return n, nil
}

// AuditLog returns the audit rows of a recording, oldest first.
func (s *Store) AuditLog(ctx context.Context, recording uuid.UUID) ([]AuditRow, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, at, actor, role, action, outcome, remote_addr, purpose
		FROM recording_access_log WHERE recording_id = $1 ORDER BY id`, recording)
	if err != nil {
		return nil, fmt.Errorf("recordings: read audit log: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (AuditRow, error) {
		var r AuditRow
		var role string
		err := row.Scan(&r.ID, &r.At, &r.Actor, &role, &r.Action, &r.Outcome, &r.Remote, &r.Purpose)
		r.Role, r.RecordingID = Role(role), recording
		return r, err
	})
}
