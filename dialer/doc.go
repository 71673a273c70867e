// Package dialer runs outbound campaigns (refill reminders, appointment confirmations) under a compliance gate, with pacing and answering-machine detection.
//
// The parts, in the order a contact meets them:
//
//   - Import reads a CSV of patients into campaign_contacts: phones in E.164
//     (nyaruka/phonenumbers, US numbers only), time zone from the record, else the ZIP
//     code, else the state, else the area code. When the zone is uncertain (a state
//     or area code that straddles a zone line) every candidate zone is kept and the
//     window must be open in all of them. Bad rows are reported by line and reason;
//     re-imports add nothing twice (a unique key over campaign, patient, phone and
//     purpose fields).
//   - Gate decides every dial: opt-outs (by phone or patient, read at dial time),
//     past appointments, max attempts, the calling window in the patient's local time
//     (08:00-21:00 ∩ state hours such as FL/OK/MD 08:00-20:00 ∩ campaign days and
//     hours ∩ pharmacy schedule, minus holidays; DST through calendar), the
//     per-phone daily and weekly caps across all campaigns (counted in the patient's
//     local days: today, and the last 7 days), and the minimum spacing. Every
//     decision, allowed or refused, is a dial_decisions row (in the leasing
//     transaction) and a dialer.decision event, with its reason code.
//   - Runner leases due contacts with SELECT ... FOR UPDATE SKIP LOCKED, takes a
//     per-phone advisory lock (so two campaigns cannot both pass a cap), gates them
//     and commits the attempt (state dialing) before the call is placed. While a call
//     lasts its node heartbeats the attempt's lease; an attempt whose lease expired is
//     closed by any runner as failed/unknown (the INVITE may have gone out) and the
//     contact waits for the retry delay and the spacing. A late outcome from a node
//     presumed dead is fenced off (only its opt-out is kept).
//   - Pacer decides how many calls to place: agentless (channels and CPS only),
//     progressive (one per ready agent, reserved before dialing) and predictive (dial
//     while the next call's chance of a live answer with no agent within 2 s of the
//     greeting is under a threshold; the threshold follows the abandon budget left
//     under the one-sided 95% Clopper-Pearson bound of the 30-day rate, counting the
//     abandons already committed by calls in flight; progressive while there are too
//     few live answers to know). Simulate runs the same Pacer and Estimator against a
//     discrete-event model.
//   - On an answer, package amd classifies person or machine; a machine gets the
//     minimum-necessary voicemail after the beep (pharmacy prompts and the callback
//     number only); a person runs the flow (agentless) or is connected to an agent, or,
//     when no agent comes within 2 s of the greeting, hears the identification and
//     opt-out message and counts as abandoned.
//
// The dialer imports no sip, media, call or routing code: it uses the Dialer, Call,
// Audio, FlowRunner, AgentPool and EventLog interfaces, which cmd wires.
package dialer
