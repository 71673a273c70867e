package report

// The queries of the daily report. Parameters: $1 start and $2 end of the local day
// (timestamptz, half-open), $3 the moment the report runs (open states end there).
// No query reads a PHI column (remote_party, phone, patient_ref, fields) or event
// details that could hold digits: only queue, language, outcome, wait, agent, state,
// node kind/exit, disposition and reason.

// dayCallsCTE selects the inbound interactions that started on the day. One whose
// start time was never logged (call.started lost) is placed by its first queue or IVR
// event; dial attempts (contact_attempts ids) are never inbound calls.
const dayCallsCTE = `day_calls AS (
	SELECT i.id, i.language
	FROM interactions i
	WHERE i.started_at >= $1::timestamptz AND i.started_at < $2::timestamptz
	  AND i.direction IS DISTINCT FROM 'outbound'
	UNION ALL
	SELECT e.interaction_id, max(i.language)
	FROM interaction_events e
	LEFT JOIN interactions i ON i.id = e.interaction_id
	WHERE e.type IN ('queue.enter', 'ivr.node_exit')
	  AND e.at >= $1::timestamptz - interval '1 day' AND e.at < $2::timestamptz
	  AND e.interaction_id IS NOT NULL
	  AND i.started_at IS NULL
	  AND i.direction IS DISTINCT FROM 'outbound'
	  AND NOT EXISTS (SELECT 1 FROM contact_attempts a WHERE a.id = e.interaction_id)
	GROUP BY e.interaction_id
	HAVING min(e.at) >= $1::timestamptz
)`

// queueVisitsSQL returns one row per queue entry of the day's calls: the queue, the
// caller's language, and, from the queue.leave that closes the entry (the first one in
// the same queue before the next entry), the outcome and the wait. For answered entries
// it adds the answering agent's on_call and wrap_up time for the call (each state lasts
// until the agent's next state change); closed is false while one is still open.
const queueVisitsSQL = `WITH ` + dayCallsCTE + `,
enters AS (
	SELECT e.interaction_id, e.at,
		COALESCE(e.detail->>'queue', '') AS queue,
		COALESCE(NULLIF(e.detail->>'language', ''), dc.language, '') AS language,
		lead(e.at) OVER (PARTITION BY e.interaction_id, e.detail->>'queue' ORDER BY e.at, e.id) AS next_at
	FROM interaction_events e
	JOIN day_calls dc ON dc.id = e.interaction_id
	WHERE e.type = 'queue.enter'
)
SELECT en.queue, en.language, COALESCE(lv.outcome, ''), COALESCE(lv.wait_ms, 0),
	COALESCE(h.talk_ms, 0), COALESCE(h.wrap_ms, 0), COALESCE(h.closed, false)
FROM enters en
LEFT JOIN LATERAL (
	SELECT l.at, COALESCE(l.detail->>'outcome', '') AS outcome, l.detail->>'agent' AS agent,
		round(COALESCE((l.detail->>'wait_ms')::numeric, extract(epoch FROM l.at - en.at) * 1000))::bigint AS wait_ms
	FROM interaction_events l
	WHERE l.interaction_id = en.interaction_id AND l.type = 'queue.leave'
	  AND l.detail->>'queue' = en.queue
	  AND l.at >= en.at AND (en.next_at IS NULL OR l.at < en.next_at)
	ORDER BY l.at, l.id
	LIMIT 1
) lv ON true
LEFT JOIN LATERAL (
	SELECT
		COALESCE(sum(s.ms) FILTER (WHERE s.to_state = 'on_call'), 0)::bigint AS talk_ms,
		COALESCE(sum(s.ms) FILTER (WHERE s.to_state = 'wrap_up'), 0)::bigint AS wrap_ms,
		bool_or(s.to_state = 'on_call') AND bool_and(s.ms IS NOT NULL) AS closed
	FROM (
		SELECT c.to_state, round(extract(epoch FROM nx.at - c.at) * 1000)::bigint AS ms
		FROM agent_state_changes c
		LEFT JOIN LATERAL (
			SELECT n.at FROM agent_state_changes n
			WHERE n.agent_id = c.agent_id AND (n.at, n.event_id) > (c.at, c.event_id)
			ORDER BY n.at, n.event_id
			LIMIT 1
		) nx ON true
		WHERE c.agent_id = lv.agent AND c.interaction_id = en.interaction_id
		  AND c.to_state IN ('on_call', 'wrap_up')
		  AND c.at >= lv.at AND c.at < lv.at + interval '1 day'
		  AND (en.next_at IS NULL OR c.at < en.next_at)
	) s
) h ON lv.outcome = 'answered'`

