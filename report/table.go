package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// kind says how a column's values are written and shown.
type kind int

const (
	kText    kind = iota
	kCount        // integer
	kSeconds      // seconds, at most three decimals
	kRatio        // fraction 0..1, four decimals
	kTime         // RFC 3339
)

type column struct {
	name  string // CSV header
	label string // HTML header
	kind  kind
	id    bool // identifies the row (part of its key)
	html  bool // shown in the HTML tables
}

// section is one table of the report, values already formatted for CSV.
type section struct {
	name  string
	title string // HTML heading
	cols  []column
	rows  [][]string
}

// key returns the stable key of row i's column c: section/ids.../column (the HTML
// data-cell attribute and what the tests look values up by).
func (s *section) key(i, c int) string {
	parts := []string{s.name}
	for j, col := range s.cols {
		if col.id {
			parts = append(parts, s.rows[i][j])
		}
	}
	return strings.Join(append(parts, s.cols[c].name), "/")
}

// ---- value formatting (exact, locale-free) ----

// fmtMillis writes ms milliseconds as seconds with at most three decimals.
func fmtMillis(ms int64) string {
	sign := ""
	if ms < 0 {
		sign, ms = "-", -ms
	}
	s := fmt.Sprintf("%s%d.%03d", sign, ms/1000, ms%1000)
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

func millis(d time.Duration) int64 { return d.Round(time.Millisecond).Milliseconds() }

func fmtDur(d time.Duration) string { return fmtMillis(millis(d)) }

// avgDur is total/n rounded to the millisecond (half up), or "" when n is 0.
func avgDur(total time.Duration, n int) string {
	if n <= 0 {
		return ""
	}
	t, k := millis(total), int64(n)
	return fmtMillis((2*t + k) / (2 * k))
}

// ratio is num/den rounded to four decimals (half up), or "" when den is 0.
func ratio(num, den int64) string {
	if den <= 0 || num < 0 {
		return ""
	}
	r := (num*20000 + den) / (2 * den) // ten-thousandths
	s := fmt.Sprintf("%d.%04d", r/10000, r%10000)
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

func itoa(n int) string { return strconv.Itoa(n) }

// sections lays the report out as tables: the CSV file and the HTML tables.
func (r *Report) sections() []section {
	t := func(name, label string, id, html bool) column { return column{name, label, kText, id, html} }
	n := func(name, label string) column { return column{name, label, kCount, false, true} }
	sec := func(name, label string) column { return column{name, label, kSeconds, false, true} }
	rat := func(name, label string) column { return column{name, label, kRatio, false, true} }
	hide := func(c column) column { c.html = false; return c }

	meta := section{name: "meta", title: "Report", cols: []column{
		t("site", "Site", false, true), t("date", "Date", false, true), t("timezone", "Time zone", false, true),
		{"day_start", "Day starts", kTime, false, true}, {"day_end", "Day ends", kTime, false, true},
		t("day_hours", "Hours in the day", false, true), sec("short_abandon_s", "Short abandon under"),
		{"generated_at", "Generated", kTime, false, true}, t("complete", "Day complete", false, true)}}
	meta.rows = append(meta.rows, []string{r.Site, r.Date.String(), r.TimeZone,
		r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339),
		strconv.FormatFloat(r.Hours(), 'f', -1, 64), fmtDur(r.ShortAbandon),
		r.GeneratedAt.Truncate(time.Second).Format(time.RFC3339), strconv.FormatBool(r.Complete())})

	queue := section{name: "queue", title: "Queues", cols: []column{
		t("queue", "Queue", true, true), t("queue_name", "Name", false, false), t("language", "Language", true, true),
		n("offered", "Offered"), n("answered", "Answered"), n("abandoned", "Abandoned"),
		n("short_abandoned", "Short aband."), n("overflowed", "Overflowed"), n("callbacks", "Callbacks"),
		n("unresolved", "Unresolved"), sec("sl_threshold_s", "SL threshold"),
		n("answered_in_sl", "Answered in SL"), hide(n("sl_calls", "SL calls")), rat("service_level", "Service level"),
		sec("asa_s", "ASA"), sec("avg_abandon_s", "Avg abandon wait"), hide(n("aht_calls", "AHT calls")),
		sec("aht_s", "AHT"), sec("avg_talk_s", "Avg talk"), sec("avg_wrap_s", "Avg wrap-up")}}
	for _, q := range r.Queues {
		thr := ""
		if q.ServiceLevel > 0 {
			thr = fmtDur(q.ServiceLevel)
		}
		queue.rows = append(queue.rows, []string{q.Queue, q.Name, q.Language,
			itoa(q.Offered), itoa(q.Answered), itoa(q.Abandoned), itoa(q.ShortAbandoned), itoa(q.Overflowed),
			itoa(q.Callbacks), itoa(q.Unresolved), thr, itoa(q.AnsweredInSL), itoa(q.SLCalls()),
			ratio(int64(q.AnsweredInSL), int64(q.SLCalls())), avgDur(q.AnswerWait, q.Answered),
			avgDur(q.AbandonWait, q.Abandoned), itoa(q.AHTCalls), avgDur(q.Talk+q.Wrap, q.AHTCalls),
			avgDur(q.Talk, q.AHTCalls), avgDur(q.Wrap, q.AHTCalls)})
	}

	agent := section{name: "agent", title: "Agents", cols: []column{
		t("agent", "Agent", true, true), t("agent_name", "Name", false, true),
		n("calls", "Calls"), sec("talk_s", "Talk"), sec("wrap_up_s", "Wrap-up"), sec("ready_s", "Ready"),
		sec("ringing_s", "Ringing"), sec("away_s", "Away"), sec("staffed_s", "Staffed"),
		sec("logged_in_s", "Logged in"), n("rona", "RONA"), rat("occupancy", "Occupancy")}}
	for _, a := range r.Agents {
		agent.rows = append(agent.rows, []string{a.Agent, a.Name, itoa(a.Calls), fmtDur(a.Talk), fmtDur(a.WrapUp),
			fmtDur(a.Ready), fmtDur(a.Ringing), fmtDur(a.Away), fmtDur(a.Staffed()), fmtDur(a.LoggedIn()),
			itoa(a.RONA), ratio(millis(a.Talk+a.WrapUp), millis(a.Staffed()))})
	}

	ivr := section{name: "ivr", title: "IVR", cols: []column{
		t("language", "Language", true, true), n("ivr_calls", "IVR calls"), n("queued", "Queued"),
		n("ended_in_ivr", "Ended in IVR"), n("completed", "Completed"), n("voicemail", "Voicemail"),
		n("callback", "Callback"), n("transferred", "Transferred"), n("caller_hangup", "Caller hung up"),
		n("other", "Other"), n("refills_requested", "Refills requested")}}
	for _, s := range r.IVR {
		ivr.rows = append(ivr.rows, []string{s.Language, itoa(s.Calls), itoa(s.Queued), itoa(s.EndedInIVR()),
			itoa(s.Completed), itoa(s.Voicemail), itoa(s.Callback), itoa(s.Transferred), itoa(s.CallerHangup),
			itoa(s.Other), itoa(s.Refills)})
	}

	ivrEv := section{name: "ivr_event", title: "IVR business events", cols: []column{
		t("event", "Event", true, true), t("language", "Language", true, true), n("count", "Count")}}
	for _, e := range r.IVREvents {
		ivrEv.rows = append(ivrEv.rows, []string{e.Event, e.Language, itoa(e.Count)})
	}

	camp := section{name: "campaign", title: "Campaigns", cols: []column{
		t("campaign", "Campaign", true, true), n("attempts", "Attempts"), n("answered", "Answered"),
		n("reached", "Reached (live)"), n("machine", "Machine"), n("abandoned", "Abandoned"),
		rat("abandon_rate", "Abandon rate"), n("in_progress", "In progress"), n("blocked", "Blocked"),
		n("blocked_contacts", "Blocked contacts")}}
	for _, c := range r.Campaigns {
		camp.rows = append(camp.rows, []string{c.Campaign, itoa(c.Attempts), itoa(c.Answered), itoa(c.Reached),
			itoa(c.Machine), itoa(c.Abandoned), ratio(int64(c.Abandoned), int64(c.Reached)), itoa(c.InProgress),
			itoa(c.Blocked), itoa(c.BlockedContacts)})
	}

	disp := section{name: "campaign_disposition", title: "Campaign dispositions", cols: []column{
		t("campaign", "Campaign", true, true), t("disposition", "Disposition", true, true), n("count", "Attempts")}}
	for _, d := range r.Dispositions {
		disp.rows = append(disp.rows, []string{d.Campaign, d.Disposition, itoa(d.Count)})
	}

	blk := section{name: "campaign_blocked", title: "Dials blocked by the compliance gate", cols: []column{
		t("campaign", "Campaign", true, true), t("reason", "Reason", true, true), n("count", "Decisions"),
		n("contacts", "Contacts")}}
	for _, b := range r.Blocked {
		blk.rows = append(blk.rows, []string{b.Campaign, b.Reason, itoa(b.Count), itoa(b.Contacts)})
	}
	return []section{meta, queue, agent, ivr, ivrEv, camp, disp, blk}
}
