// Package calendar answers "are we open at this instant, and when does that
// change?" for weekly opening hours in an IANA time zone with dated holidays,
// special hours and closures, and intersects open windows (the dialer's
// patient-local calling hours with campaign and pharmacy hours). IVR business
// hours, queues and the dialer share the one type.
//
// Rules, precisely:
//   - Weekly hours are Ranges of wall-clock time per weekday. A Range may cross
//     midnight ("22:00-02:00"); it belongs to the day it starts on.
//   - A dated rule (holiday or special hours) defines the whole open set of its
//     local date, 00:00-24:00: weekly hours of that date do not apply, and
//     neither does the spill of the previous evening's range past midnight. A
//     holiday is closed all day; special hours replace the day's hours (none =
//     closed all day).
//   - Closures are spans between two instants (e.g. a storm, 12:00 one day to
//     10:00 the next) and are removed from whatever would be open.
//   - Wall times are mapped to instants with one DST rule: the earliest instant
//     whose local clock reads that time or later. On a spring-forward day a
//     time inside the gap (02:30 in New York) is the end of the gap (03:00
//     EDT); on a fall-back day an ambiguous time (01:30) is its first
//     occurrence (EDT). So "00:00-24:00" lasts 23 h or 25 h on those days.
//
// A Calendar is immutable and safe for concurrent use.
package calendar

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Reason says why a calendar is open or closed at an instant.
type Reason string

// The reasons.
const (
	ReasonOpen    Reason = "open"
	ReasonClosed  Reason = "closed"  // outside the hours of the day
	ReasonHoliday Reason = "holiday" // the local date is a holiday (all day)
	// ReasonClosure means the weekly hours say open but a closure span or the
	// day's special hours say closed.
	ReasonClosure Reason = "closure"
)

// Status is the state of a calendar at an instant. Name is the name of the
// holiday, special day or closure that applies, if any.
type Status struct {
	Open   bool
	Reason Reason
	Name   string
}

type dayKind int

const (
	kindHoliday dayKind = iota + 1
	kindSpecial
)

type dayRule struct {
	kind   dayKind
	name   string
	ranges []Range
}

type closure struct {
	name string
	w    Window
}

// Calendar is a weekly schedule with dated exceptions in one time zone.
type Calendar struct {
	loc      *time.Location
	weekly   [7][]Range
	days     map[Date]dayRule
	closures []closure
	lastDay  Date // latest dated rule or closure end, bounds searches
}

type builder struct {
	c    *Calendar
	errs []error
}

// Option configures a Calendar in New.
type Option func(*builder)

// WithHours adds opening ranges on the given weekdays. It may be given several
// times; ranges on the same weekday must not overlap.
func WithHours(days Days, ranges ...Range) Option {
	return func(b *builder) {
		for _, r := range ranges {
			if err := r.validate(); err != nil {
				b.errs = append(b.errs, fmt.Errorf("%s: %w", days, err))
				continue
			}
			for w := time.Sunday; w <= time.Saturday; w++ {
				if days.Has(w) {
					b.c.weekly[w] = append(b.c.weekly[w], r)
				}
			}
		}
	}
}

func (b *builder) addDay(d Date, rule dayRule) {
	if _, dup := b.c.days[d]; dup {
		b.errs = append(b.errs, fmt.Errorf("%w: date %s is given more than once", ErrInvalid, d))
		return
	}
	for _, r := range rule.ranges {
		if err := r.validate(); err != nil {
			b.errs = append(b.errs, fmt.Errorf("%s: %w", d, err))
			return
		}
	}
	b.c.days[d] = rule
	if b.c.lastDay.Before(d) {
		b.c.lastDay = d
	}
}

// WithHoliday closes the calendar all day on local date d.
func WithHoliday(d Date, name string) Option {
	return func(b *builder) { b.addDay(d, dayRule{kind: kindHoliday, name: name}) }
}

// WithSpecialHours replaces the hours of local date d by ranges; with no ranges
// the day is closed (Reason closure where the weekly hours would be open).
func WithSpecialHours(d Date, name string, ranges ...Range) Option {
	return func(b *builder) {
		b.addDay(d, dayRule{kind: kindSpecial, name: name, ranges: slices.Clone(ranges)})
	}
}

