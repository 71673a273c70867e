package dialer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Querier runs queries: a pool, a connection or a transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Contact is one patient of one campaign, as the gate and runner see it. Phone,
// PatientRef and Fields are PHI: never log them.
type Contact struct {
	ID            int64
	Campaign      string
	PatientRef    string
	Phone         string // E.164
	Language      string
	Zones         []string // candidate IANA zones; all must be inside the window
	State         string   // US state ("" unknown)
	Fields        map[string]string
	AppointmentAt *time.Time
	Attempts      int // attempts made so far
	LastAttemptAt *time.Time
}

// EnsureCampaign creates the campaign's state row (stopped) if it does not exist.
func EnsureCampaign(ctx context.Context, q Querier, c *Campaign) error {
	_, err := q.Exec(ctx, `INSERT INTO campaigns (name, purpose) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
		c.Name, string(c.Purpose))
	if err != nil {
		return fmt.Errorf("dialer: ensure campaign %s: %w", c.Name, err)
	}
	return nil
}

// SyncCampaigns creates the state rows of every configured campaign (new ones start
// stopped; existing ones keep their state across restarts).
func SyncCampaigns(ctx context.Context, pool *pgxpool.Pool, cs map[string]*Campaign) error {
	for _, c := range cs {
		if err := EnsureCampaign(ctx, pool, c); err != nil {
			return err
		}
	}
	return nil
}

// State is a campaign's run state, kept in Postgres.
type State string

// The states.
const (
	Running State = "running"
	Paused  State = "paused"
	Stopped State = "stopped"
)

// ErrUnknownCampaign is returned for a campaign that is not configured.
var ErrUnknownCampaign = errors.New("dialer: unknown campaign")

// ErrTransition is matched by a refused state change (e.g. resume a stopped campaign).
var ErrTransition = errors.New("dialer: campaign state change not allowed")

// CampaignState reads a campaign's state.
func CampaignState(ctx context.Context, q Querier, name string) (State, error) {
	var s string
	err := q.QueryRow(ctx, `SELECT state FROM campaigns WHERE name = $1`, name).Scan(&s)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("%w: %s", ErrUnknownCampaign, name)
	}
	if err != nil {
		return "", fmt.Errorf("dialer: campaign state: %w", err)
	}
	return State(s), nil
}

// setState moves a campaign to a state from one of the allowed states. Reaching a
// state the campaign is already in is not an error.
func setState(ctx context.Context, pool *pgxpool.Pool, name, by string, to State, from ...State) (State, error) {
	var prev string
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT state FROM campaigns WHERE name = $1 FOR UPDATE`, name).Scan(&prev); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("%w: %s", ErrUnknownCampaign, name)
			}
			return err
		}
		if State(prev) == to {
			return nil
		}
		ok := false
		for _, f := range from {
			ok = ok || State(prev) == f
		}
		if !ok {
			return fmt.Errorf("%w: %s is %s", ErrTransition, name, prev)
		}
		_, err := tx.Exec(ctx, `UPDATE campaigns SET state = $2, changed_at = now(), changed_by = $3 WHERE name = $1`, name, string(to), by)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrUnknownCampaign) || errors.Is(err, ErrTransition) {
			return State(prev), err
		}
		return State(prev), fmt.Errorf("dialer: set campaign state: %w", err)
	}
	return State(prev), nil
}

// Start, Pause, Resume and Stop change a campaign's state in Postgres. Runners on
// every node see the change at their next step (within a poll interval); calls already
// up are never cut. by names who asked (for the audit column). They return the state
// before the change.
func Start(ctx context.Context, pool *pgxpool.Pool, name, by string) (State, error) {
	return setState(ctx, pool, name, by, Running, Stopped)
}

// Pause stops new dials of a running campaign; Resume restarts them.
func Pause(ctx context.Context, pool *pgxpool.Pool, name, by string) (State, error) {
	return setState(ctx, pool, name, by, Paused, Running)
}

// Resume restarts a paused campaign.
func Resume(ctx context.Context, pool *pgxpool.Pool, name, by string) (State, error) {
	return setState(ctx, pool, name, by, Running, Paused)
}

// Stop ends dialing of a running or paused campaign (it can be started again).
func Stop(ctx context.Context, pool *pgxpool.Pool, name, by string) (State, error) {
	return setState(ctx, pool, name, by, Stopped, Running, Paused)
}

// OptOut records that a phone (and patient) asked for no more calls. It is checked by
// the gate before every dial.
func OptOut(ctx context.Context, q Querier, phone, patientRef, source, campaign string, attempt uuid.UUID) error {
	var aid *uuid.UUID
	if attempt != uuid.Nil {
		aid = &attempt
	}
	_, err := q.Exec(ctx, `INSERT INTO opt_outs (phone, patient_ref, source, campaign, attempt_id)
		VALUES ($1, NULLIF($2, ''), $3, NULLIF($4, ''), $5) ON CONFLICT (phone) DO NOTHING`,
		phone, patientRef, source, campaign, aid)
	if err != nil {
		return fmt.Errorf("dialer: opt-out: %w", err)
	}
	return nil
}

