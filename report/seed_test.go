package report

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/careline/careline/internal/testenv"
	"github.com/careline/careline/store"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PHI planted in the seeded database; none of it may appear in a report.
var plantedPHI = []string{"1512555", "MRN-0042", "Maria Lopez", "4412345", "9f2c71d0"}

// newDB returns a fresh migrated database.
func newDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := store.Migrate(ctx, pool); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return pool
}

// seeder writes rows the way the engine's shipper and projectors do, queued in one
// batch.
type seeder struct {
	t     *testing.T
	loc   *time.Location
	day   Date
	batch pgx.Batch
	enter map[uuid.UUID]time.Time // last queue entry per call
	phone int
}

func newSeeder(t *testing.T, loc *time.Location, day Date) *seeder {
	return &seeder{t: t, loc: loc, day: day, enter: map[uuid.UUID]time.Time{}}
}

// on returns the local time hh:mm:ss on day d.
func (s *seeder) on(d Date, hms string) time.Time {
	s.t.Helper()
	var h, m, sec int
	if _, err := parseHMS(hms, &h, &m, &sec); err != nil {
		s.t.Fatalf("bad time %q", hms)
	}
	return time.Date(d.Year, d.Month, d.Day, h, m, sec, 0, s.loc)
}

// T is a local time on the seeded day, N on the next day, P on the previous day.
func (s *seeder) T(hms string) time.Time { return s.on(s.day, hms) }
func (s *seeder) N(hms string) time.Time { return s.on(s.day.AddDays(1), hms) }
func (s *seeder) P(hms string) time.Time { return s.on(s.day.AddDays(-1), hms) }

func parseHMS(v string, h, m, sec *int) (int, error) {
	t, err := time.Parse("15:04:05", v)
	if err != nil {
		return 0, err
	}
	*h, *m, *sec = t.Clock()
	return 3, nil
}

func (s *seeder) exec(sql string, args ...any) { s.batch.Queue(sql, args...) }

func (s *seeder) flush(ctx context.Context, pool *pgxpool.Pool) {
	s.t.Helper()
	if err := pool.SendBatch(ctx, &s.batch).Close(); err != nil {
		s.t.Fatalf("seed: %v", err)
	}
	s.batch = pgx.Batch{}
}

// event inserts one interaction event.
func (s *seeder) event(iid uuid.UUID, typ string, at time.Time, detail map[string]any) uuid.UUID {
	id := store.NewID()
	b, _ := json.Marshal(detail)
	var ii any
	if iid != uuid.Nil {
		ii = iid
	}
	s.exec(`INSERT INTO interaction_events (id, interaction_id, type, at, detail) VALUES ($1, $2, $3, $4, $5::jsonb)`,
		id, ii, typ, at, string(b))
	return id
}

func (s *seeder) nextPhone() string {
	s.phone++
	return "+1512555" + strings.Repeat("0", 4-len(itoa(s.phone))) + itoa(s.phone)
}

// call starts an inbound call (interactions row as the shipper leaves it, call.started).
func (s *seeder) call(lang string, start time.Time) uuid.UUID {
	iid := store.NewID()
	s.exec(`INSERT INTO interactions (id, kind, direction, started_at, language, did, trunk, remote_party)
		VALUES ($1, 'call', 'inbound', $2, $3, '+15125550100', 'local-sipp', $4)`, iid, start, lang, s.nextPhone())
	s.event(iid, "call.started", start, map[string]any{"source": "trunk", "trunk": "local-sipp"})
	s.event(iid, "call.answered", start.Add(time.Second), map[string]any{"codec": "PCMU"})
	return iid
}

func (s *seeder) ended(iid uuid.UUID, at time.Time, reason string) {
	s.exec(`UPDATE interactions SET ended_at = $2, end_reason = $3 WHERE id = $1`, iid, at, reason)
	s.event(iid, "call.ended", at, map[string]any{"reason": reason, "app": "flow:pharmacy"})
}

func (s *seeder) node(iid uuid.UUID, at time.Time, node, kind, exit string) {
	s.event(iid, "ivr.node_exit", at, map[string]any{"flow": "pharmacy", "node": node, "kind": kind, "exit": exit})
}

// refill logs the refill node's exit and its business event (a digits category and a
// keyed hash, never the number).
func (s *seeder) refill(iid uuid.UUID, at time.Time) {
	s.node(iid, at, "refill", "collect", "ok")
	s.event(iid, "refill.requested", at, map[string]any{"flow": "pharmacy", "node": "refill", "var": "rx_number",
		"value": "len:7", "hash": "k1:9f2c71d0"})
}

// queued is an inbound call that goes through the menu into queue at enter.
func (s *seeder) queued(lang string, start time.Time, queue string, enter time.Time) uuid.UUID {
	iid := s.call(lang, start)
	s.node(iid, enter.Add(-5*time.Second), "main_menu", "menu", "option:2")
	s.node(iid, enter, queue, "queue", "ok")
	s.enterQueue(iid, queue, lang, enter)
	return iid
}

func (s *seeder) enterQueue(iid uuid.UUID, queue, lang string, at time.Time) {
	s.enter[iid] = at
	s.exec(`UPDATE interactions SET queue = $2 WHERE id = $1`, iid, queue)
	s.event(iid, "queue.enter", at, map[string]any{"queue": queue, "priority": 0, "language": lang})
}

