package dialer

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/careline/careline/calendar"
	"github.com/google/uuid"
)

// Decision is the compliance gate's verdict on one dial, recorded whether allowed or
// refused. Detail holds the inputs (counts, zones, windows), never PHI.
type Decision struct {
	ID      uuid.UUID
	At      time.Time
	Allowed bool
	Reason  Reason
	// LocalTime is the patient's wall clock as judged (first candidate zone), RFC 3339.
	LocalTime string
	// Next is the earliest instant the contact may be tried again (zero: never).
	Next time.Time
	// Final means the contact must never be dialed for this campaign again
	// (opted_out, max_attempts, expired).
	Final  bool
	Detail map[string]any
}

// String formats the decision for logs.
func (d Decision) String() string {
	if d.Allowed {
		return fmt.Sprintf("allowed at %s", d.LocalTime)
	}
	return fmt.Sprintf("refused %s at %s (next %s)", d.Reason, d.LocalTime, d.Next.Format(time.RFC3339))
}

// Gate decides whether a contact may be dialed now: calling window in the patient's
// local time (federal hours ∩ state hours ∩ campaign window ∩ pharmacy schedule, minus
// holidays, in every candidate zone, DST-correct through calendar), opt-outs,
// per-phone daily and weekly caps across all campaigns, max attempts and spacing.
// It is safe for concurrent use.
type Gate struct {
	rules   Rules
	metrics *Metrics
	mu      sync.Mutex
	cals    map[calKey]*calendar.Calendar
}

type calKey struct {
	camp  *Campaign
	zone  string
	state string
}

// GateOption configures NewGate.
type GateOption func(*Gate)

// WithGateMetrics counts refusals in careline_compliance_blocked_total.
func WithGateMetrics(m *Metrics) GateOption { return func(g *Gate) { g.metrics = m } }

// NewGate returns a gate applying rules.
func NewGate(rules Rules, opts ...GateOption) *Gate {
	g := &Gate{rules: rules, cals: map[calKey]*calendar.Calendar{}}
	for _, o := range opts {
		o(g)
	}
	return g
}

// Rules returns the gate's rules.
func (g *Gate) Rules() Rules { return g.rules }

// String names the gate.
func (g *Gate) String() string {
	return fmt.Sprintf("gate(%s, %d/day, %d/week)", g.rules.CallingHours, g.rules.DailyCap, g.rules.WeeklyCap)
}

// calendarFor returns the patient-local calendar of a campaign in one zone: the
// federal hours narrowed by the state's, on the campaign's days and hours, closed on
// the global and campaign holidays. Calendars are built once and cached.
func (g *Gate) calendarFor(c *Campaign, zone, state string) (*calendar.Calendar, error) {
	k := calKey{c, zone, state}
	g.mu.Lock()
	defer g.mu.Unlock()
	if cal, ok := g.cals[k]; ok {
		return cal, nil
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("dialer: zone %q: %w", zone, err)
	}
	legal := g.rules.CallingHours
	if st, ok := g.rules.StateHours[state]; ok {
		legal = intersectRange(legal, st)
	}
	var opts []calendar.Option
	for _, h := range c.Hours {
		if r := intersectRange(legal, h); r.Start < r.End {
			opts = append(opts, calendar.WithHours(c.Days, r))
		}
	}
	seen := map[calendar.Date]bool{}
	for _, d := range append(append([]calendar.Date(nil), g.rules.Holidays...), c.Holidays...) {
		if !seen[d] {
			seen[d] = true
			opts = append(opts, calendar.WithHoliday(d, "holiday"))
		}
	}
	cal, err := calendar.New(loc, opts...)
	if err != nil {
		return nil, fmt.Errorf("dialer: campaign %s window: %w", c.Name, err)
	}
	g.cals[k] = cal
	return cal, nil
}

// intersectRange intersects two same-day ranges (neither crosses midnight).
func intersectRange(a, b calendar.Range) calendar.Range {
	return calendar.Range{Start: max(a.Start, b.Start), End: min(a.End, b.End)}
}

// Window applies the time rules only: is now inside the calling window in every one of
// the contact's zones (and the pharmacy's hours)? It needs no database.
func (g *Gate) Window(c *Campaign, ct *Contact, now time.Time) Decision {
	d := g.newDecision(ct, now)
	if len(ct.Zones) == 0 {
		return g.refuse(d, ReasonOutsideWindow, time.Time{}, true, "no time zone")
	}
	var cals []*calendar.Calendar
	for _, z := range ct.Zones {
		cal, err := g.calendarFor(c, z, ct.State)
		if err != nil {
			return g.refuse(d, ReasonOutsideWindow, time.Time{}, true, err.Error())
		}
		cals = append(cals, cal)
	}
	if c.Schedule != nil {
		cals = append(cals, c.Schedule)
	}
	if len(calendar.Common(now, now.Add(time.Second), cals...)) > 0 {
		d.Allowed, d.Reason = true, ReasonAllowed
		return d
	}
	reason := ReasonOutsideWindow
	for _, cal := range cals {
		if st, _ := cal.Status(now); st.Reason == calendar.ReasonHoliday {
			reason = ReasonHoliday
		}
	}
	next, ok := calendar.NextCommonOpen(now, now.Add(35*24*time.Hour), cals...)
	if !ok {
		next = now.Add(24 * time.Hour) // look again tomorrow
	}
	return g.refuse(d, reason, next, false, "")
}