// phoneHistory is what the gate needs from Postgres about a phone.
type phoneHistory struct {
	optedOut bool
	today    int        // attempts on the patient's local today
	week     int        // attempts in the last 7 local days
	oldest   *time.Time // local date of the oldest attempt of the week (as midnight UTC)
	last     *time.Time // start of the last attempt (any campaign)
}

func loadHistory(ctx context.Context, q Querier, phone, patientRef string, today time.Time) (phoneHistory, error) {
	var h phoneHistory
	err := q.QueryRow(ctx, `SELECT
			EXISTS (SELECT 1 FROM opt_outs WHERE phone = $1 OR (patient_ref = $2 AND $2 <> '')),
			count(*) FILTER (WHERE local_date = $3::date),
			count(*) FILTER (WHERE local_date > $3::date - 7 AND local_date <= $3::date),
			min(local_date::timestamp AT TIME ZONE 'UTC') FILTER (WHERE local_date > $3::date - 7 AND local_date <= $3::date),
			max(started_at)
		FROM contact_attempts WHERE phone = $1`, phone, patientRef, today.Format("2006-01-02")).
		Scan(&h.optedOut, &h.today, &h.week, &h.oldest, &h.last)
	if err != nil {
		return h, fmt.Errorf("dialer: phone history: %w", err)
	}
	return h, nil
}

// recordDecision writes the dial decision row.
func recordDecision(ctx context.Context, q Querier, node string, c *Campaign, ct *Contact, d Decision, attempt *uuid.UUID) error {
	detail, _ := json.Marshal(d.Detail)
	var next *time.Time
	if !d.Next.IsZero() {
		next = &d.Next
	}
	_, err := q.Exec(ctx, `INSERT INTO dial_decisions (id, at, campaign, contact_id, attempt_id, allowed, reason, local_time, next_at, node, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		d.ID, d.At, c.Name, ct.ID, attempt, d.Allowed, string(d.Reason), d.LocalTime, next, node, detail)
	if err != nil {
		return fmt.Errorf("dialer: record decision: %w", err)
	}
	return nil
}

// AbandonStats are a campaign's live answers and abandons over a window.
type AbandonStats struct {
	Live      int
	Abandoned int
}

// Ratio is the observed abandon rate (0 with no live answers).
func (s AbandonStats) Ratio() float64 {
	if s.Live == 0 {
		return 0
	}
	return float64(s.Abandoned) / float64(s.Live)
}

// Upper is the one-sided 95% Clopper-Pearson upper bound of the abandon rate.
func (s AbandonStats) Upper() float64 { return ClopperPearsonUpper(s.Abandoned, s.Live, 0.95) }

// AbandonWindow is the measurement window of the abandon rate (47 CFR 64.1200(a)(7)).
const AbandonWindow = 30 * 24 * time.Hour

// LoadAbandonStats counts a campaign's live answers and abandons in the 30 days to now.
func LoadAbandonStats(ctx context.Context, q Querier, campaign string, now time.Time) (AbandonStats, error) {
	var s AbandonStats
	err := q.QueryRow(ctx, `SELECT count(*) FILTER (WHERE live_answer), count(*) FILTER (WHERE abandoned)
		FROM contact_attempts WHERE campaign = $1 AND live_answer AND answered_at > $2`,
		campaign, now.Add(-AbandonWindow)).Scan(&s.Live, &s.Abandoned)
	if err != nil {
		return s, fmt.Errorf("dialer: abandon stats: %w", err)
	}
	return s, nil
}

// ContactCounts are a campaign's contacts by status.
type ContactCounts struct {
	Pending   int `json:"pending"`
	Dialing   int `json:"dialing"`
	Done      int `json:"done"`
	Exhausted int `json:"exhausted"`
	OptedOut  int `json:"opted_out"`
	Expired   int `json:"expired"`
}

func loadCounts(ctx context.Context, q Querier, campaign string) (ContactCounts, error) {
	var c ContactCounts
	err := q.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'dialing'),
		count(*) FILTER (WHERE status = 'done'), count(*) FILTER (WHERE status = 'exhausted'),
		count(*) FILTER (WHERE status = 'opted_out'), count(*) FILTER (WHERE status = 'expired')
		FROM campaign_contacts WHERE campaign = $1`, campaign).
		Scan(&c.Pending, &c.Dialing, &c.Done, &c.Exhausted, &c.OptedOut, &c.Expired)
	if err != nil {
		return c, fmt.Errorf("dialer: contact counts: %w", err)
	}
	return c, nil
}
