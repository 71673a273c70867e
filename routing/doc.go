// Package routing assigns waiting callers to agents by skill, language and priority,
// and tracks agent state.
//
// A Router owns every routing decision in one goroutine (Run). It is fed by commands
// (a caller enqueued or abandoned, an agent logging in, going ready or away, an offer
// result, a call ending) and by its own timers, read from an injectable Clock so that
// tests run on a fake clock. Blocking work (ringing an agent, placing a callback) runs
// in goroutines whose results come back as commands.
//
// Routing never imports the SIP or media layers. The glue implements:
//
//   - Connector: ring an agent for a waiting caller and bridge them if the agent answers;
//   - Presence: is an agent's softphone registered;
//   - Callbacker: place a patient callback when its turn comes;
//   - OptOuts and Hours (an *calendar.Calendar fits) to re-check a callback.
//
// State shared by several careline nodes (agent state, queue entries) lives behind the
// Store interface: MemoryStore for one node, routing/redisstore for several. An agent is
// offered a call only through Store.Claim, which atomically moves it from ready (with no
// call) to offered: one agent, one call, whichever node asks.
//
// Policy, precisely:
//
//   - Eligibility: an agent is eligible for a caller if it holds every skill the queue
//     requires at the minimum level and speaks the caller's language (language: caller),
//     given the relaxation step reached by the caller's wait. A step replaces the
//     non-role requirements and/or the language rule; role requirements (skills declared
//     role: true, e.g. pharmacist, nurse) always apply and are never relaxed.
//   - Caller order: urgent before normal, then by arrival (EnqueuedAt), then by id. A call
//     whose offer fails keeps its place, so it is back at the head of the line it was
//     taken from. Anti-starvation: a caller who has waited the queue's starvation_wait is
//     ordered as if urgent, so it goes ahead of every urgent caller who arrived after it.
//   - Callers are considered in that order across all queues; a caller no free agent can
//     serve does not block the callers behind it.
//   - Agent choice: among eligible ready agents whose phone is registered, the one idle
//     longest, where each matched soft preference counts as extra idle time (bonus);
//     ties go to the higher skill level on the queue's required skills, then to the lower
//     agent id. Idle time starts when the agent last became ready.
//   - An offer not answered within the queue's ring_timeout is cancelled: the agent goes
//     away with reason rona. A 488 (no common codec) makes the agent away(no_codec); a
//     decline away(rejected); an unreachable phone away(unreachable). The caller keeps
//     its place and the next agent is offered.
//   - After max_wait the caller overflows (another queue, where its wait restarts;
//     voicemail; or a callback keeping its place).
//   - A callback entry keeps its place; when it reaches an agent the Router checks the
//     queue's hours and claims the agent, then (in the offer goroutine) the opt-out list,
//     and only then asks the Callbacker to call.
//   - Estimated wait is announced only when stable: at least min_samples recent
//     inter-answer intervals inside the window, taken while callers were queued, with a
//     relative standard error of the mean below max_relative_error. It is an upper
//     figure (mean plus one standard error, times position), rounded up to a minute and
//     capped.
package routing
