package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/careline/careline/store"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Projector returns the store.Projector that turns the interaction log's events into
// webhook_deliveries rows, one per subscribed endpoint, in the shipper's transaction.
// Pass it in store.Options.Projectors.
func Projector(endpoints []*Endpoint, log *slog.Logger) store.Projector {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &projector{eps: endpoints, log: log}
}

type projector struct {
	eps []*Endpoint
	log *slog.Logger
}

func (*projector) Name() string { return "webhook" }

// contact is what the campaign tables know of a dial attempt's patient.
type contact struct {
	campaign, patientRef, phone, language string
	appointmentAt                         *time.Time
	fields                                map[string]any
}

// summaryRow is the interactions row of an event's interaction.
type summaryRow struct {
	Summary
	campaign, remoteParty string
}

type pending struct {
	ev store.Event
	m  mapping
}

func (p *projector) Project(ctx context.Context, tx pgx.Tx, events []store.Event) error {
	var todo []pending
	var iids []pgtype.UUID
	for _, ev := range events {
		m, ok := fromLog[ev.Type]
		if !ok || !p.anyWants(m.typ) {
			continue
		}
		todo = append(todo, pending{ev: ev, m: m})
		if ev.InteractionID != uuid.Nil {
			iids = append(iids, pgtype.UUID{Bytes: ev.InteractionID, Valid: true})
		}
	}
	if len(todo) == 0 {
		return nil
	}
	contacts, summaries, err := lookup(ctx, tx, iids)
	if err != nil {
		return err
	}
	var (
		wids                []pgtype.UUID
		names, types, bodys []string
		ats                 []time.Time
	)
	seen := map[[2]string]bool{}
	for _, t := range todo {
		ev := t.ev
		c := contacts[ev.InteractionID]
		s := summaries[ev.InteractionID]
		if t.m.typ == InteractionEnded && ev.Type == "call.ended" && s != nil && s.Kind == "dial_attempt" {
			continue // a dial attempt's summary waits for dialer.attempt.ended (its disposition)
		}
		campaign := ""
		if c != nil {
			campaign = c.campaign
		} else if s != nil {
			campaign = s.campaign
		}
		if campaign == "" {
			if v, ok := ev.Detail["campaign"].(string); ok {
				campaign = v
			}
		}
		wid := webhookID(ev, t.m)
		for _, e := range p.eps {
			if !e.wants(t.m.typ, campaign) {
				continue
			}
			key := [2]string{wid.String(), e.Name}
			if seen[key] {
				continue
			}
			seen[key] = true
			b, err := json.Marshal(buildBody(ev, t.m.typ, wid, campaign, c, s, e))
			if err != nil {
				return fmt.Errorf("webhook: encode %s: %w", t.m.typ, err)
			}
			wids = append(wids, pgtype.UUID{Bytes: wid, Valid: true})
			names = append(names, e.Name)
			types = append(types, t.m.typ)
			bodys = append(bodys, string(b))
			ats = append(ats, ev.At)
		}
	}
	if len(wids) == 0 {
		return nil
	}
	// next_at and retry_from start at the event's time: due at once.
	_, err = tx.Exec(ctx, `INSERT INTO webhook_deliveries (webhook_id, endpoint, event_type, event_at, body, next_at, retry_from)
		SELECT w, e, t, a, b, a, a FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::text[]) AS u(w, e, t, a, b)
		ON CONFLICT (webhook_id, endpoint) DO NOTHING`, wids, names, types, ats, bodys)
	if err != nil {
		return fmt.Errorf("webhook: insert deliveries: %w", err)
	}
	_, err = tx.Exec(ctx, `SELECT pg_notify($1, '')`, notifyChannel)
	if err != nil {
		return fmt.Errorf("webhook: notify: %w", err)
	}
	return nil
}

// notifyChannel wakes deliverers when the shipper commits new rows.
const notifyChannel = "careline_webhooks"

func (p *projector) anyWants(typ string) bool {
	for _, e := range p.eps {
		if slices.Contains(e.Events, typ) {
			return true
		}
	}
	return false
}

