-- Agent state changes, projected from "agent.state" events by routing.AgentStateProjector:
-- one row per change (login, ready, offered, on_call, wrap_up, away with reason, logout),
-- for occupancy and adherence reports. event_id is the event's UUIDv7: replay-safe.
CREATE TABLE agent_state_changes (
    event_id        uuid PRIMARY KEY,
    at              timestamptz NOT NULL,
    agent_id        text NOT NULL,
    from_state      text NOT NULL,
    to_state        text NOT NULL,
    reason          text NOT NULL DEFAULT '',
    queue           text NOT NULL DEFAULT '',
    interaction_id  uuid            -- the call offered / answered / wrapped up, if any
);
CREATE INDEX agent_state_changes_agent_at ON agent_state_changes (agent_id, at);
CREATE INDEX agent_state_changes_at ON agent_state_changes (at);
