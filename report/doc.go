// Package report builds careline's operational reports from the PostgreSQL interaction
// log; its one job is the daily report (Daily), written as CSV (WriteCSV) or as one
// self-contained HTML page (WriteHTML).
//
// # Day
//
// The day is the site's local calendar day (site.timezone): from local midnight to the
// next local midnight, 23 or 25 hours on daylight-saving days (Date.Bounds). Calls are
// counted on the day they started, even when they wait, are answered or end after
// midnight; an interaction whose call.started was lost is placed by its first queue or
// IVR event. Agent time is clipped to the day: a shift over midnight is split between
// the two days. Campaign attempts count on the day they were dialed and compliance
// blocks on the day they were decided, both in the site's time zone. All queries run
// in one read-only REPEATABLE READ transaction, so every section sees the same snapshot.
//
// # Definitions
//
// Queues (per queue and per caller language; "all" rows add them up). One queue entry
// (queue.enter event) is one offered call; its outcome is the queue.leave that follows
// it in the same queue. Overflow into a queue and a re-queue after a lost agent are new
// entries. offered = answered + abandoned + overflowed + callbacks + unresolved, where
// unresolved counts entries with no queue.leave (still waiting when the report ran, or
// the log is incomplete). short_abandoned (a subset of abandoned) waited less than the
// short-abandon time (default 10 s). Waits are the router's wait_ms. Service level =
// answered_in_sl / sl_calls, with answered_in_sl the answered calls that waited at most
// the queue's service_level and sl_calls = answered + abandoned - short_abandoned
// (overflowed, callback and unresolved entries are left out). asa_s is the mean wait of
// answered calls, avg_abandon_s the mean wait of abandoned ones. Handle time is the
// answering agent's on_call plus wrap_up time for that call (agent_state_changes);
// aht_calls counts the answered calls whose handle time is known (calls still on the
// line when the report ran are left out of aht_s, avg_talk_s and avg_wrap_s).
//
// Agents: time in each state from agent_state_changes, clipped to the day (a state
// still open when the report runs ends at that moment). staffed_s = ready + ringing +
// on call + wrap-up (logged in, not away); logged_in_s = staffed_s + away_s. calls
// counts the calls an agent went on_call for during the day, rona the agent.rona
// events. occupancy = (talk_s + wrap_up_s) / staffed_s.
//
// IVR: inbound calls of the day with at least one ivr.node_exit event. queued calls
// entered a queue; the others ended in the IVR, classified by their last node exit:
// completed (a hangup node played to its end), voicemail (message saved), callback
// (callback requested), transferred, caller_hangup (the caller left mid-flow) and other
// (errors, retries exhausted). refills_requested counts refill.requested events;
// section ivr_event counts every business event an IVR node logs (node "event:").
// Outbound dial attempts that run a flow are reported under their campaign instead.
//
// Campaigns: attempts dialed that day (contact_attempts.started_at); answered has an
// answer time, reached is a live (human) answer, machine an answering machine;
// abandon_rate = abandoned / reached (the TCPA ratio, for that day only). Dispositions
// of attempts still dialing are "in_progress". blocked counts the gate's refusals
// (dial_decisions, allowed = false) and blocked_contacts the distinct contacts refused.
//
// # CSV
//
// One RFC 4180 file in sections. Each section starts with a header row whose first
// field is "section"; its data rows carry the section name in that first field. Every
// row has the same number of fields (short rows are padded with empty fields), so any
// CSV reader and any spreadsheet open it; filter column A to keep one section. Sections,
// in order: meta, queue, agent, ivr, ivr_event, campaign, campaign_disposition,
// campaign_blocked. Counts are integers; durations are seconds with at most three
// decimals (millisecond precision); ratios are fractions between 0 and 1 rounded to four
// decimals, empty when undefined (no denominator). Times are RFC 3339 in site time.
//
// Nothing in a report identifies a patient: no phone numbers, no patient names or
// references, no collected digits, no interaction ids. Agent names are staff names.
package report
