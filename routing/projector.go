package routing

import (
	"context"
	"fmt"

	"github.com/careline/careline/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// AgentStateProjector writes "agent.state" events to the agent_state_changes table
// (migration 0002_routing.sql). Add it to store.Options.Projectors.
type AgentStateProjector struct{}

// Name implements store.Projector.
func (AgentStateProjector) Name() string { return "routing.agent_state" }

// Project implements store.Projector. It is idempotent (keyed by event id).
func (AgentStateProjector) Project(ctx context.Context, tx pgx.Tx, events []store.Event) error {
	var (
		ids, iids                  []pgtype.UUID
		ats                        []pgtype.Timestamptz
		agents, froms, tos, rs, qs []string
	)
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	for _, ev := range events {
		if ev.Type != "agent.state" || str(ev.Detail, "agent") == "" {
			continue
		}
		ids = append(ids, pgtype.UUID{Bytes: ev.ID, Valid: true})
		iids = append(iids, pgtype.UUID{Bytes: ev.InteractionID, Valid: ev.InteractionID != [16]byte{}})
		ats = append(ats, pgtype.Timestamptz{Time: ev.At, Valid: true})
		agents = append(agents, str(ev.Detail, "agent"))
		froms = append(froms, str(ev.Detail, "from"))
		tos = append(tos, str(ev.Detail, "to"))
		rs = append(rs, str(ev.Detail, "reason"))
		qs = append(qs, str(ev.Detail, "queue"))
	}
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO agent_state_changes
		(event_id, at, agent_id, from_state, to_state, reason, queue, interaction_id)
		SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::uuid[])
		ON CONFLICT (event_id) DO NOTHING`, ids, ats, agents, froms, tos, rs, qs, iids)
	if err != nil {
		return fmt.Errorf("routing: project agent state changes: %w", err)
	}
	return nil
}