func (g *Gate) newDecision(ct *Contact, now time.Time) Decision {
	d := Decision{ID: newID(), At: now, Detail: map[string]any{"zones": ct.Zones, "state": ct.State}}
	if len(ct.Zones) > 0 {
		if loc, err := time.LoadLocation(ct.Zones[0]); err == nil {
			d.LocalTime = now.In(loc).Format(time.RFC3339)
		}
	}
	return d
}

func (g *Gate) refuse(d Decision, r Reason, next time.Time, final bool, note string) Decision {
	d.Allowed, d.Reason, d.Next, d.Final = false, r, next, final
	if note != "" {
		d.Detail["note"] = note
	}
	return d
}

// localDay returns the patient's local date at now (first zone) as midnight UTC,
// and the instant the next local day starts.
func localDay(ct *Contact, now time.Time) (time.Time, time.Time) {
	loc := time.UTC
	if len(ct.Zones) > 0 {
		if l, err := time.LoadLocation(ct.Zones[0]); err == nil {
			loc = l
		}
	}
	lt := now.In(loc)
	day := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, time.UTC)
	next := time.Date(lt.Year(), lt.Month(), lt.Day()+1, 0, 0, 0, 0, loc)
	return day, next
}

// Check applies every rule. q must see the phone's attempts and opt-outs; the runner
// passes the leasing transaction, which holds a per-phone lock so that two campaigns
// cannot both pass a cap for the same phone. Refusals are counted in
// careline_compliance_blocked_total.
func (g *Gate) Check(ctx context.Context, q Querier, c *Campaign, ct *Contact, now time.Time) (Decision, error) {
	d, err := g.check(ctx, q, c, ct, now)
	if err == nil && !d.Allowed && g.metrics != nil {
		g.metrics.blocked.WithLabelValues(c.Name, string(d.Reason)).Inc()
	}
	return d, err
}

func (g *Gate) check(ctx context.Context, q Querier, c *Campaign, ct *Contact, now time.Time) (Decision, error) {
	today, tomorrow := localDay(ct, now)
	h, err := loadHistory(ctx, q, ct.Phone, ct.PatientRef, today)
	if err != nil {
		return Decision{}, err
	}
	d := g.newDecision(ct, now)
	d.Detail["today"], d.Detail["week"], d.Detail["attempts"] = h.today, h.week, ct.Attempts
	switch {
	case h.optedOut:
		return g.refuse(d, ReasonOptedOut, time.Time{}, true, ""), nil
	case ct.AppointmentAt != nil && !ct.AppointmentAt.After(now):
		return g.refuse(d, ReasonExpired, time.Time{}, true, ""), nil
	case ct.Attempts >= c.MaxAttempts:
		return g.refuse(d, ReasonMaxAttempts, time.Time{}, true, ""), nil
	}
	w := g.Window(c, ct, now)
	if !w.Allowed {
		w.ID, w.Detail = d.ID, mergeDetail(d.Detail, w.Detail)
		return w, nil
	}
	if g.rules.DailyCap > 0 && h.today >= g.rules.DailyCap {
		return g.refuse(d, ReasonDailyCap, tomorrow, false, ""), nil
	}
	if g.rules.WeeklyCap > 0 && h.week >= g.rules.WeeklyCap {
		next := tomorrow
		if h.oldest != nil {
			// the oldest call of the week leaves the 7-day window at local midnight 7 days on
			o := *h.oldest
			loc := tomorrow.Location()
			next = time.Date(o.Year(), o.Month(), o.Day()+7, 0, 0, 0, 0, loc)
		}
		return g.refuse(d, ReasonWeeklyCap, next, false, ""), nil
	}
	if h.last != nil && now.Before(h.last.Add(c.MinSpacing)) {
		return g.refuse(d, ReasonSpacing, h.last.Add(c.MinSpacing), false, ""), nil
	}
	d.Allowed, d.Reason = true, ReasonAllowed
	return d, nil
}

func mergeDetail(a, b map[string]any) map[string]any {
	for k, v := range b {
		a[k] = v
	}
	return a
}