// agentTimeSQL sums each agent's time per state within the day: the state an agent was
// in at the start of the day (its last change before) and every change during it, each
// lasting until the next change, the end of the day or the moment the report runs.
// Agents: the configured ones ($4) and any that changed state in the last week.
const agentTimeSQL = `WITH agents AS (
	SELECT unnest($4::text[]) AS agent_id
	UNION
	SELECT DISTINCT agent_id FROM agent_state_changes
	WHERE at >= $1::timestamptz - interval '7 days' AND at < $2::timestamptz
),
ch AS (
	SELECT c.agent_id, c.at, c.event_id, c.to_state
	FROM agent_state_changes c
	WHERE c.at >= $1::timestamptz AND c.at < $2::timestamptz
	UNION ALL
	SELECT a.agent_id, p.at, p.event_id, p.to_state
	FROM agents a
	CROSS JOIN LATERAL (
		SELECT b.at, b.event_id, b.to_state FROM agent_state_changes b
		WHERE b.agent_id = a.agent_id AND b.at < $1::timestamptz
		ORDER BY b.at DESC, b.event_id DESC
		LIMIT 1
	) p
),
iv AS (
	SELECT agent_id, to_state,
		greatest(at, $1::timestamptz) AS s,
		least(COALESCE(lead(at) OVER (PARTITION BY agent_id ORDER BY at, event_id), $3::timestamptz), $2::timestamptz) AS e
	FROM ch
)
SELECT a.agent_id, COALESCE(iv.to_state, ''),
	COALESCE(sum(round(extract(epoch FROM iv.e - iv.s) * 1000)), 0)::bigint
FROM agents a
LEFT JOIN iv ON iv.agent_id = a.agent_id AND iv.e > iv.s
GROUP BY 1, 2`

// agentCountsSQL counts, per agent, the calls taken (on_call changes) and the RONAs
// (agent.rona events) of the day.
const agentCountsSQL = `SELECT agent_id, sum(calls)::bigint, sum(rona)::bigint FROM (
	SELECT agent_id, count(*) AS calls, 0 AS rona
	FROM agent_state_changes
	WHERE at >= $1::timestamptz AND at < $2::timestamptz AND to_state = 'on_call'
	GROUP BY agent_id
	UNION ALL
	SELECT detail->>'agent', 0, count(*)
	FROM interaction_events
	WHERE type = 'agent.rona' AND at >= $1::timestamptz AND at < $2::timestamptz AND detail ? 'agent'
	GROUP BY detail->>'agent'
) x GROUP BY agent_id`

// ivrCallsSQL groups the day's inbound calls that ran an IVR flow by language,
// whether they entered a queue, and their last node exit (kind, exit), with the number
// of refill.requested events.
const ivrCallsSQL = `WITH ` + dayCallsCTE + `
SELECT COALESCE(dc.language, ''),
	EXISTS (SELECT 1 FROM interaction_events q WHERE q.interaction_id = dc.id AND q.type = 'queue.enter') AS queued,
	COALESCE(lx.kind, ''), COALESCE(lx.exit, ''),
	count(*),
	sum((SELECT count(*) FROM interaction_events r WHERE r.interaction_id = dc.id AND r.type = 'refill.requested'))::bigint
FROM day_calls dc
JOIN LATERAL (
	SELECT e.detail->>'kind' AS kind, e.detail->>'exit' AS exit
	FROM interaction_events e
	WHERE e.interaction_id = dc.id AND e.type = 'ivr.node_exit'
	ORDER BY e.at DESC, e.id DESC
	LIMIT 1
) lx ON true
GROUP BY 1, 2, 3, 4`

// ivrEventsSQL counts the business events IVR nodes logged (detail has flow and node)
// on the day's inbound calls, by type and the call's language.
const ivrEventsSQL = `WITH ` + dayCallsCTE + `
SELECT e.type, COALESCE(dc.language, ''), count(*)
FROM interaction_events e
JOIN day_calls dc ON dc.id = e.interaction_id
WHERE e.type <> 'ivr.node_exit' AND e.detail ? 'flow' AND e.detail ? 'node'
GROUP BY 1, 2`

// campaignSQL counts the attempts dialed on the day per campaign.
const campaignSQL = `SELECT campaign, count(*),
	count(*) FILTER (WHERE answered_at IS NOT NULL),
	count(*) FILTER (WHERE live_answer),
	count(*) FILTER (WHERE amd_result = 'machine'),
	count(*) FILTER (WHERE abandoned),
	count(*) FILTER (WHERE state <> 'done')
FROM contact_attempts
WHERE started_at >= $1::timestamptz AND started_at < $2::timestamptz
GROUP BY campaign`

// dispositionSQL counts the day's attempts per campaign and disposition.
const dispositionSQL = `SELECT campaign,
	COALESCE(NULLIF(disposition, ''), CASE WHEN state <> 'done' THEN 'in_progress' ELSE 'unknown' END),
	count(*)
FROM contact_attempts
WHERE started_at >= $1::timestamptz AND started_at < $2::timestamptz
GROUP BY 1, 2`

// blockedSQL counts the gate's refusals of the day per campaign and reason, and per
// campaign (subtotal: distinct contacts over every reason).
const blockedSQL = `SELECT campaign, COALESCE(reason, ''), GROUPING(reason) = 1, count(*), count(DISTINCT contact_id)
FROM dial_decisions
WHERE NOT allowed AND at >= $1::timestamptz AND at < $2::timestamptz
GROUP BY GROUPING SETS ((campaign, reason), (campaign))`
