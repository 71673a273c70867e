package webhook

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func stringsReplace(s, old, repl string) string {
	if old == "" {
		return s
	}
	return strings.ReplaceAll(s, old, repl)
}

// DeadLetter is one delivery whose retries were given up.
type DeadLetter struct {
	ID         int64     `json:"id"`
	WebhookID  string    `json:"webhook_id"`
	Endpoint   string    `json:"endpoint"`
	Type       string    `json:"type"`
	EventAt    time.Time `json:"event_at"`
	Attempts   int       `json:"attempts"`
	LastStatus *int      `json:"last_status,omitempty"`
	LastError  string    `json:"last_error"`
}

// DeadLetters lists dead deliveries, of one endpoint when endpoint is not empty.
func DeadLetters(ctx context.Context, pool *pgxpool.Pool, endpoint string) ([]DeadLetter, error) {
	rows, err := pool.Query(ctx, `SELECT id, webhook_id::text, endpoint, event_type, event_at, attempts, last_status, last_error
		FROM webhook_deliveries WHERE state = 'dead' AND ($1 = '' OR endpoint = $1) ORDER BY id`, endpoint)
	if err != nil {
		return nil, fmt.Errorf("webhook: dead letters: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DeadLetter, error) {
		var d DeadLetter
		err := r.Scan(&d.ID, &d.WebhookID, &d.Endpoint, &d.Type, &d.EventAt, &d.Attempts, &d.LastStatus, &d.LastError)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("webhook: dead letters: %w", err)
	}
	return out, nil
}

// Replay makes dead deliveries due again with a fresh retry period: the given ids, or
// every dead delivery (of endpoint, when not empty) when ids is empty. It returns how
// many it replayed. The webhook id is unchanged, so a receiver that got one already
// recognises it.
func Replay(ctx context.Context, pool *pgxpool.Pool, endpoint string, ids []int64, now time.Time) (int64, error) {
	tag, err := pool.Exec(ctx, `UPDATE webhook_deliveries SET state = 'pending', next_at = $3, retry_from = $3, attempts = 0
		WHERE state = 'dead' AND ($1 = '' OR endpoint = $1) AND (COALESCE(cardinality($2::bigint[]), 0) = 0 OR id = ANY($2))`,
		endpoint, ids, now)
	if err != nil {
		return 0, fmt.Errorf("webhook: replay: %w", err)
	}
	return tag.RowsAffected(), nil
}
