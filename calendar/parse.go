package calendar

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrSyntax is matched (errors.Is) by every parse error of this package.
var ErrSyntax = errors.New("calendar: syntax error")

// ErrInvalid is matched by errors from New and FromSpec for well-formed but
// inconsistent input: overlapping ranges, a date given twice, an empty closure.
var ErrInvalid = errors.New("calendar: invalid calendar")

// ParseError describes text that could not be parsed.
type ParseError struct {
	What  string // "time", "time range", "days", "date", "date-time"
	Input string
	Msg   string // what was expected
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("calendar: bad %s %q: %s", e.What, e.Input, e.Msg)
}

// Unwrap makes errors.Is(err, ErrSyntax) true.
func (e *ParseError) Unwrap() error { return ErrSyntax }

// Clock is a wall-clock time of day in minutes since midnight, 0 (00:00) to
// 1440 (24:00, allowed only as the end of a range).
type Clock int

// ClockAt returns the Clock for hour:minute.
func ClockAt(hour, minute int) Clock { return Clock(hour*60 + minute) }

// Midnight24 is 24:00, the end of a day.
const Midnight24 Clock = 24 * 60

// String formats c as HH:MM.
func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", int(c)/60, int(c)%60) }

// Duration returns c as the time since midnight (for say.TimeOfDay).
func (c Clock) Duration() time.Duration { return time.Duration(c) * time.Minute }

// ParseClock parses "HH:MM" (or "H:MM"), 00:00 to 24:00.
func ParseClock(s string) (Clock, error) {
	bad := &ParseError{What: "time", Input: s, Msg: "want HH:MM between 00:00 and 24:00"}
	hs, ms, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(hs) < 1 || len(hs) > 2 || len(ms) != 2 || !digits(hs) || !digits(ms) {
		return 0, bad
	}
	h, _ := strconv.Atoi(hs)
	m, _ := strconv.Atoi(ms)
	if m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, bad
	}
	return ClockAt(h, m), nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// Range is a daily opening span [Start, End) in wall-clock time. End may be
// 24:00. A Range whose End is before its Start crosses midnight ("22:00-02:00"
// runs from 22:00 to 02:00 the next day) and belongs to the day it starts on.
type Range struct {
	Start, End Clock
}

// String formats r as "HH:MM-HH:MM".
func (r Range) String() string { return r.Start.String() + "-" + r.End.String() }

// CrossesMidnight reports whether r ends on the next day.
func (r Range) CrossesMidnight() bool { return r.End < r.Start }

// Minutes returns the wall-clock length of r.
func (r Range) Minutes() int {
	if r.CrossesMidnight() {
		return int(Midnight24 - r.Start + r.End)
	}
	return int(r.End - r.Start)
}

func (r Range) validate() error {
	switch {
	case r.Start < 0 || r.Start >= Midnight24:
		return fmt.Errorf("%w: range %s starts outside 00:00-23:59", ErrInvalid, r)
	case r.End < 0 || r.End > Midnight24:
		return fmt.Errorf("%w: range %s ends outside 00:00-24:00", ErrInvalid, r)
	case r.Start == r.End:
		return fmt.Errorf("%w: range %s is empty (for a whole day write 00:00-24:00)", ErrInvalid, r)
	}
	return nil
}

// ParseRange parses "HH:MM-HH:MM". An end before the start crosses midnight
// ("22:00-02:00"); an end of 00:00 means midnight ("20:00-00:00" = "20:00-24:00").
// A whole day is "00:00-24:00"; equal start and end are rejected.
func ParseRange(s string) (Range, error) {
	bad := func(msg string) error { return &ParseError{What: "time range", Input: s, Msg: msg} }
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return Range{}, bad("want HH:MM-HH:MM, e.g. 08:00-20:00")
	}
	start, err := ParseClock(a)
	if err != nil {
		return Range{}, bad("start: want HH:MM, e.g. 08:00-20:00")
	}
	end, err := ParseClock(b)
	if err != nil {
		return Range{}, bad("end: want HH:MM, e.g. 08:00-20:00")
	}
	if start == Midnight24 {
		return Range{}, bad("a range cannot start at 24:00")
	}
	if end == 0 && start > 0 {
		end = Midnight24
	}
	if start == end {
		return Range{}, bad("start equals end; for a whole day write 00:00-24:00")
	}
	return Range{Start: start, End: end}, nil
}

