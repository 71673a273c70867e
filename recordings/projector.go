package recordings

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/careline/careline/store"
)

// Projector returns the store.Projector that keeps the recordings table from
// recording.started (insert) and recording.stopped (complete) events, inside the
// shipper's transaction. Pass it in store.Options.Projectors. An event whose detail
// cannot be read is logged and skipped (it stays in interaction_events).
func Projector(log *slog.Logger) store.Projector {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return projector{log: log}
}

type projector struct{ log *slog.Logger }

func (projector) Name() string { return "recordings" }

func (p projector) Project(ctx context.Context, tx pgx.Tx, events []store.Event) error {
	b := &pgx.Batch{}
	for _, ev := range events {
		var err error
		switch ev.Type {
		case EventStarted:
			err = queueStarted(b, ev)
		case EventStopped:
			err = queueStopped(b, ev)
		default:
			continue
		}
		if err != nil {
			p.log.Error("recordings: event not projected", "event", ev.ID, "type", ev.Type, "err", err)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("recordings: project events: %w", err)
	}
	return nil
}

type detail map[string]any

func (d detail) str(k string) string { s, _ := d[k].(string); return s }

func (d detail) text(k string) pgtype.Text {
	s := d.str(k)
	return pgtype.Text{String: s, Valid: s != ""}
}

func (d detail) int(k string) (int64, error) {
	switch v := d[k].(type) {
	case float64:
		return int64(v), nil
	case int:
		return int64(v), nil
	case int64:
		return v, nil
	}
	return 0, fmt.Errorf("detail %s missing", k)
}

func (d detail) time(k string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, d.str(k))
	if err != nil {
		return t, fmt.Errorf("detail %s: %w", k, err)
	}
	return t, nil
}

func (d detail) id() (uuid.UUID, error) {
	id, err := uuid.Parse(d.str("recording_id"))
	if err != nil {
		return id, fmt.Errorf("detail recording_id: %w", err)
	}
	return id, nil
}

func queueStarted(b *pgx.Batch, ev store.Event) error {
	d := detail(ev.Detail)
	id, err := d.id()
	if err != nil {
		return err
	}
	started, err := d.time("started_at")
	if err != nil {
		return err
	}
	until, err := d.time("retention_until")
	if err != nil {
		return err
	}
	channels, err := d.int("channels")
	if err != nil {
		return err
	}
	legs := []string{}
	if l, ok := d["legs"].([]any); ok {
		for _, x := range l {
			if s, ok := x.(string); ok {
				legs = append(legs, s)
			}
		}
	}
	kind, node, key, path := d.str("kind"), d.str("node"), d.str("key_id"), d.str("path")
	if kind == "" || node == "" || key == "" || path == "" {
		return fmt.Errorf("detail incomplete")
	}
	iid := pgtype.UUID{Bytes: ev.InteractionID, Valid: ev.InteractionID != uuid.Nil}
	b.Queue(`INSERT INTO recordings (id, interaction_id, kind, legs, channels, queue, campaign, language, box, node,
			started_at, key_id, path, retention_until)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (id) DO NOTHING`,
		id, iid, kind, legs, channels, d.text("queue"), d.text("campaign"), d.text("language"), d.text("box"), node,
		started, key, path, until)
	return nil
}

func queueStopped(b *pgx.Batch, ev store.Event) error {
	d := detail(ev.Detail)
	id, err := d.id()
	if err != nil {
		return err
	}
	ended, err := d.time("ended_at")
	if err != nil {
		return err
	}
	var n [3]int64
	for i, k := range []string{"duration_ms", "audio_bytes", "size_bytes"} {
		if n[i], err = d.int(k); err != nil {
			return err
		}
	}
	sum := d.str("checksum_sha256")
	if len(sum) != 64 {
		return fmt.Errorf("detail checksum_sha256 missing")
	}
	b.Queue(`UPDATE recordings SET status = 'complete', ended_at = $2, duration_ms = $3, audio_bytes = $4,
			size_bytes = $5, checksum_sha256 = $6
		WHERE id = $1 AND status = 'recording'`, id, ended, n[0], n[1], n[2], sum)
	return nil
}