func lookup(ctx context.Context, tx pgx.Tx, iids []pgtype.UUID) (map[uuid.UUID]*contact, map[uuid.UUID]*summaryRow, error) {
	contacts := map[uuid.UUID]*contact{}
	summaries := map[uuid.UUID]*summaryRow{}
	if len(iids) == 0 {
		return contacts, summaries, nil
	}
	rows, err := tx.Query(ctx, `SELECT a.id, c.campaign, c.patient_ref, c.phone, c.language, c.appointment_at, c.fields
		FROM contact_attempts a JOIN campaign_contacts c ON c.id = a.contact_id WHERE a.id = ANY($1)`, iids)
	if err != nil {
		return nil, nil, fmt.Errorf("webhook: read contacts: %w", err)
	}
	for rows.Next() {
		var id uuid.UUID
		c := &contact{}
		if err := rows.Scan(&id, &c.campaign, &c.patientRef, &c.phone, &c.language, &c.appointmentAt, &c.fields); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("webhook: read contacts: %w", err)
		}
		contacts[id] = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("webhook: read contacts: %w", err)
	}
	rows, err = tx.Query(ctx, `SELECT id, COALESCE(kind, ''), COALESCE(direction, ''), COALESCE(queue, ''),
			COALESCE(agent_id, ''), COALESCE(disposition, ''), COALESCE(end_reason, ''), started_at, answered_at, ended_at,
			COALESCE(recording_id, ''), COALESCE(campaign, ''), COALESCE(callback_number, remote_party, '')
		FROM interactions WHERE id = ANY($1)`, iids)
	if err != nil {
		return nil, nil, fmt.Errorf("webhook: read interactions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		s := &summaryRow{}
		if err := rows.Scan(&id, &s.Kind, &s.Direction, &s.Queue, &s.Agent, &s.Disposition, &s.EndReason,
			&s.StartedAt, &s.AnsweredAt, &s.EndedAt, &s.RecordingID, &s.campaign, &s.remoteParty); err != nil {
			return nil, nil, fmt.Errorf("webhook: read interactions: %w", err)
		}
		summaries[id] = s
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("webhook: read interactions: %w", err)
	}
	return contacts, summaries, nil
}

func buildBody(ev store.Event, typ string, wid uuid.UUID, campaign string, c *contact, s *summaryRow, e *Endpoint) Body {
	d := Data{EventID: wid.String(), Campaign: campaign}
	if ev.InteractionID != uuid.Nil {
		d.InteractionID = ev.InteractionID.String()
	}
	if c != nil {
		d.PatientRef = c.patientRef
	}
	for _, f := range e.Fields {
		var v any
		switch {
		case f == "phone" && c != nil:
			v = c.phone
		case f == "phone" && s != nil && s.remoteParty != "":
			v = s.remoteParty
		case f == "language" && c != nil:
			v = c.language
		case f == "appointment_at" && c != nil && c.appointmentAt != nil:
			v = c.appointmentAt.UTC().Format(time.RFC3339)
		case c != nil && c.fields[f] != nil:
			v = c.fields[f]
		}
		if v != nil && v != "" {
			if d.Fields == nil {
				d.Fields = map[string]any{}
			}
			d.Fields[f] = v
		}
	}
	for _, k := range detailKeys[typ] {
		if v, ok := ev.Detail[k]; ok && v != nil && v != "" {
			if d.Detail == nil {
				d.Detail = map[string]any{}
			}
			d.Detail[k] = v
		}
	}
	if typ == InteractionEnded && s != nil {
		sum := s.Summary
		if sum.EndedAt == nil {
			at := ev.At
			sum.EndedAt = &at
		}
		sum.TotalSeconds = secs(sum.StartedAt, sum.EndedAt)
		sum.RingSeconds = secs(sum.StartedAt, sum.AnsweredAt)
		sum.TalkSeconds = secs(sum.AnsweredAt, sum.EndedAt)
		d.Summary = &sum
	}
	return Body{Type: typ, Timestamp: ev.At.UTC(), Data: d}
}
