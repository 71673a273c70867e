package routing

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// PendingCallback is a callback accepted by an earlier run and not finished: its
// queue.callback event has no queue.leave after it.
type PendingCallback struct {
	InteractionID uuid.UUID
	Queue         string
	Number        string // PHI: never logged
	Language      string
	Priority      int
	EnqueuedAt    time.Time // its place in line
	Expires       time.Time
}

// Querier is what PendingCallbacks needs of a pgx pool or transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// PendingCallbacks reads, from the interaction log, the callbacks that were accepted
// since `since` and have not left their queue (connected, expired, cancelled, failed).
// The caller must have shipped the local outbox first, or it will miss the newest.
func PendingCallbacks(ctx context.Context, q Querier, since time.Time) ([]PendingCallback, error) {
	rows, err := q.Query(ctx, `
		SELECT DISTINCT ON (e.interaction_id) e.interaction_id, e.detail->>'queue', i.callback_number,
			coalesce(e.detail->>'language', ''), coalesce((e.detail->>'priority')::int, 0),
			(e.detail->>'enqueued_at')::timestamptz, (e.detail->>'expires_at')::timestamptz
		FROM interaction_events e JOIN interactions i ON i.id = e.interaction_id
		WHERE e.type = 'queue.callback' AND e.at >= $1
		  AND e.detail ? 'expires_at' AND e.detail ? 'enqueued_at' AND i.callback_number IS NOT NULL
		  AND NOT EXISTS (SELECT 1 FROM interaction_events l WHERE l.interaction_id = e.interaction_id
		                  AND l.type = 'queue.leave' AND l.at >= e.at)
		ORDER BY e.interaction_id, e.at DESC`, since)
	if err != nil {
		return nil, fmt.Errorf("routing: pending callbacks: %w", err)
	}
	defer rows.Close()
	var out []PendingCallback
	for rows.Next() {
		var p PendingCallback
		if err := rows.Scan(&p.InteractionID, &p.Queue, &p.Number, &p.Language, &p.Priority, &p.EnqueuedAt, &p.Expires); err != nil {
			return nil, fmt.Errorf("routing: pending callbacks: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("routing: pending callbacks: %w", err)
	}
	return out, nil
}