// WithClosure closes the calendar from one instant to another (use
// ParseLocalTime for wall-clock input).
func WithClosure(name string, from, to time.Time) Option {
	return func(b *builder) {
		if !from.Before(to) {
			b.errs = append(b.errs, fmt.Errorf("%w: closure %q ends (%s) before it starts (%s)",
				ErrInvalid, name, to.Format(time.RFC3339), from.Format(time.RFC3339)))
			return
		}
		b.c.closures = append(b.c.closures, closure{name: name, w: Window{from, to}})
		if d := DateOf(to.In(b.c.loc)); b.c.lastDay.Before(d) {
			b.c.lastDay = d
		}
	}
}

// New builds a calendar in loc. All problems are reported together (errors.Join);
// each matches ErrInvalid.
func New(loc *time.Location, opts ...Option) (*Calendar, error) {
	if loc == nil {
		return nil, fmt.Errorf("%w: no time zone", ErrInvalid)
	}
	b := &builder{c: &Calendar{loc: loc, days: map[Date]dayRule{}}}
	for _, o := range opts {
		o(b)
	}
	c := b.c
	for w := range c.weekly {
		if err := sortCheck(c.weekly[w]); err != nil {
			b.errs = append(b.errs, fmt.Errorf("%s: %w", time.Weekday(w), err))
		}
	}
	for d, r := range c.days {
		if err := sortCheck(r.ranges); err != nil {
			b.errs = append(b.errs, fmt.Errorf("%s: %w", d, err))
		}
	}
	slices.SortFunc(c.closures, func(a, b closure) int { return a.w.Start.Compare(b.w.Start) })
	if len(b.errs) > 0 {
		return nil, errors.Join(b.errs...)
	}
	return c, nil
}

// sortCheck sorts one day's ranges and rejects overlaps between them.
func sortCheck(rs []Range) error {
	slices.SortFunc(rs, func(a, b Range) int { return cmp.Compare(a.Start, b.Start) })
	for i := 1; i < len(rs); i++ {
		prevEnd := int(rs[i-1].Start) + rs[i-1].Minutes()
		if int(rs[i].Start) < prevEnd {
			return fmt.Errorf("%w: ranges %s and %s overlap", ErrInvalid, rs[i-1], rs[i])
		}
	}
	return nil
}

// Location returns the calendar's time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// String summarises the calendar (for logs).
func (c *Calendar) String() string {
	n := 0
	for _, rs := range c.weekly {
		n += len(rs)
	}
	return fmt.Sprintf("calendar(%s, %d weekly ranges, %d dated, %d closures)", c.loc, n, len(c.days), len(c.closures))
}

// wallInstant maps a local date and clock to an instant: the earliest instant
// whose local clock reads that time or later (see the package doc).
func wallInstant(loc *time.Location, d Date, c Clock) time.Time {
	if c >= Midnight24 {
		d, c = d.AddDays(int(c/Midnight24)), c%Midnight24
	}
	h, m := int(c)/60, int(c)%60
	naive := time.Date(d.Year, d.Month, d.Day, h, m, 0, 0, time.UTC)
	reading := func(t time.Time) time.Time {
		lt := t.In(loc)
		return time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour(), lt.Minute(), lt.Second(), lt.Nanosecond(), time.UTC)
	}
	var best time.Time
	for _, probe := range []time.Duration{-36 * time.Hour, 0, 36 * time.Hour} {
		_, off := naive.Add(probe).In(loc).Zone()
		cand := naive.Add(-time.Duration(off) * time.Second)
		if reading(cand).Equal(naive) && (best.IsZero() || cand.Before(best)) {
			best = cand
		}
	}
	if !best.IsZero() {
		return best.In(loc)
	}
	// The wall time falls in a gap: answer the instant the gap ends.
	t := time.Date(d.Year, d.Month, d.Day, h, m, 0, 0, loc)
	start, end := t.ZoneBounds()
	if reading(t).After(naive) {
		return start.In(loc)
	}
	return end.In(loc)
}

type layer int

const (
	weeklyOnly layer = iota // weekly hours only
	withDays                // plus holidays and special hours
	withAll                 // plus closures
)

// windows returns the open windows within [from, to) using the given layers.
func (c *Calendar) windows(from, to time.Time, l layer) []Window {
	if !from.Before(to) {
		return nil
	}
	first := DateOf(from.In(c.loc)).AddDays(-1)
	last := DateOf(to.In(c.loc))
	var out []Window
	for d := first; !last.Before(d); d = d.AddDays(1) {
		ranges := c.weekly[d.Weekday()]
		if l >= withDays {
			if r, ok := c.days[d]; ok {
				ranges = r.ranges
			}
		}
		for _, r := range ranges {
			s := wallInstant(c.loc, d, r.Start)
			var e time.Time
			if r.CrossesMidnight() {
				next := d.AddDays(1)
				e = wallInstant(c.loc, next, r.End)
				if _, ok := c.days[next]; ok && l >= withDays {
					e = wallInstant(c.loc, next, 0) // the next date has its own rule
				}
			} else {
				e = wallInstant(c.loc, d, r.End)
			}
			if s.Before(from) {
				s = from
			}
			if e.After(to) {
				e = to
			}
			if s.Before(e) {
				out = append(out, Window{s.In(c.loc), e.In(c.loc)})
			}
		}
	}
	out = Normalize(out)
	if l >= withAll && len(c.closures) > 0 {
		cl := make([]Window, len(c.closures))
		for i, x := range c.closures {
			cl[i] = x.w
		}
		out = Subtract(out, cl)
	}
	return out
}

