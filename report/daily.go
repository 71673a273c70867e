package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// All names the rows that add up every queue, language, agent or campaign.
const All = "all"

// Unknown is the language shown for calls whose language was never logged.
const Unknown = "unknown"

// DefaultShortAbandon is the default short-abandon time: callers who hang up sooner
// are left out of the service level.
const DefaultShortAbandon = 10 * time.Second

// DB is what Daily needs from PostgreSQL (*pgxpool.Pool and *pgx.Conn have it).
type DB interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// DailyOptions are the parameters of one daily report.
type DailyOptions struct {
	Date Date
	// ShortAbandon: abandons after a shorter wait are short (left out of the service
	// level). Zero means DefaultShortAbandon; a negative value means none is short.
	ShortAbandon time.Duration
	// Now is when the report runs (default time.Now()): states still open end there.
	Now time.Time
}

// Report is one day's report. Durations have millisecond precision.
type Report struct {
	Site         string
	Date         Date
	TimeZone     string
	Start, End   time.Time // the local day, [Start, End)
	GeneratedAt  time.Time // DailyOptions.Now, in site time
	ShortAbandon time.Duration

	Queues       []QueueStats       // per queue and language, each queue ending with its All row
	Agents       []AgentStats       // per agent, then the All row
	IVR          []IVRStats         // per language, then the All row
	IVREvents    []EventCount       // per business event and language, each ending with its All row
	Campaigns    []CampaignStats    // per campaign, then the All row
	Dispositions []DispositionCount // per campaign and disposition
	Blocked      []BlockedCount     // per campaign and reason
}

// Complete reports whether the day had ended when the report ran.
func (r *Report) Complete() bool { return !r.GeneratedAt.Before(r.End) }

// Hours is the length of the day in hours (23, 24 or 25, or fractional in a few zones).
func (r *Report) Hours() float64 { return r.End.Sub(r.Start).Hours() }

// QueueStats are one queue's calls in one language (Queue or Language All for totals).
type QueueStats struct {
	Queue, Name, Language string
	ServiceLevel          time.Duration // the queue's threshold; 0 in the rows for all queues

	Offered, Answered, Abandoned, ShortAbandoned int
	Overflowed, Callbacks, Unresolved            int
	AnsweredInSL                                 int

	AnswerWait  time.Duration // total wait of answered calls
	AbandonWait time.Duration // total wait of abandoned calls
	AHTCalls    int           // answered calls whose handle time is known
	Talk, Wrap  time.Duration // their total talk and wrap-up time
}

// SLCalls is the service level's denominator: answered + abandoned - short abandoned.
func (q *QueueStats) SLCalls() int { return q.Answered + q.Abandoned - q.ShortAbandoned }

// AgentStats is one agent's day (Agent All for the total).
type AgentStats struct {
	Agent, Name                        string
	Calls, RONA                        int
	Talk, WrapUp, Ready, Ringing, Away time.Duration
}

// Staffed is the time logged in and not away.
func (a *AgentStats) Staffed() time.Duration { return a.Ready + a.Ringing + a.Talk + a.WrapUp }

// LoggedIn is the time logged in, away included.
func (a *AgentStats) LoggedIn() time.Duration { return a.Staffed() + a.Away }

// IVRStats are the IVR calls in one language (Language All for the total).
type IVRStats struct {
	Language                                                         string
	Calls, Queued                                                    int
	Completed, Voicemail, Callback, Transferred, CallerHangup, Other int
	Refills                                                          int
}

// EndedInIVR is the number of calls that ended in the IVR without queueing.
func (s *IVRStats) EndedInIVR() int { return s.Calls - s.Queued }

// EventCount is the number of one business event in one language.
type EventCount struct {
	Event, Language string
	Count           int
}

// CampaignStats are one campaign's attempts (Campaign All for the total).
type CampaignStats struct {
	Campaign                                                    string
	Attempts, Answered, Reached, Machine, Abandoned, InProgress int
	Blocked, BlockedContacts                                    int
}

// DispositionCount is the number of a campaign's attempts with one disposition.
type DispositionCount struct {
	Campaign, Disposition string
	Count                 int
}