// Days is a set of weekdays (bit i = time.Weekday(i)).
type Days uint8

// Common day sets.
const (
	Weekdays Days = 1<<time.Monday | 1<<time.Tuesday | 1<<time.Wednesday | 1<<time.Thursday | 1<<time.Friday
	Weekend  Days = 1<<time.Saturday | 1<<time.Sunday
	EveryDay Days = Weekdays | Weekend
)

// DaysOf returns the set holding the given weekdays.
func DaysOf(ds ...time.Weekday) Days {
	var d Days
	for _, w := range ds {
		d |= 1 << (uint(w) % 7)
	}
	return d
}

// Has reports whether w is in d.
func (d Days) Has(w time.Weekday) bool { return d&(1<<(uint(w)%7)) != 0 }

var dayAbbr = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// String lists the days Monday first: "mon,tue,sat".
func (d Days) String() string {
	var parts []string
	for i := 1; i <= 7; i++ {
		if d.Has(time.Weekday(i % 7)) {
			parts = append(parts, dayAbbr[i%7])
		}
	}
	return strings.Join(parts, ",")
}

func parseWeekday(s string) (time.Weekday, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	for i, a := range dayAbbr {
		if s == a || s == strings.ToLower(time.Weekday(i).String()) {
			return time.Weekday(i), true
		}
	}
	return 0, false
}

// ParseDays parses a comma-separated list of days and day ranges: "mon-fri",
// "sat", "mon,wed,fri", "sat-sun", "fri-mon" (wraps past Sunday), full names
// ("monday"), and the words "daily", "weekdays" and "weekends".
func ParseDays(s string) (Days, error) {
	bad := &ParseError{What: "days", Input: s,
		Msg: "want day names (mon tue wed thu fri sat sun), ranges like mon-fri, comma lists, or daily/weekdays/weekends"}
	var d Days
	for _, tok := range strings.Split(s, ",") {
		tok = strings.ToLower(strings.TrimSpace(tok))
		switch tok {
		case "daily", "everyday", "every day":
			d |= EveryDay
			continue
		case "weekdays":
			d |= Weekdays
			continue
		case "weekends", "weekend":
			d |= Weekend
			continue
		}
		a, b, isRange := strings.Cut(tok, "-")
		from, ok := parseWeekday(a)
		if !ok {
			return 0, bad
		}
		to := from
		if isRange {
			if to, ok = parseWeekday(b); !ok {
				return 0, bad
			}
		}
		for w := from; ; w = (w + 1) % 7 {
			d |= DaysOf(w)
			if w == to {
				break
			}
		}
	}
	return d, nil
}

// Date is a calendar date without a time zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// ParseDate parses "YYYY-MM-DD" and rejects dates that do not exist.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse("2006-01-02", strings.TrimSpace(s))
	if err != nil {
		return Date{}, &ParseError{What: "date", Input: s, Msg: "want an existing date as YYYY-MM-DD, e.g. 2026-12-25"}
	}
	return DateOf(t), nil
}

// String formats d as YYYY-MM-DD.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// AddDays returns d moved by n days.
func (d Date) AddDays(n int) Date {
	return DateOf(time.Date(d.Year, d.Month, d.Day+n, 12, 0, 0, 0, time.UTC))
}

// Weekday returns the day of the week of d.
func (d Date) Weekday() time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
}

// Before reports whether d is earlier than e.
func (d Date) Before(e Date) bool {
	if d.Year != e.Year {
		return d.Year < e.Year
	}
	if d.Month != e.Month {
		return d.Month < e.Month
	}
	return d.Day < e.Day
}

// ParseLocalTime parses "YYYY-MM-DD HH:MM" (or with a "T") as a wall-clock time
// in loc, with the same DST rule as the calendar (see Calendar).
func ParseLocalTime(s string, loc *time.Location) (time.Time, error) {
	bad := &ParseError{What: "date-time", Input: s, Msg: "want YYYY-MM-DD HH:MM, e.g. 2026-01-20 12:00"}
	ds, cs, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok {
		ds, cs, ok = strings.Cut(strings.TrimSpace(s), "T")
	}
	if !ok {
		return time.Time{}, bad
	}
	d, err := ParseDate(ds)
	if err != nil {
		return time.Time{}, bad
	}
	c, err := ParseClock(cs)
	if err != nil {
		return time.Time{}, bad
	}
	return wallInstant(loc, d, c), nil
}