func (c *Calendar) openAt(t time.Time, l layer) bool {
	return len(c.windows(t, t.Add(time.Nanosecond), l)) > 0
}

// Windows returns the open windows within [from, to), sorted, merged and
// clipped to the bounds, in the calendar's location.
func (c *Calendar) Windows(from, to time.Time) []Window { return c.windows(from, to, withAll) }

// IsOpen reports whether the calendar is open at t.
func (c *Calendar) IsOpen(t time.Time) bool { return c.openAt(t, withAll) }

// Status returns the state at t and the next instant at which Open changes
// (zero if it does not change within the search horizon: about 400 days past
// t, or past the last dated rule if later).
func (c *Calendar) Status(t time.Time) (Status, time.Time) {
	open := c.openAt(t, withAll)
	st := Status{Open: open, Reason: ReasonClosed}
	rule, dated := c.days[DateOf(t.In(c.loc))]
	if dated {
		st.Name = rule.name
	}
	switch {
	case open:
		st.Reason = ReasonOpen
	case dated && rule.kind == kindHoliday:
		st.Reason = ReasonHoliday
	default:
		for _, x := range c.closures {
			if x.w.Contains(t) && c.openAt(t, withDays) {
				st.Reason, st.Name = ReasonClosure, x.name
				return st, c.nextChange(t, open)
			}
		}
		if dated && rule.kind == kindSpecial && c.openAt(t, weeklyOnly) {
			st.Reason = ReasonClosure
		}
	}
	return st, c.nextChange(t, open)
}

// NextOpen returns t if the calendar is open at t, else the next instant it
// opens; ok is false if it never opens within the search horizon.
func (c *Calendar) NextOpen(t time.Time) (next time.Time, ok bool) {
	if c.openAt(t, withAll) {
		return t, true
	}
	next = c.nextChange(t, false)
	return next, !next.IsZero()
}

const searchChunk = 32 * 24 * time.Hour

func (c *Calendar) horizon(t time.Time) time.Time {
	h := t.Add(400 * 24 * time.Hour)
	if last := wallInstant(c.loc, c.lastDay.AddDays(2), 0); last.After(h) {
		h = last
	}
	return h
}

func (c *Calendar) nextChange(t time.Time, open bool) time.Time {
	horizon := c.horizon(t)
	// Most changes are within a day: search a day first, then growing spans.
	step := 26 * time.Hour
	for cursor := t; cursor.Before(horizon); cursor, step = cursor.Add(step), min(2*step, searchChunk) {
		end := cursor.Add(step)
		ws := c.windows(cursor, end, withAll)
		switch {
		case !open && len(ws) > 0:
			return ws[0].Start
		case open && (len(ws) == 0 || ws[0].Start.After(cursor)):
			return cursor // closed at cursor: cannot happen for cursor == t
		case open && ws[0].End.Before(end):
			return ws[0].End
		}
	}
	return time.Time{}
}

// DayGroup is a run of consecutive weekdays (Monday first) with the same weekly
// ranges, for hours announcements (map to say.DayHours).
type DayGroup struct {
	From, To time.Weekday
	Ranges   []Range
}

// Weekly summarises the weekly hours Monday to Sunday, grouping consecutive
// days with equal ranges and leaving out closed days: mon-fri 08:00-20:00,
// sat 09:00-13:00.
func (c *Calendar) Weekly() []DayGroup {
	var out []DayGroup
	for i := 1; i <= 7; i++ {
		w := time.Weekday(i % 7)
		rs := c.weekly[w]
		if len(rs) == 0 {
			continue
		}
		if n := len(out); n > 0 && (out[n-1].To+1)%7 == w && slices.Equal(out[n-1].Ranges, rs) {
			out[n-1].To = w
			continue
		}
		out = append(out, DayGroup{From: w, To: w, Ranges: slices.Clone(rs)})
	}
	return out
}