// BlockedCount is the number of a campaign's dials the gate refused for one reason.
type BlockedCount struct {
	Campaign, Reason string
	Count, Contacts  int
}

// Daily builds the report of one local day from PostgreSQL.
func Daily(ctx context.Context, db DB, site Site, opts DailyOptions) (*Report, error) {
	if site.Location == nil {
		return nil, errors.New("report: site has no time zone")
	}
	if opts.Date == (Date{}) {
		return nil, errors.New("report: no date")
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	switch {
	case opts.ShortAbandon == 0:
		opts.ShortAbandon = DefaultShortAbandon
	case opts.ShortAbandon < 0:
		opts.ShortAbandon = 0
	}
	start, end := opts.Date.Bounds(site.Location)
	r := &Report{Site: site.Name, Date: opts.Date, TimeZone: site.Location.String(), Start: start, End: end,
		GeneratedAt: opts.Now.In(site.Location), ShortAbandon: opts.ShortAbandon}
	tx, err := db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("report: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	b := builder{ctx: ctx, tx: tx, site: &site, r: r, args: []any{start, end, opts.Now}}
	for _, step := range []struct {
		name string
		fn   func() error
	}{{"queues", b.queues}, {"agents", b.agents}, {"ivr", b.ivr}, {"campaigns", b.campaigns}} {
		if err := step.fn(); err != nil {
			return nil, fmt.Errorf("report: %s: %w", step.name, err)
		}
	}
	return r, nil
}

type builder struct {
	ctx  context.Context
	tx   pgx.Tx
	site *Site
	r    *Report
	args []any // start, end, now
}

// each runs sql and calls fn after scanning each row into dest.
func (b *builder) each(sql string, args []any, dest []any, fn func()) error {
	rows, err := b.tx.Query(b.ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		fn()
	}
	return rows.Err()
}

func ms(v int64) time.Duration { return time.Duration(v) * time.Millisecond }

func langLabel(l string) string {
	if l == "" {
		return Unknown
	}
	return l
}

// orderLanguages returns the site's languages, then the others seen (sorted, unknown last).
func (b *builder) orderLanguages(seen map[string]bool) []string {
	out := slices.Clone(b.site.Languages)
	var extra []string
	for l := range seen {
		if !slices.Contains(out, l) && l != Unknown {
			extra = append(extra, l)
		}
	}
	slices.Sort(extra)
	out = append(out, extra...)
	if seen[Unknown] {
		out = append(out, Unknown)
	}
	return out
}

func (b *builder) queues() error {
	type key struct{ queue, lang string }
	stats := map[key]*QueueStats{}
	get := func(q, l string) *QueueStats {
		k := key{q, l}
		s := stats[k]
		if s == nil {
			s = &QueueStats{Queue: q, Language: l}
			stats[k] = s
		}
		return s
	}
	seenQ, seenL := map[string]bool{}, map[string]bool{}
	var (
		queue, lang, outcome string
		wait, talk, wrap     int64
		closed               bool
	)
	err := b.each(queueVisitsSQL, b.args[:2], []any{&queue, &lang, &outcome, &wait, &talk, &wrap, &closed}, func() {
		lang = langLabel(lang)
		seenQ[queue], seenL[lang] = true, true
		qc, _ := b.site.queue(queue)
		for _, s := range []*QueueStats{get(queue, lang), get(queue, All), get(All, lang), get(All, All)} {
			s.Offered++
			w := ms(wait)
			switch {
			case outcome == "answered":
				s.Answered++
				s.AnswerWait += w
				if w <= qc.ServiceLevel {
					s.AnsweredInSL++
				}
				if closed {
					s.AHTCalls++
					s.Talk += ms(talk)
					s.Wrap += ms(wrap)
				}
			case outcome == "abandoned":
				s.Abandoned++
				s.AbandonWait += w
				if w < b.r.ShortAbandon {
					s.ShortAbandoned++
				}
			case outcome == "overflowed":
				s.Overflowed++
			case strings.HasPrefix(outcome, "callback"):
				s.Callbacks++
			default: // no queue.leave (yet), or an outcome this report does not know
				s.Unresolved++
			}
		}
	})
	if err != nil {
		return err
	}
	var order []Queue
	for _, q := range b.site.Queues {
		order = append(order, q)
		delete(seenQ, q.ID)
	}
	var extra []string
	for q := range seenQ {
		extra = append(extra, q)
	}
	slices.Sort(extra)
	for _, id := range extra {
		q, _ := b.site.queue(id)
		order = append(order, q)
	}
	order = append(order, Queue{ID: All})
	langs := append(b.orderLanguages(seenL), All)
	for _, q := range order {
		for _, l := range langs {
			s := get(q.ID, l)
			s.Name, s.ServiceLevel = q.Name, q.ServiceLevel
			b.r.Queues = append(b.r.Queues, *s)
		}
	}
	return nil
}

func (b *builder) agents() error {
	ids := make([]string, 0, len(b.site.Agents))
	for _, a := range b.site.Agents {
		ids = append(ids, a.ID)
	}
	stats := map[string]*AgentStats{}
	get := func(id string) *AgentStats {
		s := stats[id]
		if s == nil {
			s = &AgentStats{Agent: id, Name: b.site.agentName(id)}
			stats[id] = s
		}
		return s
	}
	var (
		agent, state string
		total        int64
	)
	err := b.each(agentTimeSQL, append(slices.Clone(b.args), ids), []any{&agent, &state, &total}, func() {
		s := get(agent)
		d := ms(total)
		switch state {
		case "ready":
			s.Ready += d
		case "offered":
			s.Ringing += d
		case "on_call":
			s.Talk += d
		case "wrap_up":
			s.WrapUp += d
		case "away":
			s.Away += d
		}
	})
	if err != nil {
		return err
	}
	var calls, rona int64
	err = b.each(agentCountsSQL, b.args[:2], []any{&agent, &calls, &rona}, func() {
		s := get(agent)
		s.Calls += int(calls)
		s.RONA += int(rona)
	})
	if err != nil {
		return err
	}
	var order []string
	for _, a := range b.site.Agents {
		order = append(order, a.ID)
	}
	var extra []string
	for id := range stats {
		if !slices.Contains(order, id) {
			extra = append(extra, id)
		}
	}
	slices.Sort(extra)
	sum := AgentStats{Agent: All}
	for _, id := range append(order, extra...) {
		s := *get(id)
		b.r.Agents = append(b.r.Agents, s)
		sum.Calls += s.Calls
		sum.RONA += s.RONA
		sum.Talk += s.Talk
		sum.WrapUp += s.WrapUp
		sum.Ready += s.Ready
		sum.Ringing += s.Ringing
		sum.Away += s.Away
	}
	b.r.Agents = append(b.r.Agents, sum)
	return nil
}

// ivrEnd classifies how a call that never queued left the IVR, from its last node exit.
func ivrEnd(s *IVRStats, kind, exit string, n int) {
	switch {
	case kind == "hangup" && exit == "ok":
		s.Completed += n
	case kind == "voicemail" && exit == "saved":
		s.Voicemail += n
	case kind == "callback_request" && exit == "ok":
		s.Callback += n
	case kind == "transfer" && exit == "ok":
		s.Transferred += n
	case exit == "hangup" || exit == "no_message":
		s.CallerHangup += n
	default:
		s.Other += n
	}
}

func (b *builder) ivr() error {
	stats := map[string]*IVRStats{}
	get := func(l string) *IVRStats {
		s := stats[l]
		if s == nil {
			s = &IVRStats{Language: l}
			stats[l] = s
		}
		return s
	}
	seen := map[string]bool{}
	var (
		lang, kind, exit string
		queued           bool
		n, refills       int64
	)
	err := b.each(ivrCallsSQL, b.args[:2], []any{&lang, &queued, &kind, &exit, &n, &refills}, func() {
		lang = langLabel(lang)
		seen[lang] = true
		for _, s := range []*IVRStats{get(lang), get(All)} {
			s.Calls += int(n)
			s.Refills += int(refills)
			if queued {
				s.Queued += int(n)
			} else {
				ivrEnd(s, kind, exit, int(n))
			}
		}
	})
	if err != nil {
		return err
	}
	for _, l := range append(b.orderLanguages(seen), All) {
		b.r.IVR = append(b.r.IVR, *get(l))
	}

	type key struct{ ev, lang string }
	counts := map[key]int{}
	events := map[string]bool{"refill.requested": true}
	seenEv := map[string]bool{}
	var ev string
	err = b.each(ivrEventsSQL, b.args[:2], []any{&ev, &lang, &n}, func() {
		lang = langLabel(lang)
		events[ev], seenEv[lang] = true, true
		counts[key{ev, lang}] += int(n)
		counts[key{ev, All}] += int(n)
	})
	if err != nil {
		return err
	}
	evs := make([]string, 0, len(events))
	for e := range events {
		evs = append(evs, e)
	}
	slices.Sort(evs)
	langs := b.orderLanguages(seenEv)
	for _, e := range evs {
		for _, l := range langs {
			if c, ok := counts[key{e, l}]; ok {
				b.r.IVREvents = append(b.r.IVREvents, EventCount{Event: e, Language: l, Count: c})
			}
		}
		b.r.IVREvents = append(b.r.IVREvents, EventCount{Event: e, Language: All, Count: counts[key{e, All}]})
	}
	return nil
}

func (b *builder) campaigns() error {
	stats := map[string]*CampaignStats{}
	get := func(c string) *CampaignStats {
		s := stats[c]
		if s == nil {
			s = &CampaignStats{Campaign: c}
			stats[c] = s
		}
		return s
	}
	for _, c := range b.site.Campaigns {
		get(c)
	}
	var (
		camp                                                        string
		attempts, answered, reached, machine, abandoned, inProgress int64
	)
	err := b.each(campaignSQL, b.args[:2],
		[]any{&camp, &attempts, &answered, &reached, &machine, &abandoned, &inProgress}, func() {
			s := get(camp)
			s.Attempts, s.Answered, s.Reached = int(attempts), int(answered), int(reached)
			s.Machine, s.Abandoned, s.InProgress = int(machine), int(abandoned), int(inProgress)
		})
	if err != nil {
		return err
	}
	var disp string
	var n, contacts int64
	err = b.each(dispositionSQL, b.args[:2], []any{&camp, &disp, &n}, func() {
		get(camp)
		b.r.Dispositions = append(b.r.Dispositions, DispositionCount{Campaign: camp, Disposition: disp, Count: int(n)})
	})
	if err != nil {
		return err
	}
	var subtotal bool
	err = b.each(blockedSQL, b.args[:2], []any{&camp, &disp, &subtotal, &n, &contacts}, func() {
		if subtotal { // a contact refused for two reasons is one blocked contact
			s := get(camp)
			s.Blocked, s.BlockedContacts = int(n), int(contacts)
			return
		}
		b.r.Blocked = append(b.r.Blocked, BlockedCount{Campaign: camp, Reason: disp, Count: int(n), Contacts: int(contacts)})
	})
	if err != nil {
		return err
	}
	slices.SortFunc(b.r.Dispositions, func(x, y DispositionCount) int {
		return cmp.Or(strings.Compare(x.Campaign, y.Campaign), strings.Compare(x.Disposition, y.Disposition))
	})
	slices.SortFunc(b.r.Blocked, func(x, y BlockedCount) int {
		return cmp.Or(strings.Compare(x.Campaign, y.Campaign), strings.Compare(x.Reason, y.Reason))
	})
	names := make([]string, 0, len(stats))
	for c := range stats {
		names = append(names, c)
	}
	slices.Sort(names)
	total := CampaignStats{Campaign: All}
	for _, c := range names {
		s := *stats[c]
		b.r.Campaigns = append(b.r.Campaigns, s)
		total.Attempts += s.Attempts
		total.Answered += s.Answered
		total.Reached += s.Reached
		total.Machine += s.Machine
		total.Abandoned += s.Abandoned
		total.InProgress += s.InProgress
		total.Blocked += s.Blocked
		total.BlockedContacts += s.BlockedContacts
	}
	b.r.Campaigns = append(b.r.Campaigns, total)
	return nil
}