func (s *seeder) leave(iid uuid.UUID, queue, outcome string, at time.Time, extra map[string]any) {
	d := map[string]any{"queue": queue, "outcome": outcome, "wait_ms": at.Sub(s.enter[iid]).Milliseconds()}
	for k, v := range extra {
		d[k] = v
	}
	s.event(iid, "queue.leave", at, d)
}

func (s *seeder) offer(iid uuid.UUID, queue, agent string, at time.Time) {
	s.event(iid, "queue.offer", at, map[string]any{"queue": queue, "agent": agent, "attempt": 1, "callback": false,
		"wait_ms": at.Sub(s.enter[iid]).Milliseconds()})
}

func (s *seeder) answered(iid uuid.UUID, queue, agent string, at time.Time) {
	s.exec(`UPDATE interactions SET agent_id = $2 WHERE id = $1`, iid, agent)
	s.event(iid, "queue.answer", at, map[string]any{"queue": queue, "agent": agent, "ring_ms": 10000,
		"wait_ms": at.Sub(s.enter[iid]).Milliseconds()})
	s.leave(iid, queue, "answered", at, map[string]any{"agent": agent})
	s.event(iid, "bridge.started", at, map[string]any{"agent": agent, "queue": queue})
}

// step is one agent state change: to state (reason) at, about call iid.
type step struct {
	at     time.Time
	to     string
	reason string
	iid    uuid.UUID
	queue  string
}

// agent writes an agent's state changes as routing.AgentStateProjector does (and the
// agent.state events they come from).
func (s *seeder) agent(id, from string, steps ...step) {
	for _, st := range steps {
		queue := st.queue
		evID := s.event(st.iid, "agent.state", st.at, map[string]any{"agent": id, "from": from, "to": st.to,
			"reason": st.reason, "queue": queue})
		var ii any
		if st.iid != uuid.Nil {
			ii = st.iid
		}
		s.exec(`INSERT INTO agent_state_changes (event_id, at, agent_id, from_state, to_state, reason, queue, interaction_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, evID, st.at, id, from, st.to, st.reason, queue, ii)
		from = st.to
	}
}

// handled returns the steps of an agent taking call iid: offered, on call, wrap-up, ready.
func handled(iid uuid.UUID, offered, answered, ended, ready time.Time) []step {
	return []step{{offered, "offered", "", iid, ""}, {answered, "on_call", "answered", iid, ""},
		{ended, "wrap_up", "call_ended", iid, ""}, {ready, "ready", "wrap_up_done", iid, ""}}
}

func cat(parts ...[]step) []step {
	var out []step
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// contact inserts a campaign contact (PHI columns filled) and returns its id.
func contact(t *testing.T, ctx context.Context, pool *pgxpool.Pool, campaign, phone string) int64 {
	t.Helper()
	var id int64
	err := pool.QueryRow(ctx, `INSERT INTO campaign_contacts (campaign, patient_ref, phone, language, time_zones, tz_source,
		fields, dedupe_key) VALUES ($1, 'MRN-0042', $2, 'en', '{America/Chicago}', 'record',
		'{"patient_name": "Maria Lopez", "rx": "4412345"}', $3) RETURNING id`, campaign, phone, uuid.NewString()).Scan(&id)
	if err != nil {
		t.Fatalf("contact: %v", err)
	}
	return id
}

// attempt is one dial attempt of a campaign.
type attempt struct {
	started               time.Time
	state                 string // done, dialing
	answered              bool
	dialResult, amd, disp string
	live, abandoned       bool
}

func (s *seeder) attempt(campaign string, contactID int64, phone string, a attempt) uuid.UUID {
	id := store.NewID()
	var ans, end any
	if a.answered {
		ans = a.started.Add(8 * time.Second)
	}
	if a.state == "done" {
		end = a.started.Add(70 * time.Second)
	}
	nz := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	s.exec(`INSERT INTO contact_attempts (id, contact_id, campaign, phone, attempt_no, state, node, lease_until, started_at,
		local_date, answered_at, ended_at, dial_result, amd_result, live_answer, abandoned, disposition)
		VALUES ($1, $2, $3, $4, 1, $5, 'n1', $6, $7, $8::date, $9, $10, $11, $12, $13, $14, $15)`,
		id, contactID, campaign, phone, a.state, a.started.Add(time.Minute), a.started, DateOf(a.started).String(),
		ans, end, nz(a.dialResult), nz(a.amd), a.live, a.abandoned, nz(a.disp))
	s.exec(`INSERT INTO interactions (id, kind, direction, started_at, answered_at, ended_at, language, campaign, remote_party, disposition)
		VALUES ($1, 'dial_attempt', 'outbound', $2, $3, $4, 'en', $5, $6, $7)`, id, a.started, ans, end, campaign, phone, nz(a.disp))
	s.event(id, "dialer.attempt.started", a.started, map[string]any{"campaign": campaign, "contact_id": contactID,
		"attempt_no": 1, "pacing": "agentless"})
	s.decision(campaign, contactID, a.started, true, "allowed", id)
	return id
}

func (s *seeder) decision(campaign string, contactID int64, at time.Time, allowed bool, reason string, attemptID uuid.UUID) {
	var aid any
	if attemptID != uuid.Nil {
		aid = attemptID
	}
	s.exec(`INSERT INTO dial_decisions (id, at, campaign, contact_id, attempt_id, allowed, reason, local_time, node, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'n1', '{"zones": ["America/Chicago"]}')`,
		store.NewID(), at, campaign, contactID, aid, allowed, reason, at.Format(time.RFC3339))
}
